import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { basicAuth, startHarness, type Harness } from '../helpers/harness.js'
import { sendFixture, textOf, type SendFixture } from './helpers.js'

describe('POST /api/v1/message/text against the simulator', () => {
  let h: Harness
  let f: SendFixture

  beforeAll(async () => {
    h = await startHarness()
    f = await sendFixture(h)
  })
  afterAll(async () => {
    await h?.close()
  })

  it('queues durably, answers message_id + status, and the customer decrypts the text', async () => {
    const res = await f.send('text', { phone: f.customer.phone, data: { text: 'Olá Maria' } })
    expect(res.status).toBe(200)
    expect(res.body.message_id).toMatch(/^msg_/)
    expect(res.body.status).toBe('queued')
    expect(res.body.data).toMatchObject({ message_id: res.body.message_id, phone: f.customer.phone, type: 'text', text: 'Olá Maria', direction: 'outbound' })
    const waId: string = res.body.wa_message_id
    const got = await f.customer.waitForMessage((m) => m.id === waId)
    expect(textOf(got.message)).toBe('Olá Maria')
    // The customer auto-sends a delivery receipt: the status moves to delivered, via sent.
    const delivered = await f.waitForMessage(res.body.message_id, (m) => m.status === 'delivered')
    expect(delivered.error).toBeNull()
    await f.customer.sendReceipt(f.inst.phone.phone, [waId], 'read')
    await f.waitForMessage(res.body.message_id, (m) => m.status === 'read')
  })

  it('never moves a status backwards (a late delivery receipt after read is ignored)', async () => {
    const res = await f.send('text', { phone: f.customer.phone, data: { text: 'order test' } })
    const waId: string = res.body.wa_message_id
    await f.customer.waitForMessage((m) => m.id === waId)
    await f.waitForMessage(res.body.message_id, (m) => m.status === 'delivered')
    await f.customer.sendReceipt(f.inst.phone.phone, [waId], 'read')
    await f.waitForMessage(res.body.message_id, (m) => m.status === 'read')
    // A late plain delivery receipt (the simulator forwards it at once, before the marker below).
    await f.customer.sendReceipt(f.inst.phone.phone, [waId])
    // One more round-trip on the same socket, so the late receipt has been processed by the daemon.
    const marker = await f.send('text', { phone: f.customer.phone, data: { text: 'marker' } })
    await f.waitForMessage(marker.body.message_id, (m) => m.status === 'delivered')
    const after = await h.request('GET', `/api/v1/messages/${res.body.message_id}`, undefined, f.auth)
    expect(after.body.data.status).toBe('read')
  })

  it('accepts a + prefix, a JSON number phone, and the Brazilian ninth-digit variant (resolved by WhatsApp)', async () => {
    // The customer is 5544 9 XXXXXXXX; dial it without the ninth digit.
    const without9 = `5544${f.customer.phone.slice(5)}`
    const res = await f.send('text', { phone: `+${without9}`, data: { text: 'sem o nono dígito' } })
    expect(res.status).toBe(200)
    expect(res.body.data.phone).toBe(without9)
    const got = await f.customer.waitForMessage((m) => m.id === res.body.wa_message_id)
    expect(textOf(got.message)).toBe('sem o nono dígito')
    const numeric = await f.send('text', { phone: Number(f.customer.phone), data: { text: 'numeric phone' } })
    expect(numeric.status).toBe(200)
  })

  it('answers 503 STORAGE_UNAVAILABLE with Retry-After when the database cannot grow, stores nothing, and sends once it can', async () => {
    const sqlite = h.daemon.db.sqlite
    const pages = sqlite.pragma('page_count', { simple: true }) as number
    const count = () => sqlite.prepare(`SELECT COUNT(*) FROM messages`).pluck().get()
    const before = count()
    const text = 'z'.repeat(60_000) // overflow pages: the insert needs new pages, whatever room the last one has
    sqlite.pragma(`max_page_count = ${pages}`)
    try {
      const refused = await f.send('text', { phone: f.customer.phone, data: { text } }, { 'idempotency-key': 'disk-full-1' })
      expect(refused.status).toBe(503)
      expect(refused.headers['retry-after']).toBe('30')
      expect(refused.body.errors[0].code).toBe('STORAGE_UNAVAILABLE')
      expect(count()).toBe(before)
    } finally {
      sqlite.pragma('max_page_count = 4294967294')
    }
    // The same request again, with the same key: the refusal held nothing back.
    const res = await f.send('text', { phone: f.customer.phone, data: { text } }, { 'idempotency-key': 'disk-full-1' })
    expect(res.status).toBe(200)
    const got = await f.customer.waitForMessage((m) => m.id === res.body.wa_message_id)
    expect(textOf(got.message)).toBe(text)
  })

  it('a receipt that cannot be recorded is logged and lost, not a crash of the process (Baileys has answered it)', async () => {
    const sent = await f.send('text', { phone: f.customer.phone, data: { text: 'read while the database refuses' } })
    await f.waitForMessage(sent.body.message_id, (m) => m.status === 'delivered')
    const sqlite = h.daemon.db.sqlite
    sqlite.exec(`CREATE TRIGGER refuse_read BEFORE UPDATE ON messages WHEN NEW.status = 'read' BEGIN SELECT RAISE(ABORT, 'injected'); END`)
    try {
      const waId: string = sent.body.wa_message_id
      // Baileys acks the receipt after its listeners ran (the event buffer flushes first), so the ack means handled.
      const handled = h.sim.waitFor('ack', (a) => a.class === 'receipt' && a.id === waId)
      await f.customer.sendReceipt(f.inst.phone.phone, [waId], 'read')
      await handled
      expect((await f.waitForMessage(sent.body.message_id, () => true)).status).toBe('delivered')
    } finally {
      sqlite.exec('DROP TRIGGER refuse_read')
    }
    // The sender still works.
    const next = await f.send('text', { phone: f.customer.phone, data: { text: 'and after' } })
    await f.waitForMessage(next.body.message_id, (m) => m.status === 'delivered')
  })

  it('answers 422 PHONE_NOT_ON_WHATSAPP synchronously for an unknown number, and queues nothing', async () => {
    const before = h.daemon.messaging.repo.countOutbound()
    const res = await f.send('text', { phone: '5511900000001', data: { text: 'nobody' } })
    expect(res.status).toBe(422)
    expect(res.body.errors[0].code).toBe('PHONE_NOT_ON_WHATSAPP')
    expect(h.daemon.messaging.repo.countOutbound()).toBe(before)
  })

  it('replies quoting an earlier message by our id and by the WhatsApp id (contextInfo.stanzaId)', async () => {
    const first = await f.send('text', { phone: f.customer.phone, data: { text: 'the original' } })
    const byOurs = await f.send('text', { phone: f.customer.phone, data: { text: 'reply 1', quoted_message_id: first.body.message_id } })
    const byWa = await f.send('text', { phone: f.customer.phone, data: { text: 'reply 2', quoted_message_id: first.body.wa_message_id } })
    expect(byOurs.body.data.quoted).toEqual({ wa_message_id: first.body.wa_message_id })
    for (const [reply, text] of [[byOurs, 'reply 1'], [byWa, 'reply 2']] as const) {
      const got = await f.customer.waitForMessage((m) => m.id === reply.body.wa_message_id)
      const ext = got.message.extendedTextMessage
      expect(ext?.text).toBe(text)
      expect(ext?.contextInfo?.stanzaId).toBe(first.body.wa_message_id)
      expect(ext?.contextInfo?.quotedMessage?.conversation).toBe('the original')
    }
    const missing = await f.send('text', { phone: f.customer.phone, data: { text: 'x', quoted_message_id: 'msg_nope' } })
    expect(missing.status).toBe(422)
    expect(missing.body.errors[0].code).toBe('QUOTED_MESSAGE_NOT_FOUND')
    // A message of another chat cannot be quoted or reacted to there (WhatsApp would ignore it silently).
    const elsewhere = await f.send('text', { phone: '5511912340000', data: { text: 'x', quoted_message_id: first.body.message_id } })
    expect(elsewhere.body.errors[0].code).toBe('QUOTED_MESSAGE_NOT_FOUND')
    const reaction = await f.send('reaction', { phone: '5511912340000', data: { message_id: first.body.message_id, emoji: '👍' } })
    expect(reaction.body.errors[0].code).toBe('TARGET_MESSAGE_NOT_FOUND')
  })

  it('?wait=sent answers after the server ack', async () => {
    const res = await f.send('text', { phone: f.customer.phone, data: { text: 'wait for it' } }, {}, '?wait=sent')
    expect(res.status).toBe(200)
    expect(['sent', 'delivered', 'read']).toContain(res.body.status)
  })

  it('issues a contact its privacy token once, not with every message sent to it', async () => {
    // Baileys issues the token after a send, in a promise that outlives the send's key-store transaction; its record of
    // the issue went to the finished transaction and was lost, so every message issued the token again
    // (src/whatsapp/one-signal-transaction.ts).
    const customer = h.sim.createCustomer({ phone: '5544998765432', pushName: 'Tokens' })
    const tokenIqs = () =>
      h.sim.eventLog.filter((e) => {
        const iq = e.payload as { xmlns?: string; type?: string; child?: string }
        return e.name === 'iq' && iq.xmlns === 'privacy' && iq.type === 'set' && iq.child === 'tokens'
      }).length
    const before = tokenIqs()
    await f.send('text', { phone: customer.phone, data: { text: 'first' } }, {}, '?wait=sent')
    if (tokenIqs() === before) await h.sim.waitFor('iq', (iq) => iq.xmlns === 'privacy' && iq.child === 'tokens')
    for (let i = 0; i < 4; i++) {
      const res = await f.send('text', { phone: customer.phone, data: { text: `next ${i}` } }, {}, '?wait=sent')
      expect(res.status).toBe(200)
    }
    const last = await f.send('text', { phone: customer.phone, data: { text: 'last' } })
    await f.waitForMessage(last.body.message_id, (m) => m.status === 'delivered')
    expect(tokenIqs() - before).toBe(1)
  })

  it('keeps other instances out: GET of a foreign message is 404, the admin sees it', async () => {
    const res = await f.send('text', { phone: f.customer.phone, data: { text: 'mine' } })
    const other = await h.request('POST', '/api/v1/instances', { name: 'other' })
    const otherAuth = basicAuth(other.body.data.id, other.body.data.token)
    const foreign = await h.request('GET', `/api/v1/messages/${res.body.message_id}`, undefined, otherAuth)
    expect(foreign.status).toBe(404)
    expect(foreign.body.errors[0].code).toBe('MESSAGE_NOT_FOUND')
    const admin = await h.request('GET', `/api/v1/messages/${res.body.message_id}`)
    expect(admin.status).toBe(200)
    expect(admin.body.data.text).toBe('mine')
    // A pending_qr instance cannot send.
    const refused = await h.request('POST', '/api/v1/message/text', { phone: f.customer.phone, data: { text: 'x' } }, otherAuth)
    expect(refused.status).toBe(409)
    expect(refused.body.errors[0].code).toBe('INSTANCE_NOT_CONNECTED')
  })

  it('lists history newest first with an opaque cursor', async () => {
    const sent: string[] = []
    for (let i = 0; i < 5; i++) sent.push((await f.send('text', { phone: f.customer.phone, data: { text: `page ${i}` } })).body.message_id)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const query: string = `?phone=${f.customer.phone}&direction=outbound&limit=2${cursor ? `&cursor=${cursor}` : ''}`
      const page = await h.request('GET', `/api/v1/messages${query}`, undefined, f.auth)
      expect(page.status).toBe(200)
      expect(page.body.data.length).toBeLessThanOrEqual(2)
      seen.push(...page.body.data.map((m: { message_id: string }) => m.message_id))
      cursor = page.body.meta.next_cursor
    } while (cursor)
    expect(seen.slice(0, 5)).toEqual([...sent].reverse())
    expect(new Set(seen).size).toBe(seen.length)
    const bad = await h.request('GET', '/api/v1/messages?cursor=bm9wZQ', undefined, f.auth)
    expect(bad.status).toBe(400)
  })
})
