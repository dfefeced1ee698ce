/**
 * Memory per connected idle session, daemon vs bare Baileys, measured in the same run (bench/README.md):
 *
 * - daemon: src/main.ts as a child, with the N paired instances of the fixture loaded but parked (`disconnected`),
 *   then connected in steps (admin API restart, 64 logins at a time like the bare process) to each size; per session = (RSS(n) − RSS(0 connected)) / n plus
 *   the per-instance cost of a loaded, unconnected instance, (RSS(N parked) − RSS(no instances)) / N.
 * - bare: bench/lib/bare-baileys-child.ts, Baileys loaded and no socket, then grown to each size; (RSS(n) − RSS(0)) / n.
 *
 * RSS is read after a forced GC, sampled until its slope over the last samples is flat.
 * BENCH_SESSIONS=100,500,1000 (default; BENCH_QUICK=1: 5,10), BENCH_RUNS (default 3), BENCH_SESSIONS_BUDGET_S
 * (no new run starts once the next would end past it; default 600, counted from the start, pairing included).
 */
import { MiB, settleMemory, type Settled } from './lib/memory.js'
import { envInt, envList, isMain, runStandalone, startResult } from './lib/main.js'
import { acquireFixture, PREKEY_COUNT_FLOOR, spawnBare, type Fixture } from './lib/fixture.js'
import { connectParked, gatewayEnv, spawnGateway, waitConnected } from './lib/gateway.js'
import type { NodeChild } from './lib/procs.js'
import { combineRuns, median } from './lib/stats.js'
import type { BenchOptions, BenchResult, Figure } from './lib/types.js'

type GcMemory = NodeJS.MemoryUsage & { gc: boolean }

interface Point {
  /** Connected sessions. */
  n: number
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
  /** Connecting the sessions added since the previous point, ms. */
  growMs: number
  settled: boolean
  settleMs: number
}

interface RunSamples {
  run: number
  /** Daemon with no instance at all (measured in the first run only). */
  daemonEmpty: Point
  /** Daemon with every fixture instance loaded and parked (n = 0 connected), then each size. */
  daemon: Point[]
  /** Bare process with Baileys loaded and no socket (n = 0), then each size. */
  bare: Point[]
  durationMs: number
}

/** Forced GC, then RSS until it stops moving. */
async function measure(child: NodeChild, n: number, growMs: number): Promise<Point> {
  let last: GcMemory | undefined
  const settled: Settled = await settleMemory({
    sample: async () => {
      last = await child.probe<GcMemory>('gc-memory')
      if (!last.gc) throw new Error('the child runs without --expose-gc')
      return last.rss
    },
    intervalMs: 1000,
    window: 6,
    toleranceBytes: 2 * MiB,
    toleranceFraction: 0.005,
    minMs: 10_000,
    maxMs: 60_000,
  })
  return {
    n,
    rss: settled.bytes,
    heapUsed: last!.heapUsed,
    external: last!.external,
    arrayBuffers: last!.arrayBuffers,
    growMs,
    settled: settled.settled,
    settleMs: settled.elapsedMs,
  }
}

async function daemonEmpty(fx: Fixture): Promise<Point> {
  const gw = await spawnGateway(gatewayEnv(fx.sim, fx.dataDirFor(0)))
  try {
    return await measure(gw.child, 0, 0)
  } finally {
    await gw.stop()
  }
}

async function daemonSeries(fx: Fixture, sizes: readonly number[], log: (m: string) => void): Promise<Point[]> {
  const maxN = Math.max(...sizes)
  const gw = await spawnGateway(gatewayEnv(fx.sim, fx.dataDirFor(maxN, { park: true })))
  try {
    const loaded = await gw.instances()
    if (loaded.length !== maxN || loaded.some((i) => i.status === 'connected')) throw new Error('parked daemon did not load its instances as expected')
    const points = [await measure(gw.child, 0, 0)]
    let connected = 0
    for (const n of sizes) {
      const started = Date.now()
      await connectParked(gw, fx.ids.slice(connected, n))
      await waitConnected(gw, n, { pollMs: 500, timeoutMs: 60_000 })
      connected = n
      points.push(await measure(gw.child, n, Date.now() - started))
      log(`  daemon ${n} connected: RSS ${(points.at(-1)!.rss / MiB).toFixed(1)} MiB`)
    }
    return points
  } finally {
    await gw.stop()
  }
}

async function bareSeries(fx: Fixture, sizes: readonly number[], log: (m: string) => void): Promise<Point[]> {
  const maxN = Math.max(...sizes)
  const child = spawnBare(fx, maxN, { open: 0 })
  const ready = (count: number) => child.waitForLine((_l, json) => (json?.event === 'ready' && json.count === count ? json : undefined), 300_000)
  try {
    await ready(0)
    const points = [await measure(child, 0, 0)]
    for (const n of sizes) {
      const started = Date.now()
      child.send({ type: 'grow', count: n })
      await ready(n)
      const closed = child.lines.filter((l) => l.includes('"event":"closed"'))
      if (closed.length > 0) throw new Error(`bare sockets closed: ${closed.slice(0, 3).join(' ')}`)
      points.push(await measure(child, n, Date.now() - started))
      log(`  bare ${n} open: RSS ${(points.at(-1)!.rss / MiB).toFixed(1)} MiB`)
    }
    return points
  } finally {
    await child.stop(10_000)
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const started = Date.now()
  const result = startResult(process.env.BENCH_ALS_SHIM === '1' ? 'sessions-als-shim' : 'sessions', opts)
  const sizes = [...new Set(envList('BENCH_SESSIONS', opts.quick ? [5, 10] : [100, 500, 1000]).filter((n) => n > 0))].sort((a, b) => a - b)
  const budgetMs = envInt('BENCH_SESSIONS_BUDGET_S', 600) * 1000
  const maxN = Math.max(...sizes)
  const fx = await acquireFixture(maxN, opts.log)
  const runs: RunSamples[] = []
  try {
    for (let r = 0; r < opts.runs; r++) {
      const last = runs.at(-1)?.durationMs ?? 0
      if (r > 0 && Date.now() - started + last > budgetMs) {
        opts.log(`sessions: stopping after ${r} run(s): another would pass the ${budgetMs / 1000} s budget`)
        break
      }
      const runStarted = Date.now()
      opts.log(`sessions run ${r + 1}/${opts.runs}`)
      // The no-instance daemon is a fixed cost measured once; the per-instance figure uses it with each run's parked RSS.
      const empty = runs[0]?.daemonEmpty ?? (await daemonEmpty(fx))
      const daemon = await daemonSeries(fx, sizes, opts.log)
      const bare = await bareSeries(fx, sizes, opts.log)
      runs.push({ run: r, daemonEmpty: empty, daemon, bare, durationMs: Date.now() - runStarted })
    }
  } finally {
    await fx.release()
  }

  const point = (series: Point[], n: number) => series.find((p) => p.n === n)!
  const perInstance = runs.map((s) => (point(s.daemon, 0).rss - s.daemonEmpty.rss) / maxN / MiB)
  const daemonPer = (n: number) =>
    runs.map((s) => (point(s.daemon, n).rss - point(s.daemon, 0).rss) / n / MiB + (point(s.daemon, 0).rss - s.daemonEmpty.rss) / maxN / MiB)
  const barePer = (n: number) => runs.map((s) => (point(s.bare, n).rss - point(s.bare, 0).rss) / n / MiB)
  const heapPer = (key: 'daemon' | 'bare', n: number) => median(runs.map((s) => (point(s[key], n).heapUsed - point(s[key], 0).heapUsed) / n / MiB))

  const figures: Figure[] = sizes.map((n) => {
    const daemon = daemonPer(n)
    const bare = barePer(n)
    const { value, ratio } = combineRuns(daemon, bare)
    return {
      id: `sessions.memory_per_session_${n}`,
      label: `memory per idle session, ${n} sessions`,
      unit: 'MiB',
      value,
      runs: daemon,
      baseline: { label: 'bare Baileys', value: median(bare), runs: bare },
      ratio: ratio!,
      target: { max: 8, maxRatio: 1.25, text: '≤ 8 MB and ≤ 1.25× bare' },
      notes: `JS heap part: daemon ${heapPer('daemon', n).toFixed(3)} MiB, bare ${heapPer('bare', n).toFixed(3)} MiB per session`,
    }
  })
  figures.push({
    id: 'sessions.memory_per_loaded_instance',
    label: 'of which: a loaded instance before it connects',
    unit: 'MiB',
    value: median(perInstance),
    runs: perInstance,
    notes: `(RSS(${maxN} parked) − RSS(no instances)) / ${maxN}: supervisor, session store (its SQLite file stays closed until used), rows`,
  })
  const base = (series: (s: RunSamples) => number) => runs.map((s) => series(s) / MiB)
  const daemonBase = base((s) => s.daemonEmpty.rss)
  const bareBase = base((s) => point(s.bare, 0).rss)
  figures.push({
    id: 'sessions.rss_baseline',
    label: 'RSS, process with no session',
    unit: 'MiB',
    value: median(daemonBase),
    runs: daemonBase,
    baseline: { label: 'bare Baileys', value: median(bareBase), runs: bareBase },
    ratio: combineRuns(daemonBase, bareBase).ratio!,
  })
  const daemonTop = base((s) => point(s.daemon, maxN).rss)
  const bareTop = base((s) => point(s.bare, maxN).rss)
  figures.push({
    id: `sessions.rss_${maxN}`,
    label: `RSS, ${maxN} connected sessions`,
    unit: 'MiB',
    value: median(daemonTop),
    runs: daemonTop,
    baseline: { label: 'bare Baileys', value: median(bareTop), runs: bareTop },
    ratio: combineRuns(daemonTop, bareTop).ratio!,
  })
  figures.push({
    id: 'sessions.connected_in_one_process',
    label: 'connected sessions in one process',
    unit: '',
    value: maxN,
    runs: runs.map(() => maxN),
    target: { min: 1000, text: '≥ 1,000' },
    notes: 'every run had all of them connected at once (a session failing to connect aborts the bench)',
  })
  return result.finish(figures, {
    sizes,
    runsCompleted: runs.length,
    pairing: { sessions: fx.ids.length, ms: fx.pairingMs, preKeyCountFloor: PREKEY_COUNT_FLOOR },
    runs,
  })
}

if (isMain(import.meta.url)) await runStandalone(run)
