/**
 * A prepared population of paired sessions: one daemon pairs `count` instances against a simulator process and is
 * stopped; its sessions dir and a copy of its data dir (a subset of the instances each) are then reused by later
 * daemons and by the bare Baileys baseline. The simulator keeps its accounts in memory, so it stays up for as long
 * as the fixture is used.
 *
 * Pairing is the slow part, so one fixture is shared by every bench in a process: `acquireFixture` hands out the
 * current one when it holds enough sessions (run.ts runs sessions.ts, 1,000, before restore.ts, 500).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { copyDataDir, gatewayEnv, instanceIds, mergeDataDirs, pairInstances, SECRET_KEY, spawnGateway, type GatewayDirs } from './gateway.js'
import { envInt } from './main.js'
import { spawnNode, spawnSim, type NodeChild, type SimProcess } from './procs.js'

/** What the bench simulator reports as the server's pre-key count (Baileys' INITIAL_PREKEY_COUNT). */
export const PREKEY_COUNT_FLOOR = 812

export interface Fixture {
  root: string
  sim: SimProcess
  masterDataDir: string
  sessionsDir: string
  /** Paired instance ids, oldest first. */
  ids: string[]
  pairingMs: number
  /**
   * A data dir whose database holds the first `n` instances; see copyDataDir on `park`. A plain one is made once and
   * reused (a graceful stop leaves its instances `connected`, to be restored again); a parked one is made afresh
   * each time, since the run that used it connected its instances.
   */
  dataDirFor(n: number, opts?: { park?: boolean }): GatewayDirs
  /** Done with it: the last holder's release stops the simulator and deletes the files (unless kept, see below). */
  release(): Promise<void>
}

let shared: { fixture: Fixture; holders: number; close(): Promise<void> } | undefined
let keepShared = false

/** run.ts: keep the shared fixture between benches, until `closeSharedFixture`. */
export function keepSharedFixture(): void {
  keepShared = true
}

export async function closeSharedFixture(): Promise<void> {
  keepShared = false
  const current = shared
  shared = undefined
  await current?.close()
}

export async function acquireFixture(count: number, log: (m: string) => void): Promise<Fixture> {
  if (shared && shared.fixture.ids.length >= count) {
    shared.holders++
    log(`reusing ${shared.fixture.ids.length} paired sessions`)
    return shared.fixture
  }
  if (shared && shared.holders === 0) await closeSharedFixture()
  const made = await prepareFixture(count, log)
  const entry = {
    fixture: made.fixture,
    holders: 1,
    close: made.close,
  }
  made.fixture.release = async () => {
    entry.holders--
    if (entry.holders > 0 || (keepShared && shared === entry)) return
    if (shared === entry) shared = undefined
    await entry.close()
  }
  if (!shared) shared = entry
  return made.fixture
}

async function prepareFixture(count: number, log: (m: string) => void): Promise<{ fixture: Fixture; close(): Promise<void> }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-bench-'))
  const sim = await spawnSim({ preKeyCountFloor: PREKEY_COUNT_FLOOR })
  const masterDataDir = path.join(root, 'master')
  const sessionsDir = path.join(root, 'sessions')
  const started = Date.now()
  // A pairing is ~150 ms of CPU on the daemon's main thread (mostly pure-JS signature checks) and much less in the
  // simulator, so several daemons pair in parallel, each into its own data dir; the dirs are merged afterwards.
  const daemons = Math.max(1, Math.min(envInt('BENCH_PAIRING_DAEMONS', 2), count))
  log(`pairing ${count} instances through ${daemons} daemon(s)' admin API (simulator pre-key floor ${PREKEY_COUNT_FLOOR})`)
  const parts = Array.from({ length: daemons }, (_, k) => {
    const first = Math.floor((k * count) / daemons)
    return { dataDir: path.join(root, `pairing-${k}`), first, count: Math.floor(((k + 1) * count) / daemons) - first }
  })
  const paired = Promise.all(
    parts.map(async (part, k) => {
      const gw = await spawnGateway(gatewayEnv(sim, { dataDir: part.dataDir, sessionsDir }))
      try {
        await pairInstances(gw, sim, part.count, { concurrency: 8, firstIndex: part.first, ...(k === 0 ? { log } : {}) })
      } finally {
        await gw.stop()
      }
    }),
  )
  try {
    await paired
  } catch (err) {
    await sim.stop()
    fs.rmSync(root, { recursive: true, force: true })
    throw err
  }
  mergeDataDirs(
    parts.map((p) => p.dataDir),
    masterDataDir,
  )
  const pairingMs = Date.now() - started
  const ids = instanceIds(masterDataDir)
  if (ids.length !== count) throw new Error(`expected ${count} paired instances, found ${ids.length}`)
  const made = new Set<string>()
  const close = async () => {
    await sim.stop()
    fs.rmSync(root, { recursive: true, force: true })
  }
  const fixture: Fixture = {
    root,
    sim,
    masterDataDir,
    sessionsDir,
    ids,
    pairingMs,
    dataDirFor(n, opts = {}) {
      const key = `${opts.park ? 'parked' : 'data'}-${n}`
      const dataDir = path.join(root, key)
      if (!made.has(key) || opts.park) copyDataDir(masterDataDir, dataDir, ids.slice(0, n), opts)
      made.add(key)
      return { dataDir, sessionsDir }
    },
    release: close,
  }
  return { fixture, close }
}

/** The bare Baileys baseline (bare-baileys-child.ts) over the first `n` sessions; opens `open` of them at once. */
export function spawnBare(fx: Fixture, n: number, opts: { open?: number; concurrency?: number; nodeArgs?: string[] } = {}): NodeChild {
  return spawnNode('bench/lib/bare-baileys-child.ts', {
    trustSim: true,
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
    env: {
      WASIM_ROOT_PUBLIC_KEY: fx.sim.rootPublicKey,
      BARE_WS_URL: fx.sim.wsUrl,
      BARE_SESSIONS_DIR: fx.sessionsDir,
      BARE_SECRET_KEY: SECRET_KEY,
      BARE_IDS: fx.ids.slice(0, n).join(','),
      BARE_OPEN: String(opts.open ?? n),
      BARE_CONCURRENCY: String(opts.concurrency ?? 64),
    },
  })
}
