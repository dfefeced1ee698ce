import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import { Agent, buildConnector, Pool } from 'undici'
import { isForbiddenAddress, type CidrList } from './cidr.js'
import { SsrfForbiddenError } from './ssrf-error.js'

export interface GuardedAgentOptions {
  allow: CidrList
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  bodyTimeoutMs?: number
  /** Connections per origin. */
  connections?: number
  /** Responses larger than this fail with UND_ERR_RES_EXCEEDED_MAX_SIZE (webhooks: ≈ 64 KiB); default unlimited. */
  maxResponseSize?: number
}

/**
 * A DNS lookup that refuses forbidden addresses. It runs inside the socket's connect, so the address checked is the
 * address used: a name that resolves to a public address for a validation step and to 127.0.0.1 later cannot slip by.
 */
export function createGuardedLookup(allow: CidrList): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0)
      // A name with one forbidden address is refused outright rather than filtered: it is almost surely an attack.
      const forbidden = addresses.find((a) => isForbiddenAddress(a.address, allow))
      if (forbidden) return callback(new SsrfForbiddenError(hostname, forbidden.address), '', 0)
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
      const first = addresses[0]
      if (!first) return callback(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0)
      callback(null, first.address, first.family)
    })
  }
}

/**
 * A connector that cannot reach loopback, private, link-local, metadata… addresses unless `allow` opens them.
 * Names are checked by the lookup at connect time; IP-literal hosts never reach a lookup, so they are checked here.
 */
function guardedConnector(allow: CidrList, connectTimeoutMs: number): buildConnector.connector {
  const connectWithLookup = buildConnector({ timeout: connectTimeoutMs, lookup: createGuardedLookup(allow) })
  return (options, callback) => {
    const host = options.hostname.startsWith('[') ? options.hostname.slice(1, -1) : options.hostname
    if (isIP(host) !== 0 && isForbiddenAddress(host, allow)) {
      callback(new SsrfForbiddenError(host, host), null)
      return
    }
    connectWithLookup(options, callback)
  }
}

function dispatcherOptions(opts: GuardedAgentOptions) {
  return {
    connect: guardedConnector(opts.allow, opts.connectTimeoutMs ?? 10_000),
    headersTimeout: opts.headersTimeoutMs ?? 10_000,
    bodyTimeout: opts.bodyTimeoutMs ?? 10_000,
    connections: opts.connections ?? 8,
    maxResponseSize: opts.maxResponseSize ?? -1,
  }
}

/**
 * An undici Agent (any origin) through the guarded connector. undici does not follow redirects unless a redirect
 * interceptor is composed in: never add one to this agent or to the pools below.
 */
export function createGuardedAgent(opts: GuardedAgentOptions): Agent {
  return new Agent(dispatcherOptions(opts))
}

/**
 * An undici Pool for one origin through the guarded connector: for a caller that posts to few origins many times.
 * A request through an Agent cost 5–28 µs more of main-thread time than the same request through a Pool (measured
 * against a local receiver, undici 7.16: the Agent dispatches through a second dispatcher layer).
 */
export function createGuardedPool(origin: string, opts: GuardedAgentOptions): Pool {
  return new Pool(origin, dispatcherOptions(opts))
}
