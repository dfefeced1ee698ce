import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, type Harness } from '../helpers/harness.js'
import { sendFixture, type SendFixture } from './helpers.js'

describe('WhatsApp refusals: stop and report', () => {
  let h: Harness
  let f: SendFixture
  let deviceJid: string

  beforeAll(async () => {
    h = await startHarness({ env: { SEND_RATE_PAUSE_MS: '1500' } })
    f = await sendFixture(h)
    deviceJid = f.inst.phone.linkedDevices()[0] ?? ''
  })
  afterAll(async () => {
    await h?.close()
  })

  it('ack error 463 marks the message failed with WhatsApp’s code, pauses the queue, then resumes', async () => {
    const events: string[] = []
    h.daemon.messaging.tracker.on('change', ({ row }) => events.push(`${row.text}:${row.status}`))
    h.sim.faults.ackError(deviceJid, 463)
    const refused = await f.send('text', { phone: f.customer.phone, data: { text: 'cold contact' } })
    const failed = await f.waitForMessage(refused.body.message_id, (m) => m.status === 'failed')
    expect(failed.error).toMatchObject({ code: 'WHATSAPP_RATE_LIMITED', wa_code: 463 })
    const pausedAt = Date.now()
    const next = await f.send('text', { phone: f.customer.phone, data: { text: 'after the pause' } })
    const got = await f.customer.waitForMessage((m) => m.id === next.body.wa_message_id, 10_000)
    // Held back for the pause (1.5 s here), not sent into the rate limit.
    expect(got.at - pausedAt).toBeGreaterThanOrEqual(1_000)
    expect(events).toContain('cold contact:failed')
    // The failure is an event for the client too.
    const row = h.daemon.db.first(h.daemon.db.qb.selectFrom('events').select('body').where('type', '=', 'message.status').where('body', 'like', `%${refused.body.message_id}%`))
    expect(JSON.parse(row?.body ?? '{}').data).toMatchObject({ status: 'failed', error: { code: 'WHATSAPP_RATE_LIMITED', wa_code: 463 } })
  })

  it('another ack error (479) fails only that message, without a pause', async () => {
    h.sim.faults.ackError(deviceJid, 479)
    const refused = await f.send('text', { phone: f.customer.phone, data: { text: 'smax invalid' } })
    const failed = await f.waitForMessage(refused.body.message_id, (m) => m.status === 'failed')
    expect(failed.error).toMatchObject({ code: 'WHATSAPP_REJECTED', wa_code: 479 })
    const sentAt = Date.now()
    const next = await f.send('text', { phone: f.customer.phone, data: { text: 'right after' } })
    const got = await f.customer.waitForMessage((m) => m.id === next.body.wa_message_id)
    expect(got.at - sentAt).toBeLessThan(1_000)
  })
})
