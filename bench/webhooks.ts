/**
 * Webhook benchmarks (performance.md targets), loopback only, bounded in time and size.
 *
 *  1. Signed, durable deliveries per second — outbox append (durable, the producer's transaction) → claim → sign →
 *     POST → mark done, with the daemon's own Outbox, SinkDirectory, WebhookService, DeliveryWorker and
 *     DeliveryClient in this process — against a bare undici `Pool.request` loop (no signing, no database) with the
 *     same concurrency and body, in the same run. Both POST to one receiver that runs in a worker thread, so neither
 *     shares its event loop with the server it measures (as a real receiver would not; with a receiver on the same
 *     thread half of each side's time is the receiver's, and the ratio says little). Each side gets a warm-up (JIT)
 *     before it is timed. A third loop, the durable floor (lib/durable-floor.ts: the bare loop plus only an event row
 *     and a delivery row per delivery and its status update), shows what any crash-safe outbox keeps of the bare
 *     rate on this machine; a fourth, the contract floor (the same loop with the contract's work per delivery and
 *     none of the worker's design), shows what that work alone keeps of it. The figure drains a burst (appends run
 *     ahead: the worker queues the first 16,384 rows in memory and reads the rest back from the database, a page at
 *     a time); a second pass appends at a fixed rate instead (a steady stream, where each delivery starts as soon as
 *     its row is committed or a slot frees) and shows the delivered rate and append → marked-done p99. A last pass
 *     times the worker alone: the events are appended first with the worker stopped (in the daemon the inbound path
 *     writes them, with their messages), then the worker drains them from the database, as after a restart or a
 *     receiver's outage.
 *
 *  2. Inbound WhatsApp message → webhook 2xx latency at a fixed offered rate (default 1,000 messages/s). Three
 *     processes: the simulator (bench/lib/bench-sim.ts: its customers' real Signal sessions encrypt the messages
 *     before each run, the simulator relays them on schedule as WhatsApp does), the daemon (compiled src/main.ts,
 *     production defaults — WEBHOOK_CONCURRENCY_PER_ENDPOINT 16 —, its real Baileys socket decrypts, journals,
 *     records and delivers), and this process, which only runs the webhook receiver.
 *     Then the baseline: the daemon stops and bench/lib/bare-baileys-child.ts opens the same sessions in bare Baileys
 *     sockets, which get the same traffic and only decrypt, send the receipt and emit `messages.upsert` (its time is
 *     the arrival). Same rate, same runs; also each side's CPU per message (BENCH_CPU_PROF=1 profiles it too), and
 *     that of the whole setup (measured process + simulator + this process), against what the machine's cores offer.
 *     Latency per message = receiver got the POST (it answers 204 at once) − the simulator handed the encrypted stanza
 *     to the daemon's socket, both as epoch times (performance.timeOrigin + now()) on one machine. Also shown: the
 *     latency from each message's *scheduled* time (adds the simulator's own queueing), and the offered rate
 *     actually achieved.
 *
 * Run alone: `npx tsx bench/webhooks.ts` (BENCH_RUNS, BENCH_QUICK). Knobs: BENCH_DELIVERIES (20,000 per burst),
 * BENCH_DELIVERY_RATE (5,000/s, the fixed-rate variant of 1), BENCH_RATE (1,000 inbound messages/s), BENCH_SECONDS
 * (5 per run), BENCH_INBOUND_INSTANCES (1), BENCH_INBOUND_CUSTOMERS (8), BENCH_WEBHOOKS_ONLY=throughput|inbound,
 * BENCH_CPU_PROF=1 (the daemon runs with --cpu-prof; the profile and a summary go to results/profiles/), BENCH_KEEP=1
 * (the inbound daemon's data directory and log are kept, to look for what was not delivered).
 */
import fs from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { Pool } from 'undici'
import { openDatabase } from '../src/db/database.js'
import { migrations } from '../src/db/migrations/index.js'
import { DeliveryClient } from '../src/events/delivery-client.js'
import { DeliveryWorker } from '../src/events/delivery-worker.js'
import { Outbox } from '../src/events/outbox.js'
import { SinkDirectory } from '../src/events/sinks.js'
import { WebhookService } from '../src/events/webhooks.js'
import { silentLogger } from '../src/logger.js'
import { parseCidrList } from '../src/net/cidr.js'
import { Sealer } from '../src/security/sealing.js'
import { summarizeProfile } from './lib/cpuprofile.js'
import { durableFloorLoop } from './lib/durable-floor.js'
import { gatewayEnv, pairInstances, SECRET_KEY, spawnGateway, type Gateway } from './lib/gateway.js'
import { envInt, isMain, runStandalone, startResult } from './lib/main.js'
import { spawnBenchSim, spawnNode, type NodeChild } from './lib/procs.js'
import { RESULTS_DIR } from './lib/results.js'
import { combineRuns, figuresBeside, median, summarize, type Summary } from './lib/stats.js'
import type { BenchOptions, BenchResult, Figure } from './lib/types.js'

const CONCURRENCY = 16

// ---------------------------------------------------------------------------------------------------------------
// 1. delivery throughput

/** A 204 receiver in a worker thread (plain JS: tsx's hooks do not reach workers); posts its URL when listening. */
const RECEIVER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const http = require('node:http')
const server = http.createServer((req, res) => {
  req.on('data', () => {})
  req.on('end', () => res.writeHead(204).end())
})
server.keepAliveTimeout = 30000
server.listen(0, '127.0.0.1', () => parentPort.postMessage('http://127.0.0.1:' + server.address().port + '/hook'))
parentPort.on('message', () => server.close(() => process.exit(0)))
`

export async function startReceiverThread(): Promise<{ url: string; close(): Promise<void> }> {
  const worker = new Worker(RECEIVER_SOURCE, { eval: true })
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  return {
    url,
    async close() {
      await worker.terminate()
    },
  }
}

const sampleData = { text: 'x'.repeat(900) }

/**
 * `fn`'s answer and the main thread's busy time per delivery while it ran (µs; event-loop utilisation, so the
 * receiver thread's work is not counted). Steadier than the rates on a noisy machine: a neighbour's load stretches
 * the wall clock but not much the work done per delivery.
 */
async function mainThreadBusy<T>(deliveries: number, fn: () => Promise<T>): Promise<{ value: T; busyUs: number }> {
  const before = performance.eventLoopUtilization()
  const value = await fn()
  return { value, busyUs: (performance.eventLoopUtilization(before).active * 1000) / deliveries }
}

/** The bare baseline: `count` POSTs of `body`, `CONCURRENCY` at a time, over one undici Pool; answers req/s. */
export async function bareLoop(url: string, body: Buffer, count: number): Promise<number> {
  const pool = new Pool(new URL(url).origin, { connections: CONCURRENCY })
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < count) {
        const res = await pool.request({ path: '/hook', method: 'POST', body, headers: { 'content-type': 'application/json' } })
        await res.body.dump()
      }
    }),
  )
  const perSec = count / ((performance.now() - start) / 1000)
  await pool.close()
  return perSec
}

/**
 * Ours: a fresh database with one webhook; a producer appends `count` events (durable, the producer's
 * transactions) and the worker delivers them; `warmup` deliveries go first, untimed.
 *  - burst (the default): 200 appends per transaction per event-loop turn, as fast as the loop allows, so a
 *    backlog builds and is drained; the figure is count ÷ (first append → last delivery marked done).
 *  - `ratePerSec`: each event-loop turn appends what is due by the clock, in one transaction (a stream of inbound
 *    events); the figure is the delivered rate, and `latency` is append → marked done per delivery.
 *  - `drain`: the worker alone. The `count` events are appended while the worker is stopped (untimed; in the daemon
 *    the inbound path writes them, with their messages), then it starts and reads them back a page at a time as
 *    after a restart or an outage of the receiver; the figure is count ÷ (start → last delivery marked done).
 */
export async function ourPipeline(
  url: string,
  count: number,
  warmup: number,
  mode: { ratePerSec?: number; drain?: boolean } = {},
): Promise<{ perSec: number; busyUs: number; sample: Buffer | undefined; latency?: Summary }> {
  const { ratePerSec } = mode
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-bench-'))
  const db = openDatabase({ file: path.join(dir, 'gateway.db'), migrations })
  const sealer = new Sealer('bench-secret-0123456789-0123456789', 'webhooks')
  const sinks = new SinkDirectory({ db, sealer })
  const outbox = new Outbox(db, sinks)
  const allow = parseCidrList('127.0.0.0/8')
  const client = new DeliveryClient({ allow, timeoutMs: 10_000, connections: CONCURRENCY })
  const worker = new DeliveryWorker({
    db,
    sinks,
    client,
    schedule: [1000],
    perEndpointConcurrency: CONCURRENCY,
    logger: silentLogger,
    maxInFlight: 256,
    takeBody: (id) => outbox.takeBody(id),
  })
  const webhooks = new WebhookService({
    db,
    sealer,
    sinks,
    outbox,
    allow,
    secretGraceMs: 0,
    instanceExists: () => true,
    wake: (sink) => worker.wake(sink ? [sink] : undefined),
  })
  await webhooks.create({ url, events: ['message.inbound'] })
  outbox.setDeliveryQueue(worker)
  let settled = 0
  let failed = 0
  let target = 0
  let resolveDone!: () => void
  const appendedAt = new Map<string, number>()
  const latencies: number[] = []
  worker.on('settled', (s) => {
    if (s.status !== 'succeeded') failed++
    const at = appendedAt.get(s.eventId)
    if (at !== undefined) latencies.push(performance.now() - at)
    if (++settled === target) resolveDone()
  })
  worker.start()
  const append = () => outbox.append({ type: 'message.inbound', instanceId: 'inst_bench', tenantId: null, data: sampleData }).id
  const phase = async (n: number, rate?: number) => {
    target += n
    const done = new Promise<void>((r) => (resolveDone = r))
    const start = performance.now()
    let appended = 0
    const produce = () => {
      const due = rate ? Math.min(n, Math.floor(((performance.now() - start) * rate) / 1000) + 1) : Math.min(n, appended + 200)
      const now = performance.now()
      db.tx(() => {
        for (; appended < due; appended++) {
          const id = append()
          if (rate) appendedAt.set(id, now)
        }
      })
      if (appended < n) setImmediate(produce)
    }
    produce()
    await done
    return n / ((performance.now() - start) / 1000)
  }
  // The drain's backlog: appended with the worker stopped, so that none is handed over.
  const storeBacklog = async () => {
    await worker.stop()
    for (let appended = 0; appended < count; appended += 200) db.tx(() => Array.from({ length: Math.min(200, count - appended) }, append))
    target += count
  }
  const drain = async () => {
    const done = new Promise<void>((r) => (resolveDone = r))
    const start = performance.now()
    worker.start()
    await done
    return count / ((performance.now() - start) / 1000)
  }
  try {
    await phase(warmup)
    if (mode.drain) await storeBacklog()
    const { value: perSec, busyUs } = await mainThreadBusy(count, () => (mode.drain ? drain() : phase(count, ratePerSec)))
    if (failed > 0) throw new Error(`${failed} deliveries did not succeed`)
    const sample = db.sqlite.prepare('SELECT body FROM events LIMIT 1').get() as { body: string } | undefined
    return { perSec, busyUs, sample: sample ? Buffer.from(sample.body) : undefined, ...(ratePerSec ? { latency: summarize(latencies) } : {}) }
  } finally {
    await worker.stop()
    await client.close()
    await db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function deliveryThroughput(opts: BenchOptions) {
  const count = envInt('BENCH_DELIVERIES', opts.quick ? 3_000 : 20_000)
  const fixedRate = envInt('BENCH_DELIVERY_RATE', 5_000)
  const fixedSeconds = opts.quick ? 1 : 3
  const warmup = Math.min(2_000, count)
  const receiver = await startReceiverThread()
  const ours: number[] = []
  const bare: number[] = []
  const floor: number[] = []
  const contractFloor: number[] = []
  const busy: Array<{ ours: number; bare: number; floor: number; contractFloor: number }> = []
  const fixed: Array<{ perSec: number; latency: Summary }> = []
  const drains: Array<{ perSec: number; busyUs: number }> = []
  // The bare loop sends a body of the same size as ours: one stored event body, taken from a run of ours.
  let body: Buffer = Buffer.from(JSON.stringify({ id: 'evt_x', type: 'message.inbound', data: sampleData }))
  try {
    for (let r = 0; r < opts.runs; r++) {
      const mine = await ourPipeline(receiver.url, count, warmup)
      if (mine.sample) body = mine.sample
      // Both baselines: a warm-up (JIT), then `count` timed deliveries.
      const measure = async (loop: (n: number) => Promise<number>) => {
        await loop(warmup)
        return mainThreadBusy(count, () => loop(count))
      }
      const { value: baseline, busyUs: bareBusy } = await measure((n) => bareLoop(receiver.url, body, n))
      const { value: floorRate, busyUs: floorBusy } = await measure((n) => durableFloorLoop(receiver.url, body, n, CONCURRENCY))
      const { value: contractRate, busyUs: contractBusy } = await measure((n) => durableFloorLoop(receiver.url, body, n, CONCURRENCY, { contract: true }))
      const steady = await ourPipeline(receiver.url, fixedRate * fixedSeconds, warmup, { ratePerSec: fixedRate })
      const drained = await ourPipeline(receiver.url, count, warmup, { drain: true })
      ours.push(mine.perSec)
      bare.push(baseline)
      floor.push(floorRate)
      contractFloor.push(contractRate)
      busy.push({ ours: mine.busyUs, bare: bareBusy, floor: floorBusy, contractFloor: contractBusy })
      if (steady.latency) fixed.push({ perSec: steady.perSec, latency: steady.latency })
      drains.push({ perSec: drained.perSec, busyUs: drained.busyUs })
      opts.log(
        `run ${r + 1}: ${mine.perSec.toFixed(0)} deliveries/s vs bare undici ${baseline.toFixed(0)}/s (${((mine.perSec / baseline) * 100).toFixed(0)} %), ` +
          `durable floor ${floorRate.toFixed(0)}/s (${((floorRate / baseline) * 100).toFixed(0)} %), with the contract's work ${contractRate.toFixed(0)}/s (${((contractRate / baseline) * 100).toFixed(0)} %); ` +
          `main thread busy per delivery ${mine.busyUs.toFixed(0)} / ${bareBusy.toFixed(0)} / ${floorBusy.toFixed(0)} / ${contractBusy.toFixed(0)} µs (ours / bare / floor / contract floor); ` +
          `at ${fixedRate}/s offered: ${steady.perSec.toFixed(0)}/s, append → done p99 ${steady.latency?.p99.toFixed(1)} ms; ` +
          `stored backlog drained ${drained.perSec.toFixed(0)}/s (${((drained.perSec / baseline) * 100).toFixed(0)} %, ${drained.busyUs.toFixed(0)} µs busy)`,
      )
    }
  } finally {
    await receiver.close()
  }
  // Each rate beside the bare loop's of the same runs.
  const againstBare = (runs: number[]) => {
    const { value, ratio } = combineRuns(runs, bare)
    return { value, runs, baseline: { label: 'bare undici POST loop', value: median(bare), runs: bare }, ...(ratio !== undefined ? { ratio } : {}) }
  }
  const oursToFloor = combineRuns(ours, floor).ratio
  const busyOf = (side: 'ours' | 'bare' | 'floor' | 'contractFloor') => busy.map((b) => b[side])
  const busyRatio = combineRuns(busyOf('ours'), busyOf('bare')).ratio
  const fixedRates = fixed.map((f) => f.perSec)
  const fixedP99 = fixed.map((f) => f.latency.p99)
  const drainRates = drains.map((d) => d.perSec)
  const figures: Figure[] = [
    {
      id: 'webhooks.deliveries_per_sec',
      label: 'signed durable webhook deliveries (backlog of appends drained)',
      unit: '/s',
      ...againstBare(ours),
      target: { min: 5000, minRatio: 0.5, text: '≥ 5,000/s and ≥ 50 % of bare' },
      notes: `${count} deliveries per run after ${warmup} warm-up, ${CONCURRENCY} connections, ${body.length} B bodies; ${oursToFloor?.toFixed(2)}× the durable floor`,
    },
    {
      id: 'webhooks.deliveries_floor_per_sec',
      label: 'durable floor: bare loop + event and delivery rows only (lib/durable-floor.ts)',
      unit: '/s',
      ...againstBare(floor),
      notes: 'what any crash-safe outbox pays here: no index, signature, claim or attempt log',
    },
    {
      id: 'webhooks.deliveries_contract_floor_per_sec',
      label: "durable floor + the contract's work per delivery (envelope, text ids, both signatures, deadline, attempt log)",
      unit: '/s',
      ...againstBare(contractFloor),
      notes: `main thread busy per delivery ${median(busyOf('contractFloor')).toFixed(0)} µs; still no per-endpoint bookkeeping, retries or deliveries-log index (lib/durable-floor.ts)`,
    },
    {
      id: 'webhooks.deliveries_busy_us',
      label: 'main thread busy per delivery (ours; baseline bare, floor in notes)',
      unit: 'µs',
      value: median(busyOf('ours')),
      runs: busyOf('ours'),
      baseline: { label: 'bare undici POST loop', value: median(busyOf('bare')), runs: busyOf('bare') },
      ...(busyRatio !== undefined ? { ratio: busyRatio } : {}),
      notes: `durable floor ${median(busyOf('floor')).toFixed(0)} µs`,
    },
    {
      id: 'webhooks.deliveries_fixed_rate',
      label: `same, appends at a fixed ${fixedRate.toLocaleString('en-US')}/s: delivered`,
      unit: '/s',
      value: median(fixedRates),
      runs: fixedRates,
    },
    {
      id: 'webhooks.deliveries_fixed_rate_p99',
      label: `same, append → marked done p99`,
      unit: 'ms',
      value: median(fixedP99),
      runs: fixedP99,
    },
    {
      id: 'webhooks.deliveries_drain_per_sec',
      label: 'the worker alone: a stored backlog drained (appended beforehand, untimed)',
      unit: '/s',
      ...againstBare(drainRates),
      notes: `main thread busy per delivery ${median(drains.map((d) => d.busyUs)).toFixed(0)} µs; read back a page at a time, signed, posted, results committed`,
    },
  ]
  return { figures, details: { count, warmup, concurrency: CONCURRENCY, bodyBytes: body.length, ours, bare, floor, contractFloor, busy, fixedRate, fixed, drains } }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. inbound → webhook latency

const epochNow = () => performance.timeOrigin + performance.now()

/** The webhook receiver of the inbound figure: records when each WhatsApp id first arrived, answers 204. */
async function latencyReceiver(): Promise<{ server: Server; url: string; arrivals: Map<string, number>; onArrival: (fn: () => void) => void }> {
  const arrivals = new Map<string, number>()
  let listener: () => void = () => undefined
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const at = epochNow()
      res.writeHead(204).end()
      const waId = (JSON.parse(Buffer.concat(chunks).toString()) as { data?: { wa_message_id?: string } }).data?.wa_message_id
      if (waId && !arrivals.has(waId)) arrivals.set(waId, at)
      listener()
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    arrivals,
    onArrival: (fn) => (listener = fn),
  }
}

/** The main thread's profile in `dir` (the largest .cpuprofile) summarised to summary.txt; answers its path. */
function summariseMainThread(dir: string, name: string, opts: BenchOptions): string | undefined {
  if (!fs.existsSync(dir)) return undefined
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f))
  const file = files.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]
  if (!file) return undefined
  const frames = [...summarizeProfile(file).frames].sort((a, b) => b.selfMs - a.selfMs).slice(0, 60)
  const summary = path.join(dir, 'summary.txt')
  fs.writeFileSync(summary, frames.map((f) => `${f.selfMs.toFixed(0).padStart(7)} ms self ${f.totalMs.toFixed(0).padStart(7)} ms total  ${f.frame}`).join('\n') + '\n')
  opts.log(`${name} profile: ${path.relative(process.cwd(), file)} (summary ${path.relative(process.cwd(), summary)})`)
  return path.relative(process.cwd(), summary)
}

interface SendResult {
  scheduled: number[]
  sent: number[]
  start: number
  end: number
  prepareMs: number
}

/** Where a run's messages are seen arriving: the webhook receiver (daemon), or bare Baileys' upserts. */
interface ArrivalWatch {
  /** WhatsApp id → first arrival, epoch ms */
  arrivals: ReadonlyMap<string, number>
  /** Resolves once every id arrived, or at the timeout (the run then counts what is missing). */
  waitFor(wanted: readonly string[], timeoutMs: number): Promise<void>
}

function receiverWatch(receiver: Awaited<ReturnType<typeof latencyReceiver>>): ArrivalWatch {
  return {
    arrivals: receiver.arrivals,
    waitFor: (wanted, timeoutMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(finish, timeoutMs)
        function finish() {
          clearTimeout(timer)
          receiver.onArrival(() => undefined)
          resolve()
        }
        const check = () => {
          if (wanted.every((w) => receiver.arrivals.has(w))) finish()
        }
        receiver.onArrival(check)
        check()
      }),
  }
}

/** Arrivals in a bare-baileys-child, fetched over IPC every 200 ms once the simulator has relayed the whole run. */
function upsertWatch(child: NodeChild): ArrivalWatch {
  const arrivals = new Map<string, number>()
  const fetchArrivals = () =>
    new Promise<void>((resolve) => {
      const onMessage = (m: { event?: string; arrivals?: Array<[string, number]> }) => {
        if (m.event !== 'arrivals') return
        child.process.off('message', onMessage)
        for (const [id, at] of m.arrivals ?? []) if (!arrivals.has(id)) arrivals.set(id, at)
        resolve()
      }
      child.process.on('message', onMessage)
      child.process.send({ type: 'arrivals' })
    })
  return {
    arrivals,
    async waitFor(wanted, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        await fetchArrivals()
        if (wanted.every((w) => arrivals.has(w)) || Date.now() > deadline) return
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    },
  }
}

interface InboundRun {
  offeredPerSec: number
  sent: number
  delivered: number
  fromSent: Summary
  fromSchedule: Summary
  /** the measured process's CPU time per message (all threads), ms; and its event-loop lag over the run */
  cpuMsPerMessage: number
  /** CPU per message of the whole setup: the measured process, the simulator and this process (the receiver), ms */
  machineCpuMsPerMessage: number
  lagP99Ms: number | null
  simLagP99Ms: number | null
}

async function inboundLatency(opts: BenchOptions) {
  const rate = envInt('BENCH_RATE', opts.quick ? 200 : 1_000)
  const seconds = envInt('BENCH_SECONDS', opts.quick ? 2 : 5)
  const instances = envInt('BENCH_INBOUND_INSTANCES', 1)
  const customerCount = envInt('BENCH_INBOUND_CUSTOMERS', 8)
  const profile = process.env.BENCH_CPU_PROF === '1'
  const keep = process.env.BENCH_KEEP === '1'
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-bench-inbound-'))
  const profileDir = path.join(RESULTS_DIR, 'profiles', `webhooks-${Date.now()}`)
  const receiver = await latencyReceiver()
  const sim = await spawnBenchSim()
  let gw: Gateway | undefined
  let bare: NodeChild | undefined
  const runs: InboundRun[] = []
  const bareRuns: InboundRun[] = []
  const missing: string[] = []
  const sessionsDir = path.join(dir, 'sessions')
  try {
    gw = await spawnGateway(
      gatewayEnv(sim, { dataDir: path.join(dir, 'data'), sessionsDir }, { ALLOW_PRIVATE_WEBHOOK_CIDRS: '127.0.0.0/8' }),
      profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {},
    )
    const ids = await pairInstances(gw, sim, instances, { phonePrefix: '551191' })
    const phones = ids.map((_, i) => `551191${String(i).padStart(7, '0')}`)
    for (const id of ids) {
      const hook = await gw.api('POST', '/api/v1/webhooks', { url: receiver.url, events: ['message.inbound'], instance_id: id })
      if (hook.status !== 201) throw new Error(`create webhook: ${hook.status} ${JSON.stringify(hook.body)}`)
    }
    const customers = await sim.command<string[]>({ bench: 'customers', prefix: '5544990', count: customerCount })
    const daemonWatch = receiverWatch(receiver)
    const send = (idPrefix: string, n: number, perSec: number) =>
      sim.command<SendResult>({ bench: 'send', to: phones, customers, rate: perSec, count: n, idPrefix, text: 'bench' })
    /** One timed run of `rate × seconds` messages, seen arriving by `watch`; `child` is the measured process. */
    const measure = async (name: string, prefix: string, child: NodeChild, watch: ArrivalWatch): Promise<InboundRun> => {
      const count = rate * seconds
      await child.probe('lag-reset')
      await sim.child.probe('lag-reset')
      const ownCpuSince = process.cpuUsage()
      const out = await send(prefix, count, rate)
      const wanted = Array.from({ length: count }, (_, i) => `${prefix}${i}`)
      // An overloaded receiver drains its backlog before the next run starts (or the run counts what is missing).
      await watch.waitFor(wanted, 30_000 + count * 20)
      const lag = await child.probe<{ p99: number | null; cpuMs: number }>('lag')
      const simLag = await sim.child.probe<{ p99: number | null; cpuMs: number }>('lag')
      const ownCpu = process.cpuUsage(ownCpuSince)
      missing.push(...wanted.filter((w) => !watch.arrivals.has(w)))
      const fromSent: number[] = []
      const fromSchedule: number[] = []
      wanted.forEach((id, i) => {
        const at = watch.arrivals.get(id)
        if (at === undefined) return
        fromSent.push(at - (out.sent[i] as number))
        fromSchedule.push(at - (out.scheduled[i] as number))
      })
      const sentTimes = out.sent.filter((t) => Number.isFinite(t))
      const offeredPerSec = (count - 1) / ((Math.max(...sentTimes) - Math.min(...sentTimes)) / 1000)
      const run: InboundRun = {
        offeredPerSec,
        sent: count,
        delivered: fromSent.length,
        fromSent: summarize(fromSent),
        fromSchedule: summarize(fromSchedule),
        cpuMsPerMessage: lag.cpuMs / count,
        machineCpuMsPerMessage: (lag.cpuMs + simLag.cpuMs + (ownCpu.user + ownCpu.system) / 1000) / count,
        lagP99Ms: lag.p99,
        simLagP99Ms: simLag.p99,
      }
      opts.log(
        `${name}: ${run.delivered}/${count} arrived at ${offeredPerSec.toFixed(0)} msg/s offered; from sent p50 ${run.fromSent.p50.toFixed(1)} ms, ` +
          `p99 ${run.fromSent.p99.toFixed(1)} ms; from schedule p99 ${run.fromSchedule.p99.toFixed(1)} ms; ${run.cpuMsPerMessage.toFixed(2)} ms CPU/msg, ` +
          `lag p99 ${lag.p99?.toFixed(0)} ms; simulator lag p99 ${simLag.p99?.toFixed(0)} ms`,
      )
      return run
    }
    // Every customer's first message to every instance carries the Signal pre-key message (a session set-up, not
    // steady state); then one second at the full rate warms the JIT. Neither is measured.
    await daemonWatch.waitFor(await sim.command<string[]>({ bench: 'warm', to: phones, customers, idPrefix: 'BENCHWARM0X' }), 30_000)
    await send('BENCHWARM1', rate, rate)
    await daemonWatch.waitFor(Array.from({ length: rate }, (_, i) => `BENCHWARM1${i}`), 30_000)
    for (let r = 0; r < opts.runs; r++) runs.push(await measure(`run ${r + 1}`, `BENCHRUN${r}X`, gw.child, daemonWatch))

    // The baseline: the same sessions in bare Baileys sockets (bare-baileys-child.ts), which decrypt, send the
    // receipt and emit `messages.upsert`, and do nothing else. The daemon stops first (one device, one connection).
    if (keep) fs.writeFileSync(path.join(dir, 'gateway.log'), gw.child.lines.join('\n'))
    await gw.stop()
    gw = undefined
    {
      bare = spawnNode('bench/lib/bare-baileys-child.ts', {
        trustSim: true,
        ...(profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, 'bare')}`] } : {}),
        env: { WASIM_ROOT_PUBLIC_KEY: sim.rootPublicKey, BARE_WS_URL: sim.wsUrl, BARE_SESSIONS_DIR: sessionsDir, BARE_SECRET_KEY: SECRET_KEY, BARE_IDS: ids.join(',') },
      })
      await bare.waitForLine((_l, json) => (json?.event === 'ready' ? true : undefined), 60_000)
      const bareWatch = upsertWatch(bare)
      await send('BENCHBAREWARM', rate, rate)
      await bareWatch.waitFor(Array.from({ length: rate }, (_, i) => `BENCHBAREWARM${i}`), 30_000)
      for (let r = 0; r < opts.runs; r++) bareRuns.push(await measure(`bare Baileys run ${r + 1}`, `BENCHBARE${r}X`, bare, bareWatch))
    }
  } finally {
    if (keep && gw) fs.writeFileSync(path.join(dir, 'gateway.log'), gw.child.lines.join('\n'))
    await gw?.stop()
    await bare?.stop(5_000)
    await sim.stop()
    receiver.server.closeAllConnections()
    receiver.server.close()
    if (keep) opts.log(`kept the daemon's data and log in ${dir}`)
    else fs.rmSync(dir, { recursive: true, force: true })
    if (missing.length) opts.log(`not delivered in time: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`)
  }
  const profileSummaries = profile ? [summariseMainThread(profileDir, 'daemon', opts), summariseMainThread(path.join(profileDir, 'bare'), 'bare Baileys', opts)].filter(Boolean) : []
  const p99 = runs.map((r) => r.fromSent.p99)
  const p50 = runs.map((r) => r.fromSent.p50)
  const offered = runs.map((r) => r.offeredPerSec)
  const schedP99 = runs.map((r) => r.fromSchedule.p99)
  const lost = runs.reduce((s, r) => s + (r.sent - r.delivered), 0)
  const at = `at ${Math.round(median(offered)).toLocaleString('en-US')}/s offered`
  const setup = `${instances} instance(s), ${customerCount} customers, ${seconds} s per run${lost ? `; ${lost} not delivered in time` : ''}`
  // Bare Baileys on the same sessions and traffic: what any daemon built on Baileys pays before doing anything.
  const withBare = figuresBeside(runs, bareRuns, 'bare Baileys socket (decrypt, receipt, upsert)')

  const figures: Figure[] = [
    { id: 'webhooks.inbound_offered_rate', label: 'inbound messages offered (simulator, Signal-encrypted)', unit: '/s', value: median(offered), runs: offered, target: { min: rate * 0.95, text: `≈ ${rate.toLocaleString('en-US')}/s` }, notes: setup },
    withBare('webhooks.inbound_p50', `inbound message → webhook 2xx p50 ${at}`, 'ms', (r) => r.fromSent.p50),
    withBare('webhooks.inbound_p99', `inbound message → webhook 2xx p99 ${at}`, 'ms', (r) => r.fromSent.p99, { target: { max: 50, text: '≤ 50 ms at 1,000/s' } }),
    { id: 'webhooks.inbound_p99_from_schedule', label: 'same p99, from the scheduled send time', unit: 'ms', value: median(schedP99), runs: schedP99 },
    withBare('webhooks.inbound_cpu_per_message', 'CPU per inbound message (process, all threads)', 'ms', (r) => r.cpuMsPerMessage),
    // The machine's whole budget: at `rate`/s its cores offer cores × 1000 / rate ms of CPU per message, for the
    // simulator and the receiver as well as the measured process.
    withBare('webhooks.inbound_machine_cpu_per_message', `CPU per inbound message, whole setup (measured process + simulator + receiver); ${os.cpus().length} cores offer ${((os.cpus().length * 1000) / rate).toFixed(1)} ms at ${rate.toLocaleString('en-US')}/s`, 'ms', (r) => r.machineCpuMsPerMessage),
  ]
  return { figures, details: { rate, seconds, instances, customers: customerCount, runs, bareRuns, ...(profileSummaries.length ? { profiles: profileSummaries } : {}) } }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const result = startResult('webhooks', opts)
  const only = process.env.BENCH_WEBHOOKS_ONLY
  const figures: Figure[] = []
  const details: Record<string, unknown> = {}
  if (only !== 'inbound') {
    const t = await deliveryThroughput(opts)
    figures.push(...t.figures)
    details.throughput = t.details
  }
  if (only !== 'throughput') {
    const i = await inboundLatency(opts)
    figures.push(...i.figures)
    details.inbound = i.details
  }
  return result.finish(figures, details)
}

if (isMain(import.meta.url)) await runStandalone(run)
