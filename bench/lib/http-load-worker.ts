/**
 * HTTP load from a worker thread, so the load generator does not share the event loop of the server it measures.
 * Messages in: {mode: 'fixed', url, rate, count, maxDurationMs, maxInFlight, headers, bodies} or
 * {mode: 'max', url, concurrency, durationMs, headers, bodies}; out: the result. Loopback only; undici Pool.
 */
import { parentPort } from 'node:worker_threads'
import { Pool } from 'undici'
import { assertLoopback, driveFixedRate } from './load.js'
import { summarize } from './stats.js'

interface Common {
  url: string
  headers: Record<string, string>
  /** Request i sends bodies[i % bodies.length]. */
  bodies: string[]
  connections: number
}

export type LoadJob =
  | (Common & { mode: 'fixed'; rate: number; count: number; maxDurationMs: number; maxInFlight: number })
  | (Common & { mode: 'max'; concurrency: number; durationMs: number })

async function runJob(job: LoadJob) {
  assertLoopback(job.url)
  const url = new URL(job.url)
  const pool = new Pool(url.origin, { connections: job.connections, pipelining: 1, keepAliveTimeout: 30_000 })
  const path = `${url.pathname}${url.search}`
  let bad = 0
  let firstBad: string | undefined
  const send = async (i: number) => {
    const res = await pool.request({ method: 'POST', path, headers: job.headers, body: job.bodies[i % job.bodies.length] })
    const text = await res.body.text()
    if (res.statusCode !== 200) {
      bad++
      firstBad ??= `${res.statusCode} ${text.slice(0, 200)}`
    }
  }
  try {
    if (job.mode === 'fixed') {
      const result = await driveFixedRate({ ratePerSec: job.rate, count: job.count, maxDurationMs: job.maxDurationMs, maxInFlight: job.maxInFlight, targets: [job.url], request: send })
      return { ...result, bad, firstBad }
    }
    const latencies: number[] = []
    let completed = 0
    let errors = 0
    let next = 0
    const start = performance.now()
    const worker = async () => {
      while (performance.now() - start < job.durationMs) {
        const called = performance.now()
        try {
          await send(next++)
          completed++
          latencies.push(performance.now() - called)
        } catch {
          errors++
        }
      }
    }
    await Promise.all(Array.from({ length: job.concurrency }, worker))
    const elapsedMs = performance.now() - start
    return { completed, errors, elapsedMs, achievedPerSec: (completed / elapsedMs) * 1000, latency: summarize(latencies), bad, firstBad }
  } finally {
    await pool.close()
  }
}

parentPort?.on('message', (job: LoadJob) => {
  runJob(job).then(
    (result) => parentPort?.postMessage({ ok: true, result }),
    (err: unknown) => parentPort?.postMessage({ ok: false, error: String(err) }),
  )
})
