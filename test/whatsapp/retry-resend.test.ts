import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, type Harness } from '../helpers/harness.js'
import { fixtures, type Fixtures } from '../media/fixtures.js'
import { sendFixture, textOf, type SendFixture } from '../messages/helpers.js'

/**
 * A phone that cannot decrypt a message asks the sending device for it again (a retry receipt). Baileys answers only
 * with what its `getMessage` returns (Socket/messages-recv.js:1040-1070), so the daemon must keep the content of what
 * it sent — across a restart too, since the phone may ask after the daemon came back.
 */
describe('retry receipts from the recipient (against the simulator)', () => {
  let h: Harness
  let f: SendFixture
  let fx: Fixtures

  beforeAll(async () => {
    ;[h, fx] = await Promise.all([startHarness(), fixtures()])
    f = await sendFixture(h)
  })
  afterAll(async () => {
    await h?.close()
  })

  it('sends a text again, under the same id, when the customer could not decrypt it', async () => {
    h.sim.faults.corruptNextTo(f.customer.phone)
    const res = await f.send('text', { phone: f.customer.phone, data: { text: 'second time lucky' } })
    expect(res.status).toBe(200)
    const got = await f.customer.waitForMessage((m) => m.id === res.body.wa_message_id, 15_000)
    expect(textOf(got.message)).toBe('second time lucky')
    expect(f.customer.decryptFailures).toBe(1)
  })

  it('sends media again as the same uploaded media', async () => {
    h.sim.faults.corruptNextTo(f.customer.phone)
    const res = await f.send('image', { phone: f.customer.phone, data: { base64: fx.png.toString('base64'), text: 'again please' } })
    expect(res.status).toBe(200)
    const got = await f.customer.waitForMessage((m) => m.id === res.body.wa_message_id, 15_000)
    expect(got.message.imageMessage?.caption).toBe('again please')
    expect((await f.customer.downloadMedia(got)).length).toBeGreaterThan(0)
    expect(f.customer.decryptFailures).toBe(2)
  })

  it('still has what it sent after a restart', async () => {
    const res = await f.send('text', { phone: f.customer.phone, data: { text: 'before the restart' } })
    const waId: string = res.body.wa_message_id
    await f.waitForMessage(res.body.message_id, (m) => m.status === 'delivered')
    await h.restartDaemon()
    await h.waitForStatus(f.inst.id, 'connected', 15_000)

    f.customer.requestResend(waId)
    const copies = () => f.customer.received.filter((m) => m.id === waId)
    await f.customer.waitForMessage((m) => m.id === waId && m !== copies()[0], 15_000)
    expect(copies().map((m) => textOf(m.message))).toEqual(['before the restart', 'before the restart'])
    // The very message that was sent (its secret too), not a rebuilt one.
    const [first, second] = copies().map((m) => Buffer.from(m.message.messageContextInfo?.messageSecret ?? []).toString('hex'))
    expect(second).toBe(first)
  })
})
