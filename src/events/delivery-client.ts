import type { Agent, Dispatcher } from 'undici'
import type { CidrList } from '../net/cidr.js'
import { createGuardedAgent } from '../net/guarded-agent.js'
import { isSsrfForbidden } from '../net/ssrf-error.js'
import { parseRetryAfter, type AttemptOutcome } from './retry-policy.js'

/** What the worker needs from HTTP: one POST, answered with an outcome, never a throw. */
export interface DeliveryPoster {
  post(url: string, body: Buffer, headers: Record<string, string>, signal?: AbortSignal): Promise<AttemptOutcome>
  close(): Promise<void>
}

export interface DeliveryClientOptions {
  allow: CidrList
  timeoutMs: number
  /** connections per origin: the per-endpoint concurrency bound */
  connections: number
  /** the response body is read (so the connection can be reused) up to this size, then dropped */
  maxResponseBytes?: number
}

/**
 * undici `Agent.request` (not `fetch`: 5× slower, performance.md) through the SSRF-guarded connector. undici never
 * follows redirects without a redirect interceptor, so a 3xx is an answer like any other. Header and body timeouts
 * are the webhook timeout (undici's defaults are 300 s); an overall deadline covers slow-drip bodies.
 */
export class DeliveryClient implements DeliveryPoster {
  private readonly agent: Agent
  private readonly maxResponseBytes: number

  constructor(private readonly opts: DeliveryClientOptions) {
    this.agent = createGuardedAgent({
      allow: opts.allow,
      connectTimeoutMs: opts.timeoutMs,
      headersTimeoutMs: opts.timeoutMs,
      bodyTimeoutMs: opts.timeoutMs,
      connections: opts.connections,
    })
    this.maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024
  }

  async post(url: string, body: Buffer, headers: Record<string, string>, signal?: AbortSignal): Promise<AttemptOutcome> {
    const started = performance.now()
    const deadline = AbortSignal.timeout(this.opts.timeoutMs)
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline
    try {
      const target = new URL(url)
      const res = await this.agent.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        headers: { ...headers, 'content-length': String(body.length) },
        body,
        signal: combined,
      })
      await drain(res.body, this.maxResponseBytes)
      const outcome: AttemptOutcome = { status: res.statusCode, durationMs: performance.now() - started }
      const retryAfter = parseRetryAfter(res.headers['retry-after'], Date.now())
      if (retryAfter !== undefined) outcome.retryAfterMs = retryAfter
      return outcome
    } catch (err) {
      return { error: failureKind(err, deadline), errorMessage: (err as Error).message?.slice(0, 300), durationMs: performance.now() - started }
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy()
  }
}

async function drain(body: Dispatcher.ResponseData['body'], cap: number): Promise<void> {
  let seen = 0
  try {
    for await (const chunk of body) {
      seen += (chunk as Buffer).length
      if (seen > cap) {
        body.destroy()
        return
      }
    }
  } catch {
    // the status line is the answer; a broken body does not change it
  }
}

/** Maps undici / Node error codes (never message text) to a failure kind stored on the delivery. */
function failureKind(err: unknown, deadline: AbortSignal): string {
  if (isSsrfForbidden(err)) return 'forbidden'
  if (deadline.aborted) return 'timeout'
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
