import { BlockList, isIP } from 'node:net'

/** A parsed set of CIDR ranges; `cidrs` keeps the canonical text for logs and config dumps. */
export interface CidrList {
  readonly cidrs: readonly string[]
  contains(ip: string): boolean
}

// RFC 6052 well-known NAT64 prefix: 64:ff9b::a.b.c.d reaches a.b.c.d on a NAT64 network, so every IPv4 range is
// mirrored into it (IPv4-mapped ::ffff:a.b.c.d needs no mirror: BlockList already matches it against IPv4 rules).
const NAT64_PREFIX = '64:ff9b::'

interface Cidr {
  address: string
  prefix: number
  family: 'ipv4' | 'ipv6'
}

function parseCidr(entry: string): Cidr {
  const [address = '', prefixText, extra] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || extra !== undefined) throw new Error(`Invalid CIDR "${entry}": not an IP address`)
  const max = version === 4 ? 32 : 128
  const prefix = prefixText === undefined ? max : Number(prefixText)
  if (prefixText === '' || !Number.isInteger(prefix) || prefix < 0 || prefix > max || !/^\d*$/.test(prefixText ?? '')) {
    throw new Error(`Invalid CIDR "${entry}": prefix length must be an integer from 0 to ${max}`)
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}

function buildCidrList(cidrs: readonly Cidr[]): CidrList {
  const blockList = new BlockList()
  for (const { address, prefix, family } of cidrs) {
    blockList.addSubnet(address, prefix, family)
    if (family === 'ipv4') blockList.addSubnet(`${NAT64_PREFIX}${address}`, 96 + prefix, 'ipv6')
  }
  return Object.freeze({
    cidrs: Object.freeze(cidrs.map((c) => `${c.address}/${c.prefix}`)),
    contains(ip: string): boolean {
      const version = isIP(ip)
      if (version === 0) return false
      return blockList.check(ip, version === 4 ? 'ipv4' : 'ipv6')
    },
  })
}

/** Parses "10.0.0.0/8, fd00::/8, 192.168.1.5" (a bare address is a single host). Throws an Error naming the bad entry. */
export function parseCidrList(list: string): CidrList {
  const entries = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  return buildCidrList(entries.map(parseCidr))
}

export const EMPTY_CIDR_LIST: CidrList = parseCidrList('')

const FORBIDDEN = parseCidrList(
  [
    // IPv4
    '0.0.0.0/8', // "this network", unspecified
    '10.0.0.0/8',
    '100.64.0.0/10', // CGNAT; also Alibaba's metadata 100.100.100.200
    '127.0.0.0/8',
    '169.254.0.0/16', // link-local, cloud metadata 169.254.169.254
    '172.16.0.0/12',
    '192.0.0.0/24', // IETF protocol assignments (incl. Oracle metadata 192.0.0.192)
    '192.0.2.0/24', // TEST-NET-1
    '192.88.99.0/24', // 6to4 relay anycast
    '192.168.0.0/16',
    '198.18.0.0/15', // benchmarking
    '198.51.100.0/24', // TEST-NET-2
    '203.0.113.0/24', // TEST-NET-3
    '224.0.0.0/4', // multicast
    '240.0.0.0/4', // reserved, incl. broadcast 255.255.255.255
    // IPv6
    '::/128', // unspecified
    '::1/128', // loopback
    '::/96', // deprecated IPv4-compatible addresses
    '100::/64', // discard
    '2001:db8::/32', // documentation
    // Forms that embed an IPv4 address the connection may end up at, whatever it is (deprecated transition
    // mechanisms; no webhook receiver needs them): Teredo, 6to4, and the local-use NAT64 prefix (RFC 8215).
    '2001::/32',
    '2002::/16',
    '64:ff9b:1::/48',
    'fc00::/7', // ULA, incl. AWS metadata fd00:ec2::254
    'fe80::/10', // link-local
    'fec0::/10', // deprecated site-local
    'ff00::/8', // multicast
  ].join(','),
)

/**
 * True when an outbound connection to `ip` must be refused: loopback, private, link-local, CGNAT, ULA,
 * unspecified, multicast, broadcast, reserved, metadata and the IPv4-mapped / NAT64 forms of all of them,
 * unless `allow` contains the address. Anything that is not an IP address is forbidden (fail closed).
 */
export function isForbiddenAddress(ip: string, allow: CidrList): boolean {
  const address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  if (isIP(address) === 0) return true
  if (allow.contains(address)) return false
  return FORBIDDEN.contains(address)
}
