import { describe, expect, it } from 'vitest'
import { EMPTY_CIDR_LIST, isForbiddenAddress, parseCidrList } from '../../src/net/cidr.js'

describe('isForbiddenAddress', () => {
  const rows: Array<[ip: string, forbidden: boolean]> = [
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['10.0.0.1', true],
    ['10.255.255.255', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['172.15.255.255', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['169.254.0.1', true],
    ['100.64.0.1', true],
    ['100.127.255.255', true],
    ['100.128.0.1', false],
    ['100.100.100.200', true],
    ['0.0.0.0', true],
    ['0.1.2.3', true],
    ['224.0.0.1', true],
    ['239.255.255.250', true],
    ['255.255.255.255', true],
    ['240.0.0.1', true],
    ['192.0.2.10', true],
    ['198.18.0.1', true],
    ['8.8.8.8', false],
    ['1.1.1.1', false],
    ['93.184.216.34', false],
    ['::1', true],
    ['::', true],
    ['0:0:0:0:0:0:0:1', true],
    ['fe80::1', true],
    ['febf::1', true],
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['fd00:ec2::254', true],
    ['ff02::1', true],
    ['2001:db8::1', true],
    ['2606:4700:4700::1111', false],
    ['2001:4860:4860::8888', false],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['0:0:0:0:0:ffff:7f00:0001', true],
    ['::ffff:10.1.2.3', true],
    ['::ffff:169.254.169.254', true],
    ['::ffff:192.168.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['::127.0.0.1', true],
    ['64:ff9b::127.0.0.1', true],
    ['64:ff9b::a9fe:a9fe', true],
    ['64:ff9b::8.8.8.8', false],
    ['2002:7f00:1::', true], // 6to4 of 127.0.0.1
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', true], // Teredo
    ['64:ff9b:1::a00:1', true], // local-use NAT64 of 10.0.0.1
    ['[::1]', true],
    ['localhost', true],
    ['not an ip', true],
    ['', true],
  ]
  it.each(rows)('%s → forbidden=%s', (ip, forbidden) => {
    expect(isForbiddenAddress(ip, EMPTY_CIDR_LIST)).toBe(forbidden)
  })

  it('an allowlisted range opens exactly that range, in every form of the address', () => {
    const allow = parseCidrList('10.1.0.0/16, fd00:1::/32')
    expect(isForbiddenAddress('10.1.2.3', allow)).toBe(false)
    expect(isForbiddenAddress('::ffff:10.1.2.3', allow)).toBe(false)
    expect(isForbiddenAddress('64:ff9b::10.1.2.3', allow)).toBe(false)
    expect(isForbiddenAddress('10.2.0.1', allow)).toBe(true)
    expect(isForbiddenAddress('fd00:1::5', allow)).toBe(false)
    expect(isForbiddenAddress('fd00:2::5', allow)).toBe(true)
    expect(isForbiddenAddress('127.0.0.1', allow)).toBe(true)
  })

  it('a bare address in the allowlist is a single host', () => {
    const allow = parseCidrList('192.168.1.20')
    expect(isForbiddenAddress('192.168.1.20', allow)).toBe(false)
    expect(isForbiddenAddress('192.168.1.21', allow)).toBe(true)
  })
})

describe('parseCidrList', () => {
  it('parses, trims and skips empty entries', () => {
    expect(parseCidrList(' 10.0.0.0/8 ,, ::1/128,192.168.0.1 ').cidrs).toEqual(['10.0.0.0/8', '::1/128', '192.168.0.1/32'])
    expect(parseCidrList('').cidrs).toEqual([])
  })

  it.each(['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/1', 'example.com/8', '::1/129', '10.0.0.256/8', '10.0.0.0/8.5', '10.0.0.0/-1', 'fe80::/x'])(
    'rejects %s naming the entry',
    (entry) => {
      expect(() => parseCidrList(`127.0.0.0/8,${entry}`)).toThrow(entry)
    },
  )
})
