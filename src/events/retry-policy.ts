/** What one HTTP attempt produced. Exactly one of `status` / `error` is set. */
export interface AttemptOutcome {
  status?: number
  /** a failure kind (`timeout`, `connect_timeout`, `connection_refused`, `socket`, `dns`, `forbidden`, `aborted`, `network`; `internal`: the attempt failed inside the daemon) */
  error?: string
  errorMessage?: string
  retryAfterMs?: number
  durationMs: number
}

export type Verdict =
  | { kind: 'succeeded' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'failed'; reason: string }
  /** 410 Gone: the receiver asks us to stop for good; the endpoint is disabled. */
  | { kind: 'disable'; reason: string }

/** A Retry-After longer than this is clamped: a receiver cannot park a delivery for days. */
const MAX_RETRY_AFTER_MS = 24 * 3600_000

/**
 * The contract's retry rules (contract.md "Sinks"), switching on the status code or failure kind only:
 * 2xx done · 410 disable · 408, 429, 5xx, timeouts and connection errors retry after schedule[n-1] (or Retry-After
 * when later) · other 3xx/4xx stop the chain (redirects are not followed) · an SSRF refusal stops the chain.
 * `attempt` counts this one (1 = the first attempt); after schedule.length retries the chain fails.
 */
export function judge(outcome: AttemptOutcome, attempt: number, schedule: readonly number[]): Verdict {
  const status = outcome.status
  if (status !== undefined) {
    if (status >= 200 && status < 300) return { kind: 'succeeded' }
    if (status === 410) return { kind: 'disable', reason: 'http_410' }
    const retryable = status === 408 || status === 429 || status >= 500
    if (!retryable) return { kind: 'failed', reason: `http_${status}` }
    return retryOrGiveUp(`http_${status}`, attempt, schedule, outcome.retryAfterMs)
  }
  const kind = outcome.error ?? 'network'
  if (kind === 'forbidden') return { kind: 'failed', reason: 'forbidden_address' }
  return retryOrGiveUp(kind, attempt, schedule, outcome.retryAfterMs)
}

function retryOrGiveUp(reason: string, attempt: number, schedule: readonly number[], retryAfterMs?: number): Verdict {
  const base = schedule[attempt - 1]
  if (base === undefined) return { kind: 'failed', reason: `${reason}_retries_exhausted` }
  const honoured = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, MAX_RETRY_AFTER_MS)
  return { kind: 'retry', delayMs: Math.max(base, honoured) }
}

/** `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (!raw) return undefined
  const trimmed = raw.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}
