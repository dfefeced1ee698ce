/**
 * The durable floor of webhook delivery: the bare undici POST loop plus only the writes that any outbox which
 * survives a crash must make — per delivery an event row (with its body) and a delivery row, written by the producer
 * in transactions of 200 as the benchmark's producer does, and the delivery's status, updated once its POST is
 * answered, one transaction per event-loop turn. Nothing else: no secondary index, no signature, no claim or lease,
 * no attempt log, no retry bookkeeping, bodies never read back. Same pragmas as the daemon (WAL, synchronous NORMAL),
 * same concurrency and body as the other two loops.
 *
 * It answers how much of the bare loop's rate is left once deliveries are durable at all on this machine, so the
 * daemon's figure can be read against what no durable design can beat here.
 *
 * With `contract`, the same loop also does the work the contract asks of every event and delivery, with the
 * daemon's own functions and nothing of its design around them: the envelope (a time-ordered event id, the
 * occurrence time, JSON) is built per event; events and deliveries get the daemon's text ids, each UNIQUE (receivers
 * dedupe on the event id, the API finds a delivery by its id); every POST carries both signatures (signDelivery) and
 * the daemon's headers under a 10 s deadline; the status update appends the attempt to the delivery's log. Still no
 * per-endpoint bookkeeping, retry schedule, deliveries-log index or in-memory hand-over.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Pool } from 'undici'
import { USER_AGENT } from '../../src/events/delivery-worker.js'
import { signDelivery } from '../../src/events/signing.js'
import { timeOrderedId } from '../../src/ids.js'

const PRODUCER_BATCH = 200

/** `count` deliveries of `body` to `url`, `concurrency` at a time; answers deliveries/s (first append → last status committed). */
export async function durableFloorLoop(url: string, body: Buffer, count: number, concurrency: number, opts: { contract?: boolean } = {}): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-floor-'))
  const db = new BetterSqlite3(path.join(dir, 'floor.db'))
  const pool = new Pool(new URL(url).origin, { connections: concurrency })
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    const work = opts.contract ? contractWork(db, body) : bareWork(db, body)
    const append = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) work.append(i)
    })
    const settle = db.transaction((ids: number[]) => {
      for (const id of ids) work.markDone(id)
    })

    const idle: Array<() => void> = []
    let appended = 0
    let taken = 0
    let settled = 0
    let answered: number[] = []
    let settleQueued = false
    let allSettled!: () => void
    const done = new Promise<void>((resolve) => (allSettled = resolve))
    const start = performance.now()
    const produce = () => {
      const to = Math.min(count, appended + PRODUCER_BATCH)
      append(appended, to)
      appended = to
      for (const wake of idle.splice(0)) wake()
      if (appended < count) setImmediate(produce)
    }
    const commitAnswered = () => {
      settleQueued = false
      const ids = answered
      answered = []
      settle(ids)
      settled += ids.length
      if (settled === count) allSettled()
    }
    produce()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          // Deliveries go out in append order: ids 0 … appended − 1 are written, `taken` of them are gone.
          if (taken === appended) {
            if (taken >= count) return
            await new Promise<void>((resolve) => idle.push(resolve))
            continue
          }
          const id = taken++
          await work.post(pool, id)
          answered.push(id)
          if (!settleQueued) {
            settleQueued = true
            setImmediate(commitAnswered)
          }
        }
      }),
    )
    await done
    return count / ((performance.now() - start) / 1000)
  } finally {
    await pool.close()
    db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** What one loop writes and sends per delivery; each creates its own tables. */
interface FloorWork {
  append(i: number): void
  post(pool: Pool, i: number): Promise<void>
  markDone(i: number): void
}

/** The floor itself: integer ids, the same body for every event, one header. */
function bareWork(db: BetterSqlite3.Database, body: Buffer): FloorWork {
  db.exec(`
    CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE deliveries (id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, status TEXT NOT NULL);`)
  const insertEvent = db.prepare('INSERT INTO events (id, body) VALUES (?, ?)')
  const insertDelivery = db.prepare(`INSERT INTO deliveries (id, event_id, status) VALUES (?, ?, 'pending')`)
  const markDone = db.prepare(`UPDATE deliveries SET status = 'succeeded' WHERE id = ?`)
  const text = body.toString('utf8')
  const headers = { 'content-type': 'application/json' }
  return {
    append(i) {
      insertEvent.run(i, text)
      insertDelivery.run(i, i)
    },
    async post(pool) {
      const res = await pool.request({ path: '/hook', method: 'POST', body, headers })
      await res.body.dump()
    },
    markDone: (i) => markDone.run(i),
  }
}

/** The contract's work per event and delivery (see the top of this file); bodies kept in memory until sent. */
function contractWork(db: BetterSqlite3.Database, sample: Buffer): FloorWork {
  db.exec(`
    CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
    CREATE TABLE deliveries (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, event_id TEXT NOT NULL, status TEXT NOT NULL, attempt_log TEXT);`)
  const insertEvent = db.prepare('INSERT INTO events (seq, id, body) VALUES (?, ?, ?)')
  const insertDelivery = db.prepare(`INSERT INTO deliveries (seq, id, event_id, status) VALUES (?, ?, ?, 'pending')`)
  const markDone = db.prepare(`
    UPDATE deliveries SET status = 'succeeded', attempt_log = json_insert(coalesce(attempt_log, '[]'), '$[#]',
      json_object('at', ?, 'status_code', 204, 'error', NULL, 'duration_ms', 1)) WHERE seq = ?`)
  const data = (JSON.parse(sample.toString('utf8')) as { data?: unknown }).data ?? {}
  const secret = 'whsec_' + Buffer.alloc(32, 7).toString('base64')
  const pending = new Map<number, { id: string; body: Buffer }>()
  return {
    append(i) {
      const now = new Date()
      const envelope = { id: timeOrderedId('evt', now.getTime()), type: 'message.inbound', version: '1', occurred_at: now.toISOString(), instance_id: 'inst_bench', tenant_id: null, data }
      const text = JSON.stringify(envelope)
      insertEvent.run(i, envelope.id, text)
      insertDelivery.run(i, timeOrderedId('dlv', now.getTime()), envelope.id)
      pending.set(i, { id: envelope.id, body: Buffer.from(text, 'utf8') })
    },
    async post(pool, i) {
      const { id, body } = pending.get(i)!
      const headers = { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...signDelivery(body, id, Math.floor(Date.now() / 1000), [secret]) }
      const deadline = setTimeout(() => undefined, 10_000)
      try {
        const res = await pool.request({ path: '/hook', method: 'POST', body, headers })
        await res.body.dump()
      } finally {
        clearTimeout(deadline)
      }
    },
    markDone(i) {
      pending.delete(i)
      markDone.run(new Date().toISOString(), i)
    },
  }
}
