import { summarize, type Summary } from './stats.js'

/** Refuses anything but loopback: benchmarks never send load off this machine. */
export function assertLoopback(url: string): void {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
  if (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)) return
  throw new Error(`bench load may only target loopback, not ${url}`)
}

export interface FixedRateOptions {
  /** Requests per second, issued on schedule whether or not earlier ones finished (open model). */
  ratePerSec: number
  /** Stop issuing after this many… */
  count: number
  /** …or after this long, whichever comes first. */
  maxDurationMs: number
  /** Beyond this many in flight, a due request is skipped and counted as `dropped` (the target cannot keep up). */
  maxInFlight?: number
  /** Every URL the requests go to; each must be loopback. */
  targets?: string[]
  /** Issues request `i`; a rejection counts as an error. */
  request(i: number): Promise<unknown>
}

export interface FixedRateResult {
  issued: number
  completed: number
  errors: number
  dropped: number
  elapsedMs: number
  /** Completed requests per second over the whole run. */
  achievedPerSec: number
  /** From each request's scheduled time to its completion, ms: queueing in the driver counts (no coordinated omission). */
  latency: Summary
  /** From the actual call to completion, ms. */
  service: Summary
  firstError?: string
}

/** A fixed-rate (open-model) load driver: bounded by count and time, loopback only. */
export async function driveFixedRate(opts: FixedRateOptions): Promise<FixedRateResult> {
  for (const url of opts.targets ?? []) assertLoopback(url)
  const maxInFlight = opts.maxInFlight ?? 10_000
  const latencies: number[] = []
  const service: number[] = []
  let issued = 0
  let completed = 0
  let errors = 0
  let dropped = 0
  let inFlight = 0
  let firstError: string | undefined
  const pending = new Set<Promise<void>>()
  const start = performance.now()
  const intervalMs = 1000 / opts.ratePerSec

  while (issued + dropped < opts.count) {
    const now = performance.now()
    if (now - start >= opts.maxDurationMs) break
    const due = Math.min(opts.count, Math.floor((now - start) / intervalMs) + 1)
    while (issued + dropped < due) {
      const index = issued + dropped
      const scheduled = start + index * intervalMs
      if (inFlight >= maxInFlight) {
        dropped++
        continue
      }
      issued++
      inFlight++
      const called = performance.now()
      const p: Promise<void> = opts
        .request(index)
        .then(
          () => {
            const done = performance.now()
            completed++
            latencies.push(done - scheduled)
            service.push(done - called)
          },
          (err: unknown) => {
            errors++
            firstError ??= err instanceof Error ? err.message : String(err)
          },
        )
        .finally(() => {
          inFlight--
          pending.delete(p)
        })
      pending.add(p)
    }
    const next = start + (issued + dropped) * intervalMs
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())))
  }
  await Promise.all(pending)
  const elapsedMs = performance.now() - start
  return {
    issued,
    completed,
    errors,
    dropped,
    elapsedMs,
    achievedPerSec: (completed / elapsedMs) * 1000,
    latency: summarize(latencies),
    service: summarize(service),
    ...(firstError ? { firstError } : {}),
  }
}

/** Runs `task` over `items` with at most `concurrency` at once; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index] as T, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return results
}
