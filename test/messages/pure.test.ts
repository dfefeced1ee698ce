import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/database.js'
import { migrations } from '../../src/db/migrations/index.js'
import { canonicalJson, requestFingerprint } from '../../src/messages/idempotency.js'
import { phoneCandidates } from '../../src/messages/phone.js'
import { canTransition } from '../../src/messages/status.js'
import { TickBatcher } from '../../src/messages/tick-batcher.js'
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
})
