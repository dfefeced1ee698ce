import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, type Harness } from '../helpers/harness.js'
import { sendFixture, textOf, type SendFixture } from './helpers.js'

describe('Idempotency-Key on sends', () => {
  let h: Harness
  let f: SendFixture
  let deviceJid: string

  beforeAll(async () => {
    h = await startHarness()
    f = await sendFixture(h)
    deviceJid = f.inst.phone.linkedDevices()[0] ?? ''
  })
  afterAll(async () => {
    await h?.close()
  })

  it('same key + same body: one message leaves the device, the second answer is the first, replayed', async () => {
    const body = { phone: f.customer.phone, data: { text: 'exactly once' } }
    const first = await f.send('text', body, { 'idempotency-key': 'order-42' })
    expect(first.status).toBe(200)
    await f.customer.waitForMessage((m) => m.id === first.body.wa_message_id)
    // Key order and spacing do not matter: the fingerprint is over the canonical body.
    const again = await f.send('text', JSON.stringify({ data: { text: 'exactly once' }, phone: f.customer.phone }), { 'idempotency-key': 'order-42' })
    expect(again.status).toBe(200)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.body).toEqual(first.body)
    // Another round-trip, then count: the device sent the stanza once.
    const marker = await f.send('text', { phone: f.customer.phone, data: { text: 'marker' } })
    await f.customer.waitForMessage((m) => m.id === marker.body.wa_message_id)
    const sent = h.sim.messagesSentBy(deviceJid)
    expect(sent.filter((id) => id === first.body.wa_message_id)).toHaveLength(1)
    expect(f.customer.received.filter((m) => textOf(m.message) === 'exactly once')).toHaveLength(1)
    const rows = h.daemon.messaging.repo.list({ instanceId: f.inst.id, limit: 1000 }).filter((r) => r.text === 'exactly once')
    expect(rows).toHaveLength(1)
  })

  it('a request answered before its instance went down replays the answer; a new one is refused and frees its key', async () => {
    const g = await sendFixture(h)
    const body = { phone: g.customer.phone, data: { text: 'before the logout' } }
    const first = await g.send('text', body, { 'idempotency-key': 'k-down' })
    expect(first.status).toBe(200)
    expect((await h.request('POST', `/api/v1/instances/${g.inst.id}/disconnect`)).status).toBe(200)
    const again = await g.send('text', body, { 'idempotency-key': 'k-down' })
    expect(again.status).toBe(200)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.body).toEqual(first.body)
    for (let i = 0; i < 2; i++) {
      const refused = await g.send('text', { phone: g.customer.phone, data: { text: 'after' } }, { 'idempotency-key': 'k-new' })
      expect(refused.status).toBe(409)
      expect(refused.body.errors[0].code).toBe('INSTANCE_NOT_CONNECTED')
    }
  })

  it('same key + different body → 422 IDEMPOTENCY_KEY_REUSED, nothing queued', async () => {
    await f.send('text', { phone: f.customer.phone, data: { text: 'one' } }, { 'idempotency-key': 'k-reuse' })
    const before = h.daemon.messaging.repo.countOutbound()
    const res = await f.send('text', { phone: f.customer.phone, data: { text: 'two' } }, { 'idempotency-key': 'k-reuse' })
    expect(res.status).toBe(422)
    expect(res.body.errors[0].code).toBe('IDEMPOTENCY_KEY_REUSED')
    // Another recipient is another request too.
    const otherPhone = await f.send('text', { phone: '5511900000003', data: { text: 'one' } }, { 'idempotency-key': 'k-reuse' })
    expect(otherPhone.status).toBe(422)
    expect(otherPhone.body.errors[0].code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(h.daemon.messaging.repo.countOutbound()).toBe(before)
  })

  it('keys are per instance, and a failed request frees its key', async () => {
    const bad = await f.send('text', { phone: '5511900000002', data: { text: 'nobody' } }, { 'idempotency-key': 'k-free' })
    expect(bad.status).toBe(422)
    const good = await f.send('text', { phone: f.customer.phone, data: { text: 'now valid' } }, { 'idempotency-key': 'k-free' })
    expect(good.status).toBe(200)
    const invalid = await f.send('text', { phone: f.customer.phone, data: { text: 'x' } }, { 'idempotency-key': 'bad key with spaces' })
    expect(invalid.status).toBe(400)
    expect(invalid.body.errors[0].code).toBe('IDEMPOTENCY_KEY_INVALID')
  })

  describe('while the first request is still in flight', () => {
    let server: Server
    let held: ServerResponse | undefined
    let arrived: () => void = () => {}
    let image: Buffer

    beforeAll(async () => {
      image = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0a0' } }).jpeg().toBuffer()
      // A media URL that answers only when the test lets it: the first request stays in flight meanwhile.
      server = createServer((_req, res) => {
        held = res
        arrived()
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    })
    afterAll(async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    })

    it('a second request with the key answers 409 IDEMPOTENCY_KEY_IN_USE; afterwards it replays', async () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pic.jpg`
      const body = { phone: f.customer.phone, data: { url, text: 'slow picture' } }
      const requested = new Promise<void>((resolve) => (arrived = resolve))
      const first = f.send('image', body, { 'idempotency-key': 'k-slow' })
      await requested
      const second = await f.send('image', body, { 'idempotency-key': 'k-slow' })
      expect(second.status).toBe(409)
      expect(second.body.errors[0].code).toBe('IDEMPOTENCY_KEY_IN_USE')
      held?.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': image.length }).end(image)
      const done = await first
      expect(done.status).toBe(200)
      const third = await f.send('image', body, { 'idempotency-key': 'k-slow' })
      expect(third.status).toBe(200)
      expect(third.body.message_id).toBe(done.body.message_id)
      const final = await f.waitForMessage(done.body.message_id, (m) => m.status !== 'queued')
      expect(final.error).toBeNull()
      const got = await f.customer.waitForMessage((m) => m.id === done.body.wa_message_id)
      expect(got.message.imageMessage?.caption).toBe('slow picture')
    })
  })
})
