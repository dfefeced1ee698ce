/**
 * Restore at boot: a daemon whose data dir holds N paired instances (default 500) starts, and every instance must be
 * `connected` again; measured from process spawn to the last instance's `connected_at`, with the daemon's
 * event-loop lag meanwhile (the probe preload's monitorEventLoopDelay, from the moment the HTTP server listens —
 * restore starts right then — to the last connect). Baseline, in the same run: a bare Baileys process opening the
 * same sessions with the same concurrency. See bench/README.md.
 *
 * BENCH_RESTORE_SESSIONS (default 500; BENCH_QUICK=1: 10), BENCH_RUNS (default 3), RESTORE_CONCURRENCY (the
 * daemon's own setting; default: the daemon's default), BENCH_CPU_PROF=1 (profile the daemon, see README),
 * BENCH_RESTORE_WASM_VERIFY=1 (experiment: the daemon verifies signatures with the WASM bridge, see
 * lib/wasm-verify-preload.ts; the result is written as restore-wasm-verify).
 */
import fs from 'node:fs'
import path from 'node:path'
import { formatProfile, summarizeProfile } from './lib/cpuprofile.js'
import { acquireFixture, spawnBare, type Fixture } from './lib/fixture.js'
import { gatewayEnv, spawnGateway, type Gateway } from './lib/gateway.js'
import { envInt, isMain, runStandalone, startResult } from './lib/main.js'
import { compiled } from './lib/build.js'
import { RESULTS_DIR } from './lib/results.js'
import { combineRuns, median } from './lib/stats.js'
import type { BenchOptions, BenchResult, Figure } from './lib/types.js'

interface Lag {
  p50: number
  p99: number
  max: number
  mean: number
  count: number
  since: number
  /** CPU time of the process over the lag window. */
  cpuMs: number
}

interface RestoreRun {
  run: number
  /** Spawn → last instance connected, ms. */
  bootMs: number
  /** `gateway listening` → last instance connected, ms. */
  restoreMs: number
  /** Spawn → `gateway listening`, ms. */
  startMs: number
  lag: Lag
  /** p99 from the daemon's own /metrics (prom-client, reset by a scrape at listen), when it serves one. */
  metricsLagP99Ms?: number
  bare: { openMs: number; lag: Lag }
  profile?: string
}

/** nodejs_eventloop_lag_p99_seconds from /metrics, ms; undefined when the daemon has no /metrics (yet). */
async function scrapeLagP99(gw: Gateway): Promise<number | undefined> {
  const res = await gw.api<string>('GET', '/metrics').catch(() => undefined)
  if (!res || res.status !== 200 || typeof res.body !== 'string') return undefined
  const match = /^nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})?\s+([\d.eE+-]+)$/m.exec(res.body)
  return match ? Number(match[1]) * 1000 : undefined
}

async function restoreOnce(fx: Fixture, n: number, run: number, profileDir: string | undefined): Promise<Omit<RestoreRun, 'bare'>> {
  const concurrency = process.env.RESTORE_CONCURRENCY
  const env = gatewayEnv(fx.sim, fx.dataDirFor(n), concurrency ? { RESTORE_CONCURRENCY: concurrency } : {})
  const nodeArgs = [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ...(process.env.BENCH_RESTORE_WASM_VERIFY === '1' ? ['--import', compiled('bench/lib/wasm-verify-preload.ts')] : []),
  ]
  const gw = await spawnGateway(env, { nodeArgs })
  let stopped = false
  try {
    const metricsAtListen = await scrapeLagP99(gw)
    const deadline = Date.now() + 300_000
    let lastConnectedAt = 0
    for (;;) {
      const list = await gw.instances()
      const connected = list.filter((i) => i.status === 'connected')
      if (list.length === n && connected.length === n) {
        lastConnectedAt = Math.max(...connected.map((i) => Date.parse(i.connected_at ?? '')))
        break
      }
      if (Date.now() > deadline) throw new Error(`restore: ${connected.length}/${n} connected after 300 s`)
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const lag = await gw.child.probe<Lag>('lag')
    const metricsLagP99Ms = metricsAtListen === undefined ? undefined : await scrapeLagP99(gw)
    await gw.stop()
    stopped = true
    let profile: string | undefined
    if (profileDir) profile = newestProfile(profileDir, gw.child.pid)
    return {
      run,
      bootMs: lastConnectedAt - gw.spawnedAt,
      restoreMs: lastConnectedAt - gw.listeningAt,
      startMs: gw.listeningAt - gw.spawnedAt,
      lag,
      ...(metricsLagP99Ms !== undefined ? { metricsLagP99Ms } : {}),
      ...(profile ? { profile } : {}),
    }
  } finally {
    if (!stopped) await gw.stop()
  }
}

/** The bare baseline: Baileys loaded first, then the same sessions opened with the same concurrency. */
async function bareOnce(fx: Fixture, n: number, concurrency: number): Promise<RestoreRun['bare']> {
  const child = spawnBare(fx, n, { open: 0, concurrency })
  try {
    await child.waitForLine((_l, json) => (json?.event === 'ready' && json.count === 0 ? json : undefined))
    await child.probe('lag-reset')
    const started = Date.now()
    child.send({ type: 'grow', count: n })
    await child.waitForLine((_l, json) => (json?.event === 'ready' && json.count === n ? json : undefined), 300_000)
    const openMs = Date.now() - started
    const lag = await child.probe<Lag>('lag')
    const closed = child.lines.filter((l) => l.includes('"event":"closed"'))
    if (closed.length > 0) throw new Error(`bare sockets closed: ${closed.slice(0, 3).join(' ')}`)
    return { openMs, lag }
  } finally {
    await child.stop(10_000)
  }
}

/** The main-thread profile the daemon wrote on exit (thread 0; tsx-free builds have no loader thread). */
function newestProfile(dir: string, pid: number): string | undefined {
  const file = fs.readdirSync(dir).find((f) => f.includes(`.${pid}.0.`) && f.endsWith('.cpuprofile'))
  return file ? path.join(dir, file) : undefined
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const variant = [process.env.BENCH_ALS_SHIM === '1' ? 'als-shim' : '', process.env.BENCH_RESTORE_WASM_VERIFY === '1' ? 'wasm-verify' : ''].filter(Boolean)
  const result = startResult(['restore', ...variant].join('-'), opts)
  const n = envInt('BENCH_RESTORE_SESSIONS', opts.quick ? 10 : 500)
  const concurrency = envInt('RESTORE_CONCURRENCY', 8)
  const profileDir = process.env.BENCH_CPU_PROF === '1' ? path.join(RESULTS_DIR, 'profiles') : undefined
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true })
  const fx = await acquireFixture(n, opts.log)
  const runs: RestoreRun[] = []
  try {
    for (let r = 0; r < opts.runs; r++) {
      const daemon = await restoreOnce(fx, n, r, profileDir)
      const bare = await bareOnce(fx, n, concurrency)
      runs.push({ ...daemon, bare })
      opts.log(
        `restore run ${r + 1}/${opts.runs}: ${n} connected ${(daemon.bootMs / 1000).toFixed(1)} s after spawn ` +
          `(${(daemon.restoreMs / 1000).toFixed(1)} s after listen), lag p99 ${daemon.lag.p99.toFixed(1)} ms max ${daemon.lag.max.toFixed(0)} ms, CPU ${(daemon.lag.cpuMs / n).toFixed(1)} ms/session; ` +
          `bare ${(bare.openMs / 1000).toFixed(1)} s, lag p99 ${bare.lag.p99.toFixed(1)} ms, CPU ${(bare.lag.cpuMs / n).toFixed(1)} ms/session`,
      )
    }
  } finally {
    await fx.release()
  }
  const seconds = (ms: number) => ms / 1000
  const boot = runs.map((r) => seconds(r.bootMs))
  const restore = runs.map((r) => seconds(r.restoreMs))
  const bareOpen = runs.map((r) => seconds(r.bare.openMs))
  const lagP99 = runs.map((r) => r.lag.p99)
  const bareLagP99 = runs.map((r) => r.bare.lag.p99)
  const lagMax = runs.map((r) => r.lag.max)
  const cpuPer = runs.map((r) => r.lag.cpuMs / n)
  const bareCpuPer = runs.map((r) => r.bare.lag.cpuMs / n)
  const bareLagMax = runs.map((r) => r.bare.lag.max)
  const figures: Figure[] = [
    {
      id: 'restore.boot_to_all_connected',
      label: `restore at boot: ${n} sessions connected`,
      unit: 's',
      value: median(boot),
      runs: boot,
      target: { max: 60, text: '≤ 60 s' },
      notes: `from process spawn; restore concurrency ${concurrency}`,
    },
    {
      id: 'restore.listen_to_all_connected',
      label: `  of which after listen (restore proper)`,
      unit: 's',
      value: median(restore),
      runs: restore,
      baseline: { label: `bare Baileys, same ${concurrency} at once`, value: median(bareOpen), runs: bareOpen },
      ratio: combineRuns(restore, bareOpen).ratio!,
    },
    {
      id: 'restore.cpu_per_session',
      label: '  CPU time per restored session',
      unit: 'ms',
      value: median(cpuPer),
      runs: cpuPer,
      baseline: { label: 'bare Baileys', value: median(bareCpuPer), runs: bareCpuPer },
      ratio: combineRuns(cpuPer, bareCpuPer).ratio!,
      notes: 'process CPU (user + system, all threads) from listen to the last connect, ÷ sessions; not inflated by a busy machine',
    },
    {
      id: 'restore.event_loop_lag_p99',
      label: 'event-loop lag p99 during restore',
      unit: 'ms',
      value: median(lagP99),
      runs: lagP99,
      baseline: { label: 'bare Baileys', value: median(bareLagP99), runs: bareLagP99 },
      ratio: combineRuns(lagP99, bareLagP99).ratio!,
      target: { max: 100, text: '< 100 ms' },
      notes: 'monitorEventLoopDelay (10 ms resolution) in the daemon, from listen to the last connect',
    },
    {
      id: 'restore.event_loop_lag_max',
      label: 'event-loop lag max during restore',
      unit: 'ms',
      value: median(lagMax),
      runs: lagMax,
      baseline: { label: 'bare Baileys', value: median(bareLagMax), runs: bareLagMax },
      ratio: combineRuns(lagMax, bareLagMax).ratio!,
    },
  ]
  const metricsRuns = runs.map((r) => r.metricsLagP99Ms).filter((v): v is number => v !== undefined)
  if (metricsRuns.length === runs.length) {
    figures.push({ id: 'restore.metrics_lag_p99', label: 'lag p99 as /metrics reports it', unit: 'ms', value: median(metricsRuns), runs: metricsRuns })
  }
  const profiles = runs.map((r) => r.profile).filter((p): p is string => p !== undefined)
  if (profiles[0]) {
    const text = formatProfile(profiles[0], 30)
    fs.writeFileSync(`${profiles[0]}.txt`, `${text}\n`)
    opts.log(`restore: daemon CPU profile summary in ${profiles[0]}.txt`)
  }
  return result.finish(figures, {
    sessions: n,
    restoreConcurrency: concurrency,
    metricsEndpoint: metricsRuns.length > 0,
    runs,
    ...(profiles[0] ? { profileTop: summarizeProfile(profiles[0]).frames.sort((a, b) => b.selfMs - a.selfMs).slice(0, 15) } : {}),
  })
}

if (isMain(import.meta.url)) await runStandalone(run)
