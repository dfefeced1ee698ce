/**
 * The processes a bench drives: the simulator (`test/wasim/cli.ts` under tsx, in its own process so it never
 * pollutes a measured one), and the measured ones — the daemon (`src/main.ts`) and the bare Baileys baseline —
 * compiled to JavaScript first (build.ts) and run as one plain node process each, with the probe preloaded.
 */
import { requestJson } from '../../test/helpers/http-json.js'
import { probeClient } from '../../test/helpers/probe-client.js'
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import { compiled } from './build.js'
import { assertLoopback } from './load.js'
import { ROOT_DIR } from './results.js'

export const SIM_CA = path.join(ROOT_DIR, 'test/wasim/certs/ca.pem')

/** Every child still running: killed when this process exits, however it exits, so no simulator or daemon outlives a bench. */
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130))
}
const PROBE = 'bench/lib/probe-preload.ts'
const TRUST = 'test/wasim/trust-preload.ts'

export interface NodeChild {
  pid: number
  process: ChildProcess
  /** Every stdout line so far (capped). */
  lines: string[]
  stderr(): string
  exited: Promise<number | null>
  /** Asks the probe preload (see probe-preload.ts). */
  probe<T = Record<string, number>>(cmd: 'memory' | 'gc-memory' | 'lag' | 'lag-reset'): Promise<T>
  /** Resolves with the first stdout line `match` accepts (JSON lines are parsed first). */
  waitForLine<T = unknown>(match: (line: string, json: Record<string, unknown> | undefined) => T | undefined, timeoutMs?: number): Promise<T>
  /** A message to the child's own IPC handlers. */
  send(message: Record<string, unknown>): void
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>
}

export interface SpawnOptions {
  env?: Record<string, string>
  /** Node flags before the script, e.g. --cpu-prof. */
  nodeArgs?: string[]
  args?: string[]
  /** Trust the simulator's root key (test/wasim/trust-preload.ts). */
  trustSim?: boolean
  /** Run the TypeScript through tsx instead of the compiled JavaScript (the simulator; never a measured process). */
  tsx?: boolean
}

/**
 * `node --expose-gc [--import trust] --import probe <script>` in the repository root, on the compiled JavaScript
 * (or through `--import tsx`, with `tsx: true`). `script` is the repository-relative .ts path either way.
 */
export function spawnNode(script: string, opts: SpawnOptions = {}): NodeChild {
  const js = (ts: string) => (opts.tsx ? `./${ts}` : compiled(ts))
  // BENCH_ALS_SHIM=1: experiment, every measured process gets lib/als-shim-preload.ts first (see there).
  const shim = !opts.tsx && process.env.BENCH_ALS_SHIM === '1' ? ['--import', js('bench/lib/als-shim-preload.ts')] : []
  const imports = [...shim, ...(opts.tsx ? ['--import', 'tsx'] : []), ...(opts.trustSim ? ['--import', js(TRUST)] : []), '--import', js(PROBE)]
  const child = spawn(process.execPath, ['--expose-gc', ...imports, ...(opts.nodeArgs ?? []), js(script), ...(opts.args ?? [])], {
    cwd: ROOT_DIR,
    env: { ...process.env, NODE_EXTRA_CA_CERTS: SIM_CA, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  if (child.pid === undefined) throw new Error(`could not spawn ${script}`)
  live.add(child)
  child.once('exit', () => live.delete(child))
  const lines: string[] = []
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-64 * 1024)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))))
  const waiters = new Set<(line: string, json: Record<string, unknown> | undefined) => void>()
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    if (lines.length < 20_000) lines.push(line)
    let json: Record<string, unknown> | undefined
    if (line.startsWith('{')) {
      try {
        json = JSON.parse(line) as Record<string, unknown>
      } catch {
        // not JSON after all
      }
    }
    for (const w of waiters) w(line, json)
  })
  const probe = probeClient(child, exited)

  return {
    pid: child.pid,
    process: child,
    lines,
    stderr: () => stderr,
    exited,
    probe,
    waitForLine<T>(match: (line: string, json: Record<string, unknown> | undefined) => T | undefined, timeoutMs = 60_000) {
      return new Promise<T>((resolve, reject) => {
        const done = (fn: () => void) => {
          clearTimeout(timer)
          waiters.delete(check)
          fn()
        }
        const check = (line: string, json: Record<string, unknown> | undefined) => {
          const found = match(line, json)
          if (found !== undefined) done(() => resolve(found))
        }
        const timer = setTimeout(() => done(() => reject(new Error(`${script}: no matching line within ${timeoutMs} ms\n${stderr}`))), timeoutMs)
        void exited.then((code) => done(() => reject(new Error(`${script} exited with ${code}\n${stderr.slice(-4000)}`))))
        for (const line of lines) {
          let json: Record<string, unknown> | undefined
          try {
            json = line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : undefined
          } catch {
            json = undefined
          }
          const found = match(line, json)
          if (found !== undefined) return done(() => resolve(found))
        }
        waiters.add(check)
      })
    },
    send(message) {
      child.send(message)
    },
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

/** A JSON request to a loopback URL; the body parsed when it is JSON. */
export async function httpJson<T = any>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  assertLoopback(url)
  return requestJson<T>(method, url, body, headers)
}

export interface SimProcess {
  child: NodeChild
  wsUrl: string
  controlUrl: string
  rootPublicKey: string
  control<T = any>(method: string, route: string, body?: unknown): Promise<T>
  stop(): Promise<void>
}

/**
 * `npm run sim` as a child. `preKeyCountFloor` is the bench-only simulator knob (see test/wasim README): freshly
 * paired clients then skip generating and uploading 812 pre-keys.
 */
export async function spawnSim(opts: { preKeyCountFloor?: number; nodeArgs?: string[] } = {}): Promise<SimProcess> {
  const child = spawnNode('test/wasim/cli.ts', {
    tsx: true,
    args: ['--no-media', ...(opts.preKeyCountFloor ? ['--prekey-count-floor', String(opts.preKeyCountFloor)] : [])],
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
  })
  return simProcess(child)
}

export interface BenchSimProcess extends SimProcess {
  /** A bench command to bench-sim.ts over IPC (see there), answered with its data. */
  command<T>(message: Record<string, unknown>): Promise<T>
}

/** The simulator with the bench commands of lib/bench-sim.ts: load source and observer for webhooks.ts and sends.ts. */
export async function spawnBenchSim(): Promise<BenchSimProcess> {
  const child = spawnNode('bench/lib/bench-sim.ts', { tsx: true })
  const sim = await simProcess(child)
  let next = 0
  const waiting = new Map<string, (data: unknown) => void>()
  child.process.on('message', (m: { id?: unknown; data?: unknown }) => {
    if (typeof m.id === 'string') waiting.get(m.id)?.(m.data)
  })
  return {
    ...sim,
    command<T>(message: Record<string, unknown>) {
      const id = `bench-${next++}`
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, (data) => {
          waiting.delete(id)
          const error = (data as { error?: string } | undefined)?.error
          if (error) reject(new Error(`bench-sim: ${error}`))
          else resolve(data as T)
        })
        child.send({ ...message, id })
      })
    },
  }
}

/** A simulator child once it printed its `started` line: its addresses and control API. */
async function simProcess(child: NodeChild): Promise<SimProcess> {
  const started = await child.waitForLine((_l, json) => (json?.event === 'started' ? json : undefined), 60_000)
  const controlUrl = String(started.controlUrl)
  return {
    child,
    wsUrl: String(started.wsUrl),
    controlUrl,
    rootPublicKey: String(started.rootPublicKey),
    async control<T>(method: string, route: string, body?: unknown): Promise<T> {
      const res = await httpJson<T>(method, `${controlUrl}${route}`, body)
      if (res.status !== 200) throw new Error(`sim ${method} ${route}: ${res.status} ${JSON.stringify(res.body)}`)
      return res.body
    },
    async stop() {
      await child.stop(5_000)
    },
  }
}
