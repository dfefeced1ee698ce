/**
 * Send API benchmark (performance.md "send API: POST → durable answer"): p50/p99 at a fixed 2,000 req/s and the
 * maximum req/s of `POST /api/v1/message/text` (Basic auth, validation, idempotency-free path, durable row + outbox
 * event in SQLite, answer), against a bare Fastify route with the same schemas and the same answer, in the same run.
 *
 * The instance is paired against the simulator and then its WhatsApp socket goes away (the simulator stops), so it
 * is `connecting`: every message is durably queued and answered, and no Baileys work shares the event loop — this
 * measures the accept path, not WhatsApp throughput. (Its reconnect backoff is an hour for that reason: each attempt
 * builds a Baileys socket, ≈ 30 ms of main thread that would land in whichever run it falls.) The load comes from a
 * worker thread (undici Pool, loopback), bounded in count and time. Run alone: `npx tsx bench/send.ts`
 * (BENCH_QUICK=1 for a smoke run, BENCH_RUNS=n).
 *
 * Besides latency and throughput, each run records the main thread's CPU time per request (Linux, from
 * /proc/self/task/<pid>/stat), for the gateway and the bare route: on a shared machine it moves far less than the
 * timings, so it tells whether a change made the path cheaper when the timings are drowned in noise.
 */
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import { Worker } from 'node:worker_threads'
import Fastify from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { SendAnswerSchema, SendBody } from '../src/http/routes/messages.js'
import { basicAuth, startHarness } from '../test/helpers/harness.js'
import type { LoadJob } from './lib/http-load-worker.js'
import { isMain, runStandalone, startResult } from './lib/main.js'
import { combineRuns, median } from './lib/stats.js'
import type { BenchOptions, BenchResult, Figure } from './lib/types.js'

const RATE = 2_000
const CONNECTIONS = 64

/** CPU time (user + system) of this process's main thread so far, ms; NaN where /proc is not there. */
function mainThreadCpuMs(): number {
  try {
    const fields = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN
  }
}

/** Runs a load job and adds the main thread's CPU time per completed request, µs. */
async function withCpu<T extends { completed: number }>(job: Promise<T>): Promise<T & { cpuUsPerRequest: number }> {
  const before = mainThreadCpuMs()
  const out = await job
  return { ...out, cpuUsPerRequest: ((mainThreadCpuMs() - before) * 1000) / out.completed }
}

interface FixedOut {
  completed: number
  errors: number
  dropped: number
  bad: number
  firstBad?: string
  achievedPerSec: number
  latency: { p50: number; p99: number }
}
interface MaxOut {
  completed: number
  errors: number
  bad: number
  firstBad?: string
  achievedPerSec: number
  latency: { p50: number; p99: number }
}

/** A bare Fastify app: the same route, params, querystring, body and response schemas; no auth, no I/O. */
async function bareApp(bodyLimit: number) {
  const app = Fastify({ logger: false, bodyLimit }).withTypeProvider<TypeBoxTypeProvider>()
  const view = {
    message_id: 'msg_bench',
    wa_message_id: '3EB0BENCH',
    instance_id: 'inst_bench',
    direction: 'outbound' as const,
    source: 'api' as const,
    phone: '5544998760001',
    push_name: null,
    type: 'text',
    text: 'bench',
    quoted: null,
    media: null,
    status: 'queued' as const,
    error: null,
    timestamp: new Date().toISOString(),
    updated_at: new Date().toISOString(),
  }
  app.post(
    '/api/v1/message/:message_type',
    {
      schema: {
        params: Type.Object({ message_type: Type.String() }),
        querystring: Type.Object({ wait: Type.Optional(Type.Literal('sent')) }),
        body: SendBody,
        response: { 200: SendAnswerSchema },
      },
    },
    async () => ({ message_id: view.message_id, status: 'queued', wa_message_id: view.wa_message_id, data: view, meta: null, errors: null }),
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/v1/message/text` }
}

function loadWorker() {
  // tsx's loader hooks do not reach worker threads by themselves: the worker registers them, then loads the file.
  const file = new URL('./lib/http-load-worker.ts', import.meta.url).href
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(file)}) })`
  const worker = new Worker(boot, { eval: true })
  const run = <T>(job: LoadJob): Promise<T> =>
    new Promise((resolve, reject) => {
      worker.once('message', (m: { ok: boolean; result?: T; error?: string }) => (m.ok ? resolve(m.result as T) : reject(new Error(m.error))))
      worker.postMessage(job)
    })
  return { run, close: () => worker.terminate() }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const result = startResult('send', opts)
  const seconds = opts.quick ? 1 : 4
  const h = await startHarness({
    env: { AUTH_FAILURES_MAX: '1000000', RECONNECT_BASE_MS: '3600000', RECONNECT_MAX_MS: '3600000', RECONNECT_LONG_MS: '3600000', RECONNECT_MAX_FAILURES: '100000' },
  })
  const bare = await bareApp(h.config.limits.bodyMaxBytes)
  const load = loadWorker()
  try {
    const inst = await h.pairNewInstance()
    const customer = h.sim.createCustomer({ phone: '5544998760001', pushName: 'Bench' })
    const auth = basicAuth(inst.id, inst.token)
    const warm = await h.request('POST', '/api/v1/message/text?wait=sent', { phone: customer.phone, data: { text: 'warm-up' } }, auth)
    if (warm.status !== 200) throw new Error(`warm-up failed: ${JSON.stringify(warm.body)}`)
    await h.sim.stop()
    await h.waitForStatus(inst.id, 'connecting')
    opts.log('instance is connecting; the queue accumulates')
    const gatewayUrl = `http://127.0.0.1:${(h.daemon.app.server.address() as AddressInfo).port}/api/v1/message/text`
    const bodies = Array.from({ length: 64 }, (_, i) => JSON.stringify({ phone: customer.phone, data: { text: `bench message ${i}` } }))
    const headers = { 'content-type': 'application/json', ...auth }

    type Cpu = { cpuUsPerRequest: number }
    const fixed = { gw: [] as Array<FixedOut & Cpu>, bare: [] as Array<FixedOut & Cpu> }
    const max = { gw: [] as Array<MaxOut & Cpu>, bare: [] as Array<MaxOut & Cpu> }
    const fixedJob = (url: string): LoadJob => ({ mode: 'fixed', url, rate: RATE, count: RATE * seconds, maxDurationMs: seconds * 1000 + 2000, maxInFlight: 2000, headers, bodies, connections: CONNECTIONS })
    const maxJob = (url: string, durationMs = seconds * 1000): LoadJob => ({ mode: 'max', url, concurrency: 32, durationMs, headers, bodies, connections: 32 })
    // Warm both servers before measuring: JIT and statement caches, then one unmeasured round at the fixed rate,
    // because the first fixed-rate gateway run after start cost 1.2–2× the main-thread CPU per request of every later
    // one in every trial (about ten, with a 0.5 s or a 2 s warm-up alike); the figures are about a daemon in its
    // steady state.
    await load.run(maxJob(gatewayUrl, 500))
    await load.run(maxJob(bare.url, 500))
    if (!opts.quick) {
      await load.run(fixedJob(gatewayUrl))
      await load.run(fixedJob(bare.url))
    }
    for (let i = 0; i < opts.runs; i++) {
      fixed.gw.push(await withCpu(load.run<FixedOut>(fixedJob(gatewayUrl))))
      fixed.bare.push(await withCpu(load.run<FixedOut>(fixedJob(bare.url))))
      max.gw.push(await withCpu(load.run<MaxOut>(maxJob(gatewayUrl))))
      max.bare.push(await withCpu(load.run<MaxOut>(maxJob(bare.url))))
      const g = fixed.gw.at(-1)
      const m = max.gw.at(-1)
      opts.log(
        `run ${i + 1}: gateway p99 ${g?.latency.p99.toFixed(2)} ms at ${RATE}/s (bad ${g?.bad}, dropped ${g?.dropped}), max ${m?.achievedPerSec.toFixed(0)}/s vs bare ${max.bare.at(-1)?.achievedPerSec.toFixed(0)}/s; ` +
          `main-thread CPU per request ${g?.cpuUsPerRequest.toFixed(0)} µs vs bare ${fixed.bare.at(-1)?.cpuUsPerRequest.toFixed(0)} µs at ${RATE}/s`,
      )
      for (const r of [g, m]) if (r && (r.bad > 0 || r.errors > 0)) throw new Error(`gateway answered errors: ${r.firstBad ?? r.errors}`)
    }
    const queued = h.daemon.messaging.repo.countOutbound(inst.id)

    const gwP99 = fixed.gw.map((r) => r.latency.p99)
    const bareP99 = fixed.bare.map((r) => r.latency.p99)
    const gwP50 = fixed.gw.map((r) => r.latency.p50)
    const bareP50 = fixed.bare.map((r) => r.latency.p50)
    const gwMax = max.gw.map((r) => r.achievedPerSec)
    const bareMax = max.bare.map((r) => r.achievedPerSec)
    const gwCpu = fixed.gw.map((r) => r.cpuUsPerRequest)
    const bareCpu = fixed.bare.map((r) => r.cpuUsPerRequest)
    // The median of the per-run ratios, each pair measured in the same run (bench/README.md).
    const ratio = (a: number[], b: number[]) => combineRuns(a, b).ratio
    const figures: Figure[] = [
      {
        id: 'send.p50_at_2000',
        label: `POST → durable answer p50 at ${RATE.toLocaleString('en-US')} req/s`,
        unit: 'ms',
        value: median(gwP50),
        runs: gwP50,
        baseline: { label: 'bare Fastify', value: median(bareP50), runs: bareP50 },
        ratio: ratio(gwP50, bareP50),
      },
      {
        id: 'send.p99_at_2000',
        label: `POST → durable answer p99 at ${RATE.toLocaleString('en-US')} req/s`,
        unit: 'ms',
        value: median(gwP99),
        runs: gwP99,
        baseline: { label: 'bare Fastify', value: median(bareP99), runs: bareP99 },
        ratio: ratio(gwP99, bareP99),
        target: { max: 10, text: '≤ 10 ms' },
      },
      {
        id: 'send.max_rps',
        label: 'POST → durable answer, max req/s (32 in flight)',
        unit: 'req/s',
        value: median(gwMax),
        runs: gwMax,
        baseline: { label: 'bare Fastify', value: median(bareMax), runs: bareMax },
        ratio: ratio(gwMax, bareMax),
        target: { minRatio: 0.5, text: '≥ 50 % of bare Fastify' },
      },
      {
        id: 'send.cpu_per_request_at_2000',
        label: `main-thread CPU per request at ${RATE.toLocaleString('en-US')} req/s`,
        unit: 'µs',
        value: median(gwCpu),
        runs: gwCpu,
        baseline: { label: 'bare Fastify', value: median(bareCpu), runs: bareCpu },
        ratio: ratio(gwCpu, bareCpu),
      },
    ]
    return result.finish(figures, { queuedRows: queued, fixed, max })
  } finally {
    await load.close()
    await bare.app.close()
    await h.close().catch(() => undefined)
  }
}

if (isMain(import.meta.url)) await runStandalone(run)
