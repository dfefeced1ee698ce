import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { openDatabase } from '../../src/db/database.js'
import { migrations } from '../../src/db/migrations/index.js'
import { canonicalJson, requestFingerprint } from '../../src/messages/idempotency.js'
import { phoneCandidates } from '../../src/messages/phone.js'
import { canTransition } from '../../src/messages/status.js'
import { MessageRepository } from '../../src/messages/repository.js'
import { TickBatcher } from '../../src/db/tick-batcher.js'
import { newWaMessageId } from '../../src/messages/wa-message-id.js'
import type { MessageStatus } from '../../src/messages/types.js'
import { parseSendRequest } from '../../src/messages/validate.js'
import { toReport } from '../../src/whatsapp/status-feed.js'
import { vcard } from '../../src/whatsapp/outbound.js'

describe('Brazilian ninth-digit candidates', () => {
  it.each([
    ['5544998765432', ['5544998765432', '554498765432']],
    ['554498765432', ['554498765432', '5544998765432']],
    ['551133334444', ['551133334444']], // a landline (starts with 3): no mobile variant
    ['14155550100', ['14155550100']],
  ])('%s → %j', (phone, expected) => expect(phoneCandidates(phone)).toEqual(expected))
})

describe('status order', () => {
  const all: MessageStatus[] = ['queued', 'sent', 'delivered', 'read', 'played', 'failed']
  it('never goes backwards, failed is terminal and only before delivery', () => {
    expect(canTransition('read', 'delivered')).toBe(false)
    expect(canTransition('delivered', 'sent')).toBe(false)
    expect(canTransition('queued', 'read')).toBe(true)
    expect(canTransition('read', 'played')).toBe(true)
    expect(canTransition('sent', 'failed')).toBe(true)
    expect(canTransition('delivered', 'failed')).toBe(false)
    for (const to of all) expect(canTransition('failed', to)).toBe(false)
    for (const s of all) expect(canTransition(s, s)).toBe(false)
  })
  it('maps Baileys statuses (PENDING is no news; ERROR carries the ack code)', () => {
    expect(toReport('x', 1)).toBeUndefined()
    expect(toReport('x', 2)).toEqual({ waMessageId: 'x', status: 'sent' })
    expect(toReport('x', 5)).toEqual({ waMessageId: 'x', status: 'played' })
    expect(toReport('x', 0, ['463'])).toEqual({ waMessageId: 'x', status: 'failed', waErrorCode: 463 })
  })
})

describe('idempotency fingerprint', () => {
  it('ignores key order at every level, not values or the type', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse())
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj))
      }),
    )
    const a = { phone: '1', data: { text: 'x', quoted_message_id: 'q' } }
    const b = { data: { quoted_message_id: 'q', text: 'x' }, phone: '1' }
    expect(requestFingerprint('text', a)).toBe(requestFingerprint('text', b))
    expect(requestFingerprint('image', a)).not.toBe(requestFingerprint('text', a))
    expect(requestFingerprint('text', { ...a, phone: '2' })).not.toBe(requestFingerprint('text', a))
  })
})

describe('validation maps inputs to commands', () => {
  it('audio with ptt is a voice note; a voice note drops a caption', () => {
    expect(parseSendRequest('audio', { phone: '+5511999999999', data: { base64: 'AAAA', ptt: true, text: 'x' } })).toEqual({
      type: 'voice',
      phone: '5511999999999',
      media: { base64: 'AAAA' },
    })
  })
  it('accepts a reaction removal ("") and flags with ZWJ sequences', () => {
    expect(parseSendRequest('reaction', { phone: '5511999999999', data: { message_id: 'm', emoji: '' } })).toMatchObject({ emoji: '' })
    expect(parseSendRequest('reaction', { phone: '5511999999999', data: { message_id: 'm', emoji: '👩‍👩‍👧' } })).toMatchObject({ emoji: '👩‍👩‍👧' })
    expect(parseSendRequest('reaction', { phone: '5511999999999', data: { message_id: 'm', emoji: '🇧🇷' } })).toMatchObject({ emoji: '🇧🇷' })
  })
  it('escapes vCard fields', () => {
    expect(vcard('Silva; João, Jr', '5511999999999')).toContain('FN:Silva\\; João\\, Jr')
  })
})

describe('TickBatcher', () => {
  it('commits one tick’s writes together and refuses a failing one alone', async () => {
    const db = openDatabase({ file: ':memory:', migrations })
    db.sqlite.exec('CREATE TABLE t (k TEXT PRIMARY KEY)')
    const batcher = new TickBatcher(db)
    const insert = (k: string) => batcher.run(() => db.sqlite.prepare('INSERT INTO t (k) VALUES (?)').run(k).changes)
    const results = await Promise.allSettled([insert('a'), insert('b'), insert('a'), insert('c')])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    expect((db.sqlite.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k)).toEqual(['a', 'b', 'c'])
    db.close()
  })

  it('refuses the whole batch at once when the database itself fails (locked, I/O, full), without running each alone', async () => {
    const db = openDatabase({ file: ':memory:', migrations })
    db.sqlite.exec('CREATE TABLE t (k TEXT PRIMARY KEY)')
    const batcher = new TickBatcher(db)
    let runs = 0
    const insert = (k: string) => batcher.run(() => (runs++, db.sqlite.prepare('INSERT INTO t (k) VALUES (?)').run(k).changes))
    const a = insert('a')
    const busy = batcher.run(() => {
      throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    })
    const results = await Promise.allSettled([a, busy, insert('b')])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(runs).toBe(1) // 'a' ran once, in the batch; nothing was run again alone
    expect(db.sqlite.prepare('SELECT COUNT(*) FROM t').pluck().get()).toBe(0)
    db.close()
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('groups the writes of several event-loop turns when a commit happened less than minIntervalMs ago', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] })
    const db = openDatabase({ file: ':memory:', migrations })
    db.sqlite.exec('CREATE TABLE t (k TEXT PRIMARY KEY)')
    const batcher = new TickBatcher(db, 10)
    // Each write notes how many writes had been submitted when it ran: a batch runs after all of its members.
    let submitted = 0
    const insert = (k: string) => {
      submitted++
      return batcher.run(() => (db.sqlite.prepare('INSERT INTO t (k) VALUES (?)').run(k), submitted))
    }
    // Nothing committed recently: a lone write commits at the end of its turn.
    const first = insert('a')
    await vi.advanceTimersToNextTimerAsync()
    expect(await first).toBe(1)
    // Within 10 ms of that commit, three writes in three turns 3 ms apart wait for one commit together.
    const later: Promise<number>[] = []
    for (const k of ['b', 'c', 'd']) {
      later.push(insert(k))
      await vi.advanceTimersByTimeAsync(3)
    }
    await vi.advanceTimersByTimeAsync(10)
    expect(await Promise.all(later)).toEqual([4, 4, 4])
    db.close()
  })

  it('flush() commits the queued writes at once, in one transaction, and the commit that was scheduled finds nothing left', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] })
    const db = openDatabase({ file: ':memory:', migrations })
    db.sqlite.exec('CREATE TABLE t (k TEXT PRIMARY KEY)')
    const batcher = new TickBatcher(db)
    const rows = () => (db.sqlite.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n
    // Each write notes, once its transaction committed, how many rows the table then holds.
    const seenAfterCommit: number[] = []
    const insert = (k: string) =>
      batcher.run(() => {
        db.afterCommit(() => seenAfterCommit.push(rows()))
        return db.sqlite.prepare('INSERT INTO t (k) VALUES (?)').run(k).changes
      })
    const queued = [insert('a'), insert('b')]
    expect(vi.getTimerCount()).toBe(1)
    batcher.flush()
    expect(seenAfterCommit).toEqual([2, 2]) // one commit for both
    expect(vi.getTimerCount()).toBe(0)
    expect(await Promise.all(queued)).toEqual([1, 1])
    batcher.flush() // nothing queued: no transaction
    expect(seenAfterCommit).toEqual([2, 2])
    db.close()
  })
})

describe('outbound rows', () => {
  it('insertOutbound answers exactly the row the table holds', () => {
    const db = openDatabase({ file: ':memory:', migrations })
    db.sqlite.exec(`INSERT INTO instances (id, token_hash, status, created_at, updated_at) VALUES ('inst_1', 'h', 'connected', 'now', 'now')`)
    const repo = new MessageRepository(db)
    const common = { instanceId: 'inst_1', phone: '5544998760001', type: 'image', payload: { caption: 'c' }, at: new Date().toISOString() }
    const media = { path: '/x', mimetype: 'image/png', size: 3, sha256: 'AAA', filename: null, duration_seconds: null, width: 1, height: 1, jpeg_thumbnail: null, waveform: null, ptt: false }
    for (const m of [
      { ...common, id: 'msg_1', waMessageId: newWaMessageId(), jid: null, text: null, media: null, quotedWaId: null },
      { ...common, id: 'msg_2', waMessageId: newWaMessageId(), jid: '5544998760001@s.whatsapp.net', text: 'c', media, quotedWaId: '3EB0AB' },
    ]) {
      expect(repo.insertOutbound(m)).toEqual(repo.get(m.id))
    }
    db.close()
  })

  it('WhatsApp ids look like WhatsApp Web’s and do not repeat', () => {
    const ids = Array.from({ length: 2000 }, () => newWaMessageId())
    for (const id of ids) expect(id).toMatch(/^3EB0[0-9A-F]{18}$/)
    expect(new Set(ids).size).toBe(ids.length)
  })
})
