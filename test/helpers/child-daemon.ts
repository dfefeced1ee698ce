import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { daemonBundle } from './daemon-bundle.js'
import { probeClient } from './probe-client.js'
import { requestJson } from './http-json.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface ChildDaemon {
  baseUrl: string
  process: ChildProcess
  /** Every JSON log line the daemon printed so far. */
  logs: Record<string, unknown>[]
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>
  /** SIGKILL: no shutdown code runs, exactly like a crash. */
  kill9(): Promise<void>
  /** SIGTERM: graceful shutdown. */
  stop(): Promise<number | null>
  /**
   * process.memoryUsage() after a full GC, bytes (spawned with `memoryProbe`: bench/lib/probe-preload.ts answers
   * over IPC). Unlike RSS, which the allocators rarely give back, the heap in use falls back once the work is done,
   * so a leak shows there.
   */
  memoryAfterGc(): Promise<NodeJS.MemoryUsage>
  /** Writes a heap snapshot (`memoryProbe`); answers its file, in the repository root. */
  heapSnapshot(): Promise<string>
}

export interface SpawnDaemonOptions {
  /** Run with --expose-gc and the bench's probe preload, so that memoryAfterGc() and heapSnapshot() answer. */
  memoryProbe?: boolean
}

/**
 * Runs the real daemon (its production bundle, daemon-bundle.ts) as a child process trusting the simulator's root
 * key, and resolves once it logs that it is listening. Crash tests use it: only a separate process can be killed
 * with -9.
 */
export async function spawnDaemon(env: Record<string, string>, simRootPublicKeyBase64: string, opts: SpawnDaemonOptions = {}): Promise<ChildDaemon> {
  const build = daemonBundle()
  // One process, node itself on the compiled files: a CLI wrapper (tsx) would run the daemon in a grandchild that a
  // SIGKILL of the wrapper leaves running, which is no crash at all.
  const preloads = opts.memoryProbe ? ['--expose-gc', '--import', build.trustPreload, '--import', build.probePreload] : ['--import', build.trustPreload]
  const child = spawn(process.execPath, [...preloads, build.main], {
    cwd: ROOT,
    env: { ...process.env, ...env, WASIM_ROOT_PUBLIC_KEY: simRootPublicKeyBase64, LOG_LEVEL: env.LOG_LEVEL === 'silent' ? 'info' : (env.LOG_LEVEL ?? 'info'), LOG_PRETTY: 'false' },
    stdio: opts.memoryProbe ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    // Its own process group, so kill9 takes down anything the daemon spawned (ffmpeg) along with it.
    detached: true,
  })
  const logs: Record<string, unknown>[] = []
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return
      const entry = JSON.parse(line) as Record<string, unknown>
      logs.push(entry)
      if (entry.msg === 'gateway listening') resolve(String(entry.address))
    })
    void exited.then((code) => reject(new Error(`daemon exited with ${code} before listening:\n${stderr}`)))
  })
  const probe = opts.memoryProbe ? probeClient(child, exited) : () => Promise.reject(new Error('spawned without memoryProbe'))
  return {
    baseUrl,
    process: child,
    logs,
    request: (method, url, body, headers = {}) => requestJson(method, `${baseUrl}${url}`, body, headers),
    async kill9() {
      killGroup(child, 'SIGKILL')
      await exited
      await groupGone(child)
    },
    async stop() {
      child.kill('SIGTERM')
      const code = await exited
      await groupGone(child)
      return code
    },
    async memoryAfterGc() {
      const { gc, ...memory } = await probe<NodeJS.MemoryUsage & { gc: boolean }>('gc-memory')
      if (!gc) throw new Error('the daemon runs without --expose-gc')
      return memory
    },
    async heapSnapshot() {
      return (await probe<{ file: string }>('heap-snapshot')).file
    },
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal)
  } catch {
    child.kill(signal)
  }
}

/** Resolves once no process of the child's group is left (an ffmpeg the daemon started can outlive it by a moment). */
async function groupGone(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.pid === undefined) return
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      process.kill(-child.pid, 0)
    } catch {
      return
    }
    if (Date.now() > deadline) {
      killGroup(child, 'SIGKILL')
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
