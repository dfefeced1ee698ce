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
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Pool } from 'undici'

const PRODUCER_BATCH = 200

/** `count` deliveries of `body` to `url`, `concurrency` at a time; answers deliveries/s (first append → last status committed). */
export async function durableFloorLoop(url: string, body: Buffer, count: number, concurrency: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-floor-'))
  const db = new BetterSqlite3(path.join(dir, 'floor.db'))
  const pool = new Pool(new URL(url).origin, { connections: concurrency })
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.exec(`
      CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE deliveries (id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, status TEXT NOT NULL);`)
    const insertEvent = db.prepare('INSERT INTO events (id, body) VALUES (?, ?)')
    const insertDelivery = db.prepare(`INSERT INTO deliveries (id, event_id, status) VALUES (?, ?, 'pending')`)
    const markDone = db.prepare(`UPDATE deliveries SET status = 'succeeded' WHERE id = ?`)
    const text = body.toString('utf8')
    const append = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        insertEvent.run(i, text)
        insertDelivery.run(i, i)
      }
    })
    const settle = db.transaction((ids: number[]) => {
      for (const id of ids) markDone.run(id)
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
          const res = await pool.request({ path: '/hook', method: 'POST', body, headers: { 'content-type': 'application/json' } })
          await res.body.dump()
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
