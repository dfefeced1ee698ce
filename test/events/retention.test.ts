import path from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { createDaemon } from '../../src/daemon.js'
import { openDatabase, type Database } from '../../src/db/database.js'
import { migrations } from '../../src/db/migrations/index.js'
import { Outbox } from '../../src/events/outbox.js'
import { EventRetention } from '../../src/events/retention.js'
import type { SinkDirectory, SinkRef } from '../../src/events/sinks.js'
import { silentLogger } from '../../src/logger.js'
import { useCleanups } from '../helpers/cleanups.js'
import { testEnv } from '../helpers/harness.js'

const DAY = 86_400_000
const NOW = Date.parse('2030-06-15T12:00:00.000Z')
const HOOK_A: SinkRef = { kind: 'webhook', id: 'wh_a' }
const HOOK_B: SinkRef = { kind: 'webhook', id: 'wh_b' }

const { defer, tempDir: makeTempDir } = useCleanups()
const tempDir = () => makeTempDir('wagw-retention-')

/** The real database file, migrations and outbox; `event(daysAgo)` appends an event that long before `now`. */
function setup(dir = tempDir(), now = NOW) {
  const db = openDatabase({ file: path.join(dir, 'data', 'gateway.db'), migrations })
  defer(() => db.close())
  let clock = now
  let sinks: readonly SinkRef[] = [HOOK_A, HOOK_B]
  const directory = { subscribers: () => sinks } as unknown as SinkDirectory
  const outbox = new Outbox(db, directory, () => clock)
  let n = 0
  /** Appends an event `daysAgo` before `now`, one delivery per status given, each with that status and one attempt. */
  const event = (daysAgo: number, statuses: Array<'pending' | 'succeeded' | 'failed'> = ['succeeded', 'succeeded']): string => {
    clock = now - daysAgo * DAY
    sinks = [HOOK_A, HOOK_B].slice(0, statuses.length)
    const { id } = outbox.append({ type: 'message.inbound', instanceId: 'inst_x', tenantId: null, data: { n: n++ } })
    const deliveries = db.sqlite.prepare('SELECT id FROM deliveries WHERE event_id = ? ORDER BY seq').pluck().all(id) as string[]
    deliveries.forEach((deliveryId, i) => {
      const attempt = { at: new Date(clock).toISOString(), status_code: statuses[i] === 'succeeded' ? 200 : 503, error: null, duration_ms: 5 }
      db.sqlite.prepare('UPDATE deliveries SET status = ?, attempts = 1, attempt_log = ? WHERE id = ?').run(statuses[i], JSON.stringify([attempt]), deliveryId)
    })
    return id
  }
  const count = (table: 'events' | 'deliveries') =>
    db.sqlite.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number
  const eventIds = () => db.sqlite.prepare('SELECT id FROM events ORDER BY seq').pluck().all() as string[]
  const retention = (opts: { retentionDays?: number; chunkSize?: number; logger?: pino.Logger } = {}) =>
    new EventRetention({ db, retentionDays: opts.retentionDays ?? 7, logger: opts.logger ?? silentLogger, now: () => now, ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}) })
  return { db, event, count, eventIds, retention }
}

function deliveriesOf(db: Database, eventId: string) {
  return db.sqlite
    .prepare(`SELECT status, json_array_length(attempt_log) AS attempts FROM deliveries WHERE event_id = ? ORDER BY seq`)
    .all(eventId)
}

/** A pino logger whose lines land in an array. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) })
  return { logger, lines }
}

describe('EventRetention', () => {
  it('deletes old events whose deliveries are all over, with their deliveries and attempts, and keeps recent ones', async () => {
    const { db, event, count, eventIds, retention } = setup()
    event(30, ['succeeded', 'succeeded'])
    event(8, ['failed', 'succeeded'])
    event(9, []) // no sink subscribed: nothing to wait for
    const recent = event(6, ['succeeded', 'failed'])
    const { logger, lines } = capturingLogger()

    expect(await retention({ logger }).sweep()).toBe(3)

    expect(eventIds()).toEqual([recent])
    expect(count('deliveries')).toBe(2)
    expect(deliveriesOf(db, recent)).toEqual([
      { status: 'succeeded', attempts: 1 },
      { status: 'failed', attempts: 1 },
    ])
    expect(db.sqlite.pragma('foreign_key_check')).toEqual([])
    expect(lines).toEqual([expect.objectContaining({ level: 30, deleted: 3, retentionDays: 7 })])
  })

  it('keeps an old event with a pending delivery, both its deliveries and their attempts, and deletes finished ones after it', async () => {
    const { db, event, eventIds, retention } = setup()
    event(20)
    const waiting = event(19, ['pending', 'succeeded'])
    event(18, ['failed', 'failed'])

    expect(await retention().sweep()).toBe(2)

    expect(eventIds()).toEqual([waiting])
    expect(deliveriesOf(db, waiting)).toEqual([
      { status: 'pending', attempts: 1 },
      { status: 'succeeded', attempts: 1 },
    ])
  })

  it('logs nothing when nothing is old enough', async () => {
    const { event, eventIds, retention } = setup()
    const ids = [event(6.9), event(1), event(0)]
    const { logger, lines } = capturingLogger()

    expect(await retention({ logger }).sweep()).toBe(0)

    expect(eventIds()).toEqual(ids)
    expect(lines).toEqual([])
  })

  it('keeps everything with retention 0', async () => {
    const { event, count, eventIds, retention } = setup()
    const ids = [event(3650), event(400, ['failed', 'failed']), event(8)]

    expect(await retention({ retentionDays: 0 }).sweep()).toBe(0)

    expect(eventIds()).toEqual(ids)
    expect(count('deliveries')).toBe(6)
  })

  it('walks a backlog larger than one chunk, one transaction per chunk, yielding to the event loop in between', async () => {
    const { event, eventIds, retention } = setup()
    const pendingIds: string[] = []
    for (let i = 0; i < 35; i++) {
      if (i % 12 === 5) pendingIds.push(event(40 - i / 10, ['pending']))
      else event(40 - i / 10)
    }
    const recent = event(1)
    const sweeper = retention({ chunkSize: 10 })

    const sweeping = sweeper.sweep()
    // A callback queued now runs between two chunks, before the sweep is done.
    const seenBetweenChunks = new Promise<number>((resolve) => setImmediate(() => resolve(eventIds().length)))

    expect(await sweeping).toBe(35 - pendingIds.length)
    const between = await seenBetweenChunks
    expect(between).toBeLessThan(36)
    expect(between).toBeGreaterThan(pendingIds.length + 1)
    expect(eventIds()).toEqual([...pendingIds, recent])
  })

  it('stops at the first event inside the retention instead of reading the rest of the table', async () => {
    const { event, eventIds, retention } = setup()
    event(10)
    const recent = event(2)
    // Appended after a recent event (a clock step): found by a later sweep, once the walk gets past `recent`.
    const late = event(9)

    expect(await retention().sweep()).toBe(1)

    expect(eventIds()).toEqual([recent, late])
  })

  it('starts no chunk after stop(), so the database can close', async () => {
    const { event, count, retention } = setup()
    for (let i = 0; i < 35; i++) event(30)
    const sweeper = retention({ chunkSize: 10 })

    const sweeping = sweeper.sweep() // the first chunk runs at once
    await sweeper.stop()

    // One chunk: up to 10 events, fewer when it ran past its time bound (a loaded machine).
    const first = await sweeping
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThanOrEqual(10)
    expect(count('events')).toBe(35 - first)
    expect(await sweeper.sweep()).toBe(0)
    expect(count('events')).toBe(35 - first)
  })
})

describe('daemon', () => {
  it('deletes old finished events when it starts listening', async () => {
    const dir = tempDir()
    const seeded = setup(dir, Date.now())
    seeded.event(365)
    seeded.event(31, ['failed'])
    const recent = seeded.event(29, ['succeeded'])
    await seeded.db.close()
    const config = loadConfig(testEnv(undefined, dir, { EVENTS_RETENTION_DAYS: '30' }))
    const daemon = await createDaemon(config, silentLogger)
    defer(() => daemon.close())

    await daemon.listen()
    await daemon.eventRetention.stop() // waits for the sweep listen started

    expect(daemon.db.sqlite.prepare('SELECT id FROM events').pluck().all()).toEqual([recent])
  })
})
