/**
 * The daemon as a bench sees it: a child process running src/main.ts against the simulator, driven through its
 * admin API, plus pairing N instances (admin API + the simulator's phones scanning the QRs) and preparing data
 * directories that hold a chosen subset of already-paired instances.
 */
import { takeSseEvents } from '../../test/helpers/sse.js'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { mapBounded } from './load.js'
import { httpJson, spawnNode, type NodeChild, type SimProcess } from './procs.js'

export const ADMIN_TOKEN = 'bench-admin-token-0123456789'
export const SECRET_KEY = 'bench-secret-key-0123456789-0123456789-xyz'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

export interface GatewayDirs {
  dataDir: string
  sessionsDir: string
}

export interface Gateway {
  child: NodeChild
  baseUrl: string
  /** Date.now() when the process was spawned. */
  spawnedAt: number
  /** Date.now() when it logged `gateway listening` (restore starts right after). */
  listeningAt: number
  api<T = any>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>
  instances(): Promise<InstanceView[]>
  stop(): Promise<number | null>
}

export interface InstanceView {
  id: string
  status: string
  connected_at: string | null
}

/** The daemon's environment for a bench: production defaults except where a bench says otherwise. */
export function gatewayEnv(sim: SimProcess, dirs: GatewayDirs, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: dirs.dataDir,
    SESSIONS_DIR: dirs.sessionsDir,
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    GATEWAY_SECRET_KEY: SECRET_KEY,
    WA_WS_URL: sim.wsUrl,
    WASIM_ROOT_PUBLIC_KEY: sim.rootPublicKey,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    ...extra,
  }
}

export async function spawnGateway(env: Record<string, string>, opts: { nodeArgs?: string[] } = {}): Promise<Gateway> {
  const spawnedAt = Date.now()
  const child = spawnNode('src/main.ts', { env, trustSim: true, ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}) })
  const address = await child.waitForLine((_l, json) => (json?.msg === 'gateway listening' ? String(json.address) : undefined), 60_000)
  const listeningAt = Date.now()
  const api = <T>(method: string, route: string, body?: unknown) => httpJson<T>(method, `${address}${route}`, body, auth)
  return {
    child,
    baseUrl: address,
    spawnedAt,
    listeningAt,
    api,
    async instances() {
      const res = await api<{ data: InstanceView[] }>('GET', '/api/v1/instances')
      if (res.status !== 200) throw new Error(`list instances: ${res.status}`)
      return res.body.data
    },
    stop: () => child.stop(60_000),
  }
}

/**
 * Creates `count` instances and pairs each with its own simulated phone, `concurrency` at a time: create → the
 * instance's SSE stream shows the QR → the phone scans it (simulator control API) → the stream shows `connected`.
 * Returns the instance ids in creation order.
 */
export async function pairInstances(
  gw: Gateway,
  sim: SimProcess,
  count: number,
  opts: { concurrency?: number; phonePrefix?: string; firstIndex?: number; log?: (m: string) => void } = {},
): Promise<string[]> {
  const prefix = opts.phonePrefix ?? '551190'
  const first = opts.firstIndex ?? 0
  const started = Date.now()
  let done = 0
  return mapBounded(
    Array.from({ length: count }, (_, i) => first + i),
    opts.concurrency ?? 8,
    async (i) => {
      const phone = `${prefix}${String(i).padStart(7, '0')}`
      await sim.control('POST', '/phones', { phone, pushName: `Bench ${i}` })
      const created = await gw.api<{ data: { id: string } }>('POST', '/api/v1/instances', { name: `bench-${i}` })
      if (created.status !== 201) throw new Error(`create instance: ${created.status} ${JSON.stringify(created.body)}`)
      const id = created.body.data.id
      await watchInstance(gw.baseUrl, id, async (event, data, close) => {
        if (event === 'qr') await sim.control('POST', `/phones/${phone}/scan`, { qr: (data as { qr: string }).qr })
        if (event === 'status' && (data as { to: string }).to === 'connected') close()
        if (event === 'status' && (data as { to: string }).to === 'disconnected') throw new Error(`${id} disconnected while pairing`)
      })
      done++
      if (opts.log && (done % 100 === 0 || done === count)) opts.log(`  paired ${done}/${count} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
      return id
    },
  )
}

/** Follows an instance's SSE stream until `onEvent` calls close(); rejects on its error or after `timeoutMs`. */
function watchInstance(
  baseUrl: string,
  id: string,
  onEvent: (event: string, data: unknown, close: () => void) => Promise<void> | void,
  timeoutMs = 60_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let finished = false
    const finish = (err?: unknown) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      req.destroy()
      if (err) reject(err instanceof Error ? err : new Error(String(err)))
      else resolve()
    }
    const timer = setTimeout(() => finish(new Error(`instance ${id}: not connected within ${timeoutMs} ms`)), timeoutMs)
    const req = http.get(`${baseUrl}/api/v1/instances/${id}/events`, { headers: auth }, (res) => {
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        const taken = takeSseEvents(buffer + chunk)
        buffer = taken.rest
        for (const e of taken.events) Promise.resolve(onEvent(e.event, e.data, () => finish())).catch(finish)
      })
    })
    req.on('error', (err) => finish(err))
  })
}

/**
 * Merges the instances of stopped daemons' data dirs into one: the first dir's gateway.db is copied to `target`
 * and the others' instance rows inserted (their session files already share one sessions dir).
 */
export function mergeDataDirs(sources: readonly string[], targetDataDir: string): void {
  fs.mkdirSync(targetDataDir, { recursive: true })
  for (const dir of sources) {
    const db = new BetterSqlite3(path.join(dir, 'gateway.db'))
    db.pragma('wal_checkpoint(TRUNCATE)')
    db.close()
  }
  const target = path.join(targetDataDir, 'gateway.db')
  fs.copyFileSync(path.join(sources[0]!, 'gateway.db'), target)
  const db = new BetterSqlite3(target)
  try {
    for (const dir of sources.slice(1)) {
      db.prepare('ATTACH DATABASE ? AS other').run(path.join(dir, 'gateway.db'))
      db.exec('INSERT INTO instances SELECT * FROM other.instances')
      db.exec('DETACH DATABASE other')
    }
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}

/** Instance ids in a stopped daemon's data dir, oldest first. */
export function instanceIds(dataDir: string): string[] {
  const db = new BetterSqlite3(path.join(dataDir, 'gateway.db'), { readonly: true })
  try {
    return (db.prepare('SELECT id FROM instances ORDER BY created_at, id').all() as Array<{ id: string }>).map((r) => r.id)
  } finally {
    db.close()
  }
}

/**
 * A data dir holding only `keep` of a stopped daemon's instances: gateway.db is copied and the others deleted
 * from the copy (their rows cascade). With `park`, the kept instances are marked `disconnected`, so the daemon
 * loads them (one supervisor and one open session store each) but restores none; `restartInstances` then connects
 * them. The sessions dir stays shared: the daemon opens a session file only for an instance in its database.
 */
export function copyDataDir(masterDataDir: string, targetDataDir: string, keep: readonly string[], opts: { park?: boolean } = {}): void {
  const master = path.join(masterDataDir, 'gateway.db')
  const checkpoint = new BetterSqlite3(master)
  checkpoint.pragma('wal_checkpoint(TRUNCATE)')
  checkpoint.close()
  fs.rmSync(targetDataDir, { recursive: true, force: true })
  fs.mkdirSync(targetDataDir, { recursive: true })
  const target = path.join(targetDataDir, 'gateway.db')
  fs.copyFileSync(master, target)
  const db = new BetterSqlite3(target)
  try {
    db.pragma('foreign_keys = ON')
    db.exec('CREATE TEMP TABLE keep_ids (id TEXT PRIMARY KEY)')
    const insert = db.prepare('INSERT INTO keep_ids (id) VALUES (?)')
    db.transaction(() => keep.forEach((id) => insert.run(id)))()
    db.exec('DELETE FROM instances WHERE id NOT IN (SELECT id FROM keep_ids)')
    if (opts.park) db.exec("UPDATE instances SET status = 'disconnected', status_reason = 'bench_parked'")
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}

/**
 * Connects parked instances, `concurrency` at a time, each one's slot freed only when it is `connected` (its SSE
 * stream says so): `POST /api/v1/instances/:id/restart` on a parked instance logs in with its stored session. Like the
 * daemon's own restore queue, and unlike firing every restart at once — 500 simultaneous logins take longer than
 * Baileys' connect timeout on two cores, and the timeouts feed a reconnect storm.
 */
export async function connectParked(gw: Gateway, ids: readonly string[], concurrency = 64): Promise<void> {
  await mapBounded(ids, concurrency, async (id) => {
    let requested = false
    await watchInstance(gw.baseUrl, id, async (event, data, close) => {
      const status = event === 'instance' ? (data as { status: string }).status : event === 'status' ? (data as { to: string }).to : undefined
      if (status === 'connected' && requested) return close()
      if (event === 'instance' && !requested) {
        requested = true
        const res = await gw.api('POST', `/api/v1/instances/${id}/restart`)
        if (res.status !== 200) throw new Error(`restart ${id}: ${res.status} ${JSON.stringify(res.body)}`)
      }
    }, 120_000)
  })
}

/** Polls the instance list until `count` instances are `connected`; returns the list at that moment. */
export async function waitConnected(gw: Gateway, count: number, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<InstanceView[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000)
  for (;;) {
    const list = await gw.instances()
    const connected = list.filter((i) => i.status === 'connected').length
    if (connected >= count) return list
    if (Date.now() > deadline) {
      const counts: Record<string, number> = {}
      for (const i of list) counts[i.status] = (counts[i.status] ?? 0) + 1
      throw new Error(`${count} instances not connected in time: ${JSON.stringify(counts)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 1000))
  }
}
