import type { EventEmitter } from 'node:events'
import type { Pool } from 'undici'
import type { CidrList } from '../net/cidr.js'
import { createGuardedPool } from '../net/guarded-agent.js'
import { isSsrfForbidden } from '../net/ssrf-error.js'
import { parseRetryAfter, type AttemptOutcome } from './retry-policy.js'

/**
 * Aborts one attempt: the smallest object undici takes as a request `signal` (`aborted`, `reason`, and the
 * EventEmitter methods `on`/`once`/`removeListener` for 'abort'). An AbortController's signal is an EventTarget whose
 * creation and listener bookkeeping showed up per delivery in profiles; this is a field and an array.
 */
export class AttemptAbort {
  aborted = false
  reason: unknown = undefined
  private listeners: Array<() => void> = []

  abort(reason?: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason ?? Object.assign(new Error('delivery attempt aborted'), { name: 'AbortError', code: 'ABORT_ERR' })
    const listeners = this.listeners
    this.listeners = []
    for (const listener of listeners) listener()
  }

  on(_event: 'abort', listener: () => void): this {
    this.listeners.push(listener)
    return this
  }

  once(event: 'abort', listener: () => void): this {
    return this.on(event, listener)
  }

  removeListener(_event: 'abort', listener: () => void): this {
    const i = this.listeners.indexOf(listener)
    if (i >= 0) this.listeners.splice(i, 1)
    return this
  }
}

/** What the worker needs from HTTP: one POST, answered with an outcome, never a throw. */
export interface DeliveryPoster {
  /**
   * `abort`, when given, is the attempt's own: aborting it (shutdown) ends the attempt with `aborted`. The client
   * aborts it too, at its deadline.
   */
  post(url: string, body: Buffer, headers: Record<string, string>, abort?: AttemptAbort): Promise<AttemptOutcome>
  close(): Promise<void>
}

export interface DeliveryClientOptions {
  allow: CidrList
  timeoutMs: number
  /** connections per origin, at most: no fewer than the attempts that may run at once to it, over all its sinks */
  connections: number
  /** the response body is read (so the connection can be reused) up to this size, then dropped */
  maxResponseBytes?: number
  /** origins with a pool at once (default 1,000); past that the oldest origin's pool is closed */
  maxOrigins?: number
}

/** A webhook URL split once into its origin and path (URLs repeat for every delivery to a sink). */
interface ParsedUrl {
  origin: string
  path: string
}


/** The client's own deadline, told apart from the caller's shutdown abort. */
class DeadlineError extends Error {
  readonly code = 'DELIVERY_DEADLINE'
}

/**
 * undici `Pool.request`, one pool per origin (not `fetch`: 5× slower, performance.md; not an `Agent`, a second
 * dispatcher layer per request, see createGuardedPool) through the SSRF-guarded connector. undici never follows
 * redirects without a redirect interceptor, so a 3xx is an answer like any other. Header and body timeouts are the
 * webhook timeout (undici's defaults are 300 s); an overall deadline covers slow-drip bodies.
 *
 * Per attempt this costs one AttemptAbort and one timer: `AbortSignal.timeout` + `AbortSignal.any` cost ≈ 30 µs per
 * request on Node 20 (weak references and finalizers), more than signing the body.
 */
export class DeliveryClient implements DeliveryPoster {
  private readonly maxResponseBytes: number
  private readonly maxOrigins: number
  /** In creation order: the first is the oldest. */
  private readonly pools = new Map<string, Pool>()
  private readonly urls = new Map<string, ParsedUrl>()

  constructor(private readonly opts: DeliveryClientOptions) {
    this.maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024
    this.maxOrigins = opts.maxOrigins ?? 1_000
  }

  async post(url: string, body: Buffer, headers: Record<string, string>, abort = new AttemptAbort()): Promise<AttemptOutcome> {
    const started = performance.now()
    const deadline = setTimeout(() => abort.abort(new DeadlineError('webhook timeout')), this.opts.timeoutMs)
    try {
      const target = this.parse(url)
      // The worker builds `headers` for this attempt alone, so adding to it copies nothing.
      headers['content-length'] = String(body.length)
      const signal = abort as unknown as EventEmitter
      const res = await this.poolFor(target.origin).request({ path: target.path, method: 'POST', headers, body, signal })
      // The status line is the answer: read the body so the connection can be reused, up to the cap (beyond it the
      // connection is closed), and never let a broken body change the outcome.
      await res.body.dump({ limit: this.maxResponseBytes }).catch(() => undefined)
      const outcome: AttemptOutcome = { status: res.statusCode, durationMs: performance.now() - started }
      const retryAfter = parseRetryAfter(res.headers['retry-after'], Date.now())
      if (retryAfter !== undefined) outcome.retryAfterMs = retryAfter
      return outcome
    } catch (err) {
      const timedOut = abort.aborted && abort.reason instanceof DeadlineError
      return { error: failureKind(err, timedOut), errorMessage: (err as Error).message?.slice(0, 300), durationMs: performance.now() - started }
    } finally {
      clearTimeout(deadline)
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()]
    this.pools.clear()
    await Promise.all(pools.map((pool) => pool.destroy()))
  }

  private parse(url: string): ParsedUrl {
    let parsed = this.urls.get(url)
    if (!parsed) {
      const u = new URL(url)
      parsed = { origin: u.origin, path: `${u.pathname}${u.search}` }
      // Bounded by the number of sinks; cleared rather than grown if URLs churn.
      if (this.urls.size >= this.maxOrigins) this.urls.clear()
      this.urls.set(url, parsed)
    }
    return parsed
  }

  private poolFor(origin: string): Pool {
    let pool = this.pools.get(origin)
    if (!pool) {
      if (this.pools.size >= this.maxOrigins) this.retireOldestPool()
      pool = createGuardedPool(origin, {
        allow: this.opts.allow,
        connectTimeoutMs: this.opts.timeoutMs,
        headersTimeoutMs: this.opts.timeoutMs,
        bodyTimeoutMs: this.opts.timeoutMs,
        connections: this.opts.connections,
      })
      this.pools.set(origin, pool)
    }
    return pool
  }

  /** Closes the oldest origin's pool once its requests finished; that origin's next request gets a new one. */
  private retireOldestPool(): void {
    const [origin, pool] = this.pools.entries().next().value as [string, Pool]
    this.pools.delete(origin)
    void pool.close().catch(() => undefined)
  }
}

/** Maps undici / Node error codes (never message text) to a failure kind stored on the delivery. */
function failureKind(err: unknown, timedOut: boolean): string {
  if (isSsrfForbidden(err)) return 'forbidden'
  if (timedOut) return 'timeout'
  const codes: string[] = []
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') codes.push(code)
    e = (e as { cause?: unknown }).cause
  }
  for (const code of codes) {
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return 'connect_timeout'
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
        return 'timeout'
      case 'ECONNREFUSED':
        return 'connection_refused'
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'dns'
      case 'UND_ERR_SOCKET':
      case 'ECONNRESET':
      case 'EPIPE':
        return 'socket'
      case 'UND_ERR_ABORTED':
      case 'ABORT_ERR':
        return 'aborted'
    }
  }
  return 'network'
}
