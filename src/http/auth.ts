import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AppError } from '../errors.js'
import { hashToken } from '../security/tokens.js'
import { timingSafeEqual } from 'node:crypto'
import type { InstanceRepository } from '../instances/repository.js'

export type Principal = { kind: 'admin' } | { kind: 'instance'; instanceId: string; tenantId: string | null }

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
  }
}

/**
 * Counts failed authentications per key — a client address and the identity it claims — in a fixed window. Past
 * the limit every request with that key answers 429 until the window ends: guessing a token is slow, and clients
 * behind the same proxy address (which all share `request.ip`) are not locked out by someone guessing another
 * identity's token.
 */
export class AuthFailureLimiter {
  private readonly failures = new Map<string, { count: number; resetAt: number }>()
  /** When the last window still open ends: past it, nothing is counted any more. */
  private lastResetAt = 0

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether any failure is still being counted; when none is, no key can be limited (and none need be built). */
  get counting(): boolean {
    if (this.failures.size === 0) return false
    if (this.now() < this.lastResetAt) return true
    this.failures.clear() // every window is over
    return false
  }

  assertAllowed(key: string): void {
    const entry = this.failures.get(key)
    if (entry && entry.resetAt > this.now() && entry.count >= this.max) {
      throw new AppError('RATE_LIMITED', 'Too many failed authentication attempts', {
        retryAfterSeconds: Math.ceil((entry.resetAt - this.now()) / 1000),
      })
    }
  }

  recordFailure(key: string): void {
    const now = this.now()
    const entry = this.failures.get(key)
    if (!entry || entry.resetAt <= now) {
      // Keep the map bounded under a spray of addresses: drop expired entries when it grows.
      if (this.failures.size > 10_000) for (const [k, v] of this.failures) if (v.resetAt <= now) this.failures.delete(k)
      this.failures.set(key, { count: 1, resetAt: now + this.windowMs })
      this.lastResetAt = now + this.windowMs
    } else {
      entry.count += 1
    }
  }
}

export interface AuthDeps {
  adminTokenHash: string
  instances: InstanceRepository
  limiter: AuthFailureLimiter
}

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/** Distinct instance credentials kept verified at once: far more than the instances one daemon serves. */
const CACHE_MAX = 1_000
/** Short, so that a change made behind the daemon's back (the database edited by hand) also takes effect soon. */
const CACHE_TTL_MS = 10_000

export class Authenticator {
  /**
   * Instance credentials verified recently, by the exact `Authorization` header: the send path would otherwise
   * decode, hash and look the instance up (a Kysely-compiled query) on every request, ≈ 17 % of its CPU in
   * profiles. Rotating the token or deleting the instance drops the entries at once (`forgetInstance`). Only
   * successes are kept, so a wrong credential is always checked and counted by the limiter.
   */
  private readonly verified = new Map<string, { principal: Principal; until: number }>()

  constructor(private readonly deps: AuthDeps) {}

  // Callback-style hooks, not async ones: no promise per request on every authenticated route.

  /** Admin: `Authorization: Bearer <admin token>`. */
  admin: Hook = (request, _reply, done) => this.run(request, { admin: true, instance: false }, done)

  /** Instance: HTTP Basic `<tenant id or instance id>:<instance token>`. */
  instance: Hook = (request, _reply, done) => this.run(request, { admin: false, instance: true }, done)

  /** Either: the admin, or an instance acting on itself (the route checks the scope). */
  any: Hook = (request, _reply, done) => this.run(request, { admin: true, instance: true }, done)

  /** The instance's token changed or the instance is gone: its cached credentials stop working now. */
  forgetInstance(instanceId: string): void {
    for (const [header, entry] of this.verified) {
      if (entry.principal.kind === 'instance' && entry.principal.instanceId === instanceId) this.verified.delete(header)
    }
  }

  private run(request: FastifyRequest, accept: { admin: boolean; instance: boolean }, done: HookHandlerDoneFunction): void {
    try {
      request.principal = this.authenticate(request, accept)
    } catch (err) {
      done(err as Error)
      return
    }
    done()
  }

  private authenticate(request: FastifyRequest, accept: { admin: boolean; instance: boolean }): Principal {
    const header = request.headers.authorization ?? ''
    // The key decodes the header: worked out only while failures are being counted, or for a failure, so the send
    // path with cached credentials does not pay for it.
    const clientKey = () => `${request.ip} ${claimedIdentity(header)}`
    if (this.deps.limiter.counting) this.deps.limiter.assertAllowed(clientKey())
    const principal = (accept.instance ? this.cached(header) : undefined) ?? this.resolve(header, accept)
    if (!principal) {
      this.deps.limiter.recordFailure(clientKey())
      // The same answer for a wrong scheme, an unknown user and a wrong token: nothing to learn from the difference.
      throw new AppError('UNAUTHORIZED')
    }
    return principal
  }

  private resolve(header: string, accept: { admin: boolean; instance: boolean }): Principal | undefined {
    const [scheme, value] = splitOnce(header.trim(), ' ')
    if (accept.admin && scheme.toLowerCase() === 'bearer' && value) {
      return hashEquals(hashToken(value.trim()), this.deps.adminTokenHash) ? { kind: 'admin' } : undefined
    }
    if (accept.instance && scheme.toLowerCase() === 'basic' && value) {
      const decoded = Buffer.from(value.trim(), 'base64').toString('utf8')
      const [user, token] = splitOnce(decoded, ':')
      if (!user || !token) return undefined
      const principal = this.matchInstance(user, token)
      if (principal) this.remember(header, principal)
      return principal
    }
    return undefined
  }

  private cached(header: string): Principal | undefined {
    const entry = this.verified.get(header)
    if (!entry) return undefined
    if (entry.until > Date.now()) return entry.principal
    this.verified.delete(header)
    return undefined
  }

  private remember(header: string, principal: Principal): void {
    // Oldest first (insertion order): a spray of valid spellings of one credential cannot grow the map.
    if (this.verified.size >= CACHE_MAX) this.verified.delete(this.verified.keys().next().value as string)
    this.verified.set(header, { principal, until: Date.now() + CACHE_TTL_MS })
  }

  private matchInstance(user: string, token: string): Principal | undefined {
    const presented = hashToken(token)
    const byId = this.deps.instances.get(user)
    const candidates = byId ? [byId] : this.deps.instances.list({ tenantId: user })
    // A tenant's instances each have their own token; the one it matches says which instance is speaking.
    for (const instance of candidates) {
      if (hashEquals(presented, instance.token_hash)) {
        return { kind: 'instance', instanceId: instance.id, tenantId: instance.tenant_id }
      }
    }
    return undefined
  }
}

/** An instance principal may touch only its own instance; the admin may touch any. */
export function assertInstanceScope(principal: Principal | undefined, instanceId: string): void {
  if (!principal) throw new AppError('UNAUTHORIZED')
  if (principal.kind === 'instance' && principal.instanceId !== instanceId) throw new AppError('FORBIDDEN')
}

function hashEquals(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex')
  const bb = Buffer.from(b, 'hex')
  return ba.length === bb.length && timingSafeEqual(ba, bb)
}

/** Who a credential says it is, unverified: `admin` for a bearer token, the user of Basic auth, else `-`. */
function claimedIdentity(header: string): string {
  const [scheme, value] = splitOnce(header.trim(), ' ')
  const kind = scheme.toLowerCase()
  if (kind === 'bearer') return 'admin'
  if (kind !== 'basic' || !value) return '-'
  return `user:${splitOnce(Buffer.from(value.trim(), 'base64').toString('utf8'), ':')[0].slice(0, 128)}`
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator)
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + separator.length)]
}

