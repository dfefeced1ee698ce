import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../src/db/database.js'
import { migrations } from '../../src/db/migrations/index.js'
import type { AttemptAbort, DeliveryPoster } from '../../src/events/delivery-client.js'
import { DeliveryWorker, type DeliverySettled } from '../../src/events/delivery-worker.js'
import { timeOrderedId } from '../../src/ids.js'
import { Outbox } from '../../src/events/outbox.js'
import type { AttemptOutcome } from '../../src/events/retry-policy.js'
import type { SinkDirectory, SinkRef, SinkTarget } from '../../src/events/sinks.js'
import { silentLogger } from '../../src/logger.js'

const HOOK: SinkRef = { kind: 'webhook', id: 'wh_test' }
const TARGET: SinkTarget = { url: 'http://127.0.0.1:9/hook', secrets: ['whsec_dGVzdA=='], enabled: true, includeMediaBase64: false }

/** A poster that records every POST and answers each one when the test says so. */
class HeldPoster implements DeliveryPoster {
  readonly posts: Array<{ body: Buffer; headers: Record<string, string>; answer: (o: AttemptOutcome) => void }> = []
  private readonly waiters = new Set<() => void>()

  post(_url: string, body: Buffer, headers: Record<string, string>, abort?: AttemptAbort): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      this.posts.push({ body, headers, answer: resolve })
      abort?.on('abort', () => resolve({ error: 'aborted', durationMs: 0 }))
      for (const w of [...this.waiters]) w()
    })
  }

  async close(): Promise<void> {}

  /** Resolves once `n` POSTs were made (no timers: woken by each post). */
  waitForPosts(n: number): Promise<void> {
    if (this.posts.length >= n) return Promise.resolve()
    return new Promise((resolve) => {
      const check = () => {
        if (this.posts.length < n) return
        this.waiters.delete(check)
        resolve()
      }
      this.waiters.add(check)
    })
  }
}

function setup(concurrency = 2, opts: { now?: () => number; maxQueued?: number; start?: boolean; target?: () => SinkTarget } = {}) {
  const { now, maxQueued, start = true, target = () => TARGET } = opts
  const db = openDatabase({ file: ':memory:', migrations })
  const sinks = { subscribers: () => [HOOK], target, invalidate: () => {} } as unknown as SinkDirectory
  const outbox = new Outbox(db, sinks, now)
  const poster = new HeldPoster()
  const worker = new DeliveryWorker({
    db,
    sinks,
    client: poster,
    schedule: [1000],
    perEndpointConcurrency: concurrency,
    logger: silentLogger,
    takeBody: (id) => outbox.takeBody(id),
    ...(now ? { now } : {}),
    ...(maxQueued ? { maxQueued } : {}),
  })
  outbox.setDeliveryQueue(worker)
  if (start) worker.start()
  return { db, outbox, poster, worker }
}

const append = (outbox: Outbox, n: number) => outbox.append({ type: 'message.inbound', instanceId: null, tenantId: null, data: { n } })

const settledOnce = (worker: DeliveryWorker, predicate: (s: DeliverySettled) => boolean) =>
  new Promise<DeliverySettled>((resolve) => {
    const listener = (s: DeliverySettled) => {
      if (!predicate(s)) return
      worker.off('settled', listener)
      resolve(s)
    }
    worker.on('settled', listener)
  })

const rowsOf = (db: Database) =>
  db.sqlite.prepare('SELECT id, event_id, status, attempts FROM deliveries ORDER BY seq').all() as Array<{
    id: string
    event_id: string
    status: string
    attempts: number
  }>

describe('delivery worker: new rows handed over at commit, claims in memory, batched results', () => {
  let cleanup: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const c of cleanup) await c()
    cleanup = []
  })

  it('an idle endpoint starts a new delivery right after its commit, sends the stored body, and records it once', async () => {
    const { db, outbox, poster, worker } = setup()
    cleanup.push(() => worker.stop().then(() => db.close()))
    const { id: eventId } = append(outbox, 1)
    expect(worker.inFlightCount).toBe(0)
    await Promise.resolve()
    // In the microtask after the commit, before any worker cycle (setImmediate) could read the database.
    expect(worker.inFlightCount).toBe(1)
    expect(rowsOf(db)).toMatchObject([{ event_id: eventId, status: 'pending', attempts: 0 }])
    await poster.waitForPosts(1)
    const stored = db.sqlite.prepare('SELECT body FROM events WHERE id = ?').get(eventId) as { body: string }
    expect(poster.posts[0]!.body.toString('utf8')).toBe(stored.body)
    expect(poster.posts[0]!.headers['webhook-id']).toBe(eventId)
    const settled = settledOnce(worker, (s) => s.eventId === eventId)
    poster.posts[0]!.answer({ status: 204, durationMs: 1 })
    expect(await settled).toMatchObject({ status: 'succeeded', attempt: 1, httpStatus: 204 })
    expect(rowsOf(db)).toMatchObject([{ status: 'succeeded', attempts: 1 }])
    const log = db.sqlite.prepare('SELECT attempt_log FROM deliveries').pluck().get() as string
    expect(JSON.parse(log)).toEqual([{ at: expect.any(String), status_code: 204, error: null, duration_ms: 1 }])
  })

  it('keeps the bodies of a backlog for their first attempts up to a cap, dropping the oldest first', async () => {
    const { db, outbox, worker } = setup(1, { start: false })
    cleanup.push(() => worker.stop().then(() => db.close()))
    // 100 bodies of ≈ 400 KB with nobody taking them: 40 MB, past the 32 MiB the outbox keeps.
    const big = 'x'.repeat(400_000)
    const ids = Array.from({ length: 100 }, (_, n) => outbox.append({ type: 'message.inbound', instanceId: null, tenantId: null, data: { n, big } }).id)
    const kept = ids.map((id) => outbox.takeBody(id))
    const firstKept = kept.findIndex((body) => body !== undefined)
    expect(firstKept).toBeGreaterThan(0)
    // The newest are kept, each exactly as stored; everything before them is gone (the worker reads those rows).
    expect(kept.slice(firstKept).every((body) => body !== undefined)).toBe(true)
    expect((100 - firstKept) * 400_000).toBeLessThanOrEqual(32 * 1024 * 1024)
    const stored = db.sqlite.prepare('SELECT body FROM events WHERE id = ?').pluck().get(ids[99]) as string
    expect(kept[99]!.toString('utf8')).toBe(stored)
    // Taken once per delivery: a second take finds nothing.
    expect(outbox.takeBody(ids[99]!)).toBeUndefined()
  })

  it('never sends an event whose transaction rolled back, and gives its slot back', async () => {
    const { db, outbox, poster, worker } = setup(1)
    cleanup.push(() => worker.stop().then(() => db.close()))
    expect(() =>
      db.tx(() => {
        append(outbox, 1)
        throw new Error('the producer failed after appending')
      }),
    ).toThrow('the producer failed')
    expect(rowsOf(db)).toEqual([])
    // The one slot of the endpoint is free again: the next event is sent, and it is the only POST.
    const { id: next } = append(outbox, 2)
    await poster.waitForPosts(1)
    expect(poster.posts.map((p) => p.headers['webhook-id'])).toEqual([next])
  })

  it('listeners hear only events whose transaction committed', async () => {
    const { db, outbox, worker } = setup()
    cleanup.push(() => worker.stop().then(() => db.close()))
    const heard: string[] = []
    outbox.onAppended((events) => heard.push(...events.map((e) => e.id)))
    expect(() =>
      db.tx(() => {
        append(outbox, 1)
        throw new Error('the producer failed after appending')
      }),
    ).toThrow('the producer failed')
    const { id: committed } = append(outbox, 2)
    await Promise.resolve()
    expect(heard).toEqual([committed])
  })

  it('a busy endpoint leaves new rows to the claims, in order, within its concurrency', async () => {
    const { db, outbox, poster, worker } = setup(2)
    cleanup.push(() => worker.stop().then(() => db.close()))
    const ids = db.tx(() => [1, 2, 3, 4, 5].map((n) => append(outbox, n).id))
    await poster.waitForPosts(2)
    // Two started at once (the slots), three queued.
    expect(worker.inFlightCount).toBe(2)
    expect(poster.posts).toHaveLength(2)
    const all = new Promise<void>((resolve) => {
      let n = 0
      worker.on('settled', () => ++n === 5 && resolve())
    })
    for (let answered = 0; answered < 5; answered++) {
      await poster.waitForPosts(answered + 1)
      poster.posts[answered]!.answer({ status: 200, durationMs: 1 })
    }
    await all
    expect(poster.posts.map((p) => p.headers['webhook-id'])).toEqual(ids)
    expect(rowsOf(db).every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true)
  })

  it('reads back from the database in (due time, seq) order, each row once; a re-fired row takes its place in that order', async () => {
    // A frozen clock: every row is due at the same millisecond, so seq alone orders them.
    const now = () => 1_700_000_000_000
    const { db, outbox, poster, worker } = setup(1, { now, start: false })
    cleanup.push(() => worker.stop().then(() => db.close()))
    // Written while the worker is stopped (as by an earlier process): only the database has them.
    const { id: earlier } = append(outbox, 0)
    db.sqlite.prepare(`UPDATE deliveries SET status = 'failed' WHERE event_id = ?`).run(earlier)
    const ids = db.tx(() => [1, 2, 3].map((n) => append(outbox, n).id))
    await Promise.resolve() // the hand-over after the commits: ignored, the worker is stopped
    worker.start()
    await poster.waitForPosts(1)
    poster.posts[0]!.answer({ status: 204, durationMs: 1 })
    await poster.waitForPosts(2)
    // All three rows have been read; re-fire the earlier one (what the manual retry endpoint writes) and wake the
    // worker: it goes before the third, which has a higher seq in the same millisecond.
    db.sqlite.prepare(`UPDATE deliveries SET status = 'pending', next_attempt_at = ? WHERE event_id = ?`).run(now(), earlier)
    worker.wake([HOOK])
    poster.posts[1]!.answer({ status: 204, durationMs: 1 })
    await poster.waitForPosts(3)
    poster.posts[2]!.answer({ status: 204, durationMs: 1 })
    await poster.waitForPosts(4)
    expect(poster.posts.map((p) => p.headers['webhook-id'])).toEqual([ids[0], ids[1], earlier, ids[2]])
  })

  it('a busy endpoint whose queue overflows reads the rest back from the database, in order, each row once', async () => {
    const { db, outbox, poster, worker } = setup(1, { maxQueued: 2 })
    cleanup.push(() => worker.stop().then(() => db.close()))
    // One delivery through first: the worker's start-up reading of the database is over by its result.
    const { id: first } = append(outbox, 0)
    await poster.waitForPosts(1)
    const firstSettled = settledOnce(worker, (s) => s.eventId === first)
    poster.posts[0]!.answer({ status: 204, durationMs: 1 })
    await firstSettled
    // One started, two queued, three past the queue's bound.
    const ids = db.tx(() => [1, 2, 3, 4, 5, 6].map((n) => append(outbox, n).id))
    const all = new Promise<void>((resolve) => {
      let n = 0
      worker.on('settled', () => ++n === ids.length && resolve())
    })
    for (let answered = 1; answered <= ids.length; answered++) {
      await poster.waitForPosts(answered + 1)
      poster.posts[answered]!.answer({ status: 204, durationMs: 1 })
    }
    await all
    expect(poster.posts.map((p) => p.headers['webhook-id'])).toEqual([first, ...ids])
    expect(rowsOf(db).every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true)
  })

  it('a shutdown aborts attempts in flight and gives their rows back without counting an attempt', async () => {
    const { db, outbox, poster, worker } = setup()
    append(outbox, 1)
    await poster.waitForPosts(1)
    await worker.stop()
    expect(rowsOf(db)).toMatchObject([{ status: 'pending', attempts: 0 }])
    expect(db.sqlite.prepare('SELECT attempt_log FROM deliveries').pluck().get()).toBeNull()
    await db.close()
  })

  it('an attempt that throws inside the daemon counts as a failed attempt to retry, and the process goes on', async () => {
    let reads = 0
    const target = () => {
      if (++reads === 1) throw new Error('unsealing the secret failed')
      return TARGET
    }
    const { db, outbox, worker } = setup(1, { target })
    cleanup.push(() => worker.stop().then(() => db.close()))
    const settled = settledOnce(worker, () => true)
    append(outbox, 1)
    expect(await settled).toMatchObject({ status: 'pending', attempt: 1, error: 'internal', httpStatus: null })
    expect(rowsOf(db)).toMatchObject([{ status: 'pending', attempts: 1 }])
  })

  it('a result arriving after a 410 ended the chain does not bring the row back to pending', async () => {
    const { db, outbox, poster, worker } = setup(2)
    cleanup.push(() => worker.stop().then(() => db.close()))
    append(outbox, 1)
    append(outbox, 2)
    await poster.waitForPosts(2)
    const disabled = settledOnce(worker, (s) => s.disabled)
    poster.posts[0]!.answer({ status: 410, durationMs: 1 })
    await disabled
    expect(rowsOf(db).map((r) => r.status)).toEqual(['failed', 'failed'])
    const late = settledOnce(worker, (s) => s.httpStatus === 503)
    poster.posts[1]!.answer({ status: 503, durationMs: 1 })
    await late
    expect(rowsOf(db).map((r) => [r.status, r.attempts])).toEqual([
      ['failed', 1],
      ['failed', 0],
    ])
  })
})

describe('time-ordered ids', () => {
  it('keep the prefix, compare in creation order across milliseconds, and differ within one', () => {
    const a = timeOrderedId('evt', 1_700_000_000_000)
    const b = timeOrderedId('evt', 1_700_000_000_001)
    const c = timeOrderedId('evt', 1_700_000_000_001)
    expect(a).toMatch(/^evt_[-0-9A-Za-z_]{20}$/)
    expect(a < b).toBe(true)
    expect(b.slice(0, 12)).toBe(c.slice(0, 12))
    expect(b).not.toBe(c)
    // 2^48 ms is the year 10889: the time part never wraps before then.
    expect(timeOrderedId('dlv', 2 ** 48 - 1).slice(4, 12)).toBe('zzzzzzzz')
  })
})
