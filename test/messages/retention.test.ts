import fs from 'node:fs'
import path from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { createDaemon } from '../../src/daemon.js'
import { openDatabase } from '../../src/db/database.js'
import { migrations } from '../../src/db/migrations/index.js'
import { InboundMediaStore } from '../../src/inbound/media-store.js'
import { silentLogger } from '../../src/logger.js'
import { FINISHED_OUTBOUND_STATUSES, MessageRetention } from '../../src/messages/retention.js'
import { useCleanups } from '../helpers/cleanups.js'
import { adminHeaders, testEnv } from '../helpers/harness.js'

const DAY = 86_400_000
const NOW = Date.parse('2030-06-15T12:00:00.000Z')

const { defer, tempDir: makeTempDir } = useCleanups()
const tempDir = () => makeTempDir('wagw-msg-retention-')

interface Seed {
  direction?: 'inbound' | 'outbound'
  status?: string
  /** days before `now` the status last changed; defaults to the creation */
  updatedDaysAgo?: number
  sendStarted?: boolean
}

/** The real database file and migrations; `message(daysAgo, …)` inserts a message created that long before `now`. */
function setup(dir = tempDir(), now = NOW) {
  const db = openDatabase({ file: path.join(dir, 'data', 'gateway.db'), migrations })
  defer(() => db.close())
  const iso = (daysAgo: number) => new Date(now - daysAgo * DAY).toISOString()
  db.sqlite
    .prepare(`INSERT INTO instances (id, token_hash, status, created_at, updated_at) VALUES ('inst_x', 'hash', 'disconnected', ?, ?)`)
    .run(iso(400), iso(400))
  const insert = db.sqlite.prepare(`
    INSERT INTO messages (id, instance_id, direction, source, wa_message_id, phone, type, text, status, attempts, send_started_at, created_at, updated_at)
    VALUES (?, 'inst_x', ?, ?, ?, '5511999990000', 'text', 'a customer''s words', ?, ?, ?, ?, ?)`)
  let n = 0
  const message = (daysAgo: number, seed: Seed = {}): string => {
    const direction = seed.direction ?? 'inbound'
    const status = seed.status ?? (direction === 'inbound' ? 'received' : 'read')
    const id = `msg_${String(n++).padStart(4, '0')}`
    const started = seed.sendStarted ? iso(seed.updatedDaysAgo ?? daysAgo) : null
    insert.run(id, direction, direction === 'outbound' ? 'api' : null, `WA${id}`, status, started ? 1 : 0, started, iso(daysAgo), iso(seed.updatedDaysAgo ?? daysAgo))
    return id
  }
  const messageIds = () => db.sqlite.prepare('SELECT id FROM messages ORDER BY seq').pluck().all() as string[]
  const retention = (opts: { retentionDays?: number; chunkSize?: number; logger?: pino.Logger } = {}) =>
    new MessageRetention({ db, retentionDays: opts.retentionDays ?? 90, logger: opts.logger ?? silentLogger, now: () => now, ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}) })
  return { db, dir, message, messageIds, retention }
}

describe('MessageRetention', () => {
  it('deletes old inbound messages and old outbound ones in every final status, and keeps recent ones', async () => {
    const { db, message, messageIds, retention } = setup()
    message(400)
    message(91, { direction: 'outbound', status: 'sent' })
    for (const status of FINISHED_OUTBOUND_STATUSES) message(95, { direction: 'outbound', status })
    const recent = [message(89), message(30, { direction: 'outbound', status: 'delivered' }), message(0)]
    const lines: Array<Record<string, unknown>> = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) })

    expect(await retention({ logger }).sweep()).toBe(2 + FINISHED_OUTBOUND_STATUSES.length)

    expect(messageIds()).toEqual(recent)
    expect(db.sqlite.pragma('foreign_key_check')).toEqual([])
    expect(lines).toEqual([expect.objectContaining({ level: 30, msg: 'deleted old messages', deleted: 7, retentionDays: 90 })])
  })

  it('never deletes an old message still to be sent: queued, in flight, or in a status it does not know', async () => {
    const { db, message, messageIds, retention } = setup()
    message(200)
    const waiting = message(200, { direction: 'outbound', status: 'queued' })
    const inFlight = message(150, { direction: 'outbound', status: 'queued', sendStarted: true, updatedDaysAgo: 120 })
    const unknown = message(120, { direction: 'outbound', status: 'sending' }) // a status added later: kept by default
    message(100, { direction: 'outbound', status: 'failed' })

    expect(await retention().sweep()).toBe(2)

    expect(messageIds()).toEqual([waiting, inFlight, unknown])
    const row = db.sqlite.prepare('SELECT status, attempts, send_started_at FROM messages WHERE id = ?').get(inFlight)
    expect(row).toEqual({ status: 'queued', attempts: 1, send_started_at: new Date(NOW - 120 * DAY).toISOString() })
  })

  it('keeps an old message whose status changed inside the retention (sent today after months in the queue)', async () => {
    const { message, messageIds, retention } = setup()
    const sentToday = message(120, { direction: 'outbound', status: 'sent', updatedDaysAgo: 0 })
    const readLately = message(100, { direction: 'outbound', status: 'read', updatedDaysAgo: 89 })
    message(100, { direction: 'outbound', status: 'read', updatedDaysAgo: 91 })

    expect(await retention().sweep()).toBe(1)

    expect(messageIds()).toEqual([sentToday, readLately])
  })

  it('keeps everything with retention 0', async () => {
    const { message, messageIds, retention } = setup()
    const ids = [message(3650), message(400, { direction: 'outbound', status: 'failed' }), message(91, { direction: 'outbound', status: 'played' })]

    expect(await retention({ retentionDays: 0 }).sweep()).toBe(0)

    expect(messageIds()).toEqual(ids)
  })

  it('walks past kept messages over several chunks and stops at the first recent message', async () => {
    const { message, messageIds, retention } = setup()
    const kept: string[] = []
    for (let i = 0; i < 20; i++) {
      if (i % 4 === 1) kept.push(message(200 - i, { direction: 'outbound', status: 'queued' }))
      else message(200 - i, i % 2 ? { direction: 'outbound', status: 'delivered' } : {})
    }
    const recent = message(10)
    // Recorded after a recent message (a clock step): left for a later sweep, the walk stops at `recent`.
    const late = message(100)

    expect(await retention({ chunkSize: 3 }).sweep()).toBe(20 - kept.length)

    expect(messageIds()).toEqual([...kept, recent, late])
  })

  it("leaves a deleted inbound message's media row and file to the media retention, which still removes them", async () => {
    const { db, dir, message, messageIds, retention } = setup()
    let clock = NOW - 120 * DAY
    const media = new InboundMediaStore({
      db,
      dataDir: path.join(dir, 'data'),
      fetch: () => Promise.reject(new Error('no downloads here')),
      logger: silentLogger,
      retentionDays: 150,
      maxBytes: () => 1024,
      now: () => clock,
    })
    const old = message(120)
    const row = media.register('inst_x', old, { mimetype: 'image/jpeg', size: 3, filename: null, sha256: null, durationSeconds: null, source: { type: 'image', url: null, directPath: '/d', mediaKey: 'a2V5' } })
    fs.mkdirSync(media.dir, { recursive: true })
    fs.writeFileSync(row.path, 'jpg')
    db.sqlite.prepare(`UPDATE media_files SET status = 'stored' WHERE id = ?`).run(row.id)
    const recent = message(1)

    expect(await retention().sweep()).toBe(1)

    expect(messageIds()).toEqual([recent])
    expect(db.sqlite.pragma('foreign_key_check')).toEqual([])
    // The link still serves the file until MEDIA_RETENTION_DAYS ends; the row's message_id names nothing, and nothing reads it.
    clock = NOW
    expect(await media.ensure(row.id)).toMatchObject({ id: row.id, message_id: old, status: 'stored' })
    expect(fs.existsSync(row.path)).toBe(true)
    clock = NOW + 31 * DAY
    expect(media.sweep()).toBe(1)
    expect(media.get(row.id)).toBeUndefined()
    expect(fs.existsSync(row.path)).toBe(false)
  })
})

describe('daemon', () => {
  it('deletes old finished messages when it starts listening; their ids answer 404, a queued one stays', async () => {
    const dir = tempDir()
    const seeded = setup(dir, Date.now())
    const old = seeded.message(31)
    const oldSent = seeded.message(40, { direction: 'outbound', status: 'sent' })
    const queued = seeded.message(40, { direction: 'outbound', status: 'queued' })
    const recent = seeded.message(29)
    await seeded.db.close()
    const config = loadConfig(testEnv(undefined, dir, { MESSAGES_RETENTION_DAYS: '30' }))
    const daemon = await createDaemon(config, silentLogger)
    defer(() => daemon.close())

    await daemon.listen()
    await daemon.messageRetention.stop() // waits for the sweep listen started

    expect(daemon.db.sqlite.prepare('SELECT id FROM messages ORDER BY seq').pluck().all()).toEqual([queued, recent])
    const get = (id: string) => daemon.app.inject({ method: 'GET', url: `/api/v1/messages/${id}`, headers: adminHeaders })
    for (const id of [old, oldSent]) {
      const res = await get(id)
      expect(res.statusCode).toBe(404)
      expect(res.json()).toMatchObject({ errors: [expect.objectContaining({ code: 'MESSAGE_NOT_FOUND' })] })
    }
    expect((await get(recent)).statusCode).toBe(200)
  })
})
