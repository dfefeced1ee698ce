import type { FastifyRequest } from 'fastify'
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
 * Counts failed authentications per client address in a fixed window. Past the limit every request from that
 * address answers 429 until the window ends: guessing tokens is slow, legitimate clients are not affected.
 */
export class AuthFailureLimiter {
  private readonly failures = new Map<string, { count: number; resetAt: number }>()

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

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

export class Authenticator {
  constructor(private readonly deps: AuthDeps) {}

  /** Admin: `Authorization: Bearer <admin token>`. */
  admin = async (request: FastifyRequest): Promise<void> => {
    request.principal = this.authenticate(request, { admin: true, instance: false })
  }

  /** Instance: HTTP Basic `<tenant id or instance id>:<instance token>`. */
  instance = async (request: FastifyRequest): Promise<void> => {
    request.principal = this.authenticate(request, { admin: false, instance: true })
  }

  /** Either: the admin, or an instance acting on itself (the route checks the scope). */
  any = async (request: FastifyRequest): Promise<void> => {
    request.principal = this.authenticate(request, { admin: true, instance: true })
  }

  private authenticate(request: FastifyRequest, accept: { admin: boolean; instance: boolean }): Principal {
    const clientKey = request.ip
    this.deps.limiter.assertAllowed(clientKey)
    const header = request.headers.authorization ?? ''
    const principal = this.resolve(header, accept)
    if (!principal) {
      this.deps.limiter.recordFailure(clientKey)
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
      return this.matchInstance(user, token)
    }
    return undefined
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

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator)
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + separator.length)]
}

