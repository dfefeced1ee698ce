import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, type Harness, type PairedInstance } from '../helpers/harness.js'
import { TestReceiver, verifyPlixaSignature, verifyStandardWebhook } from '../helpers/receiver.js'
import type { Customer } from '../wasim/index.js'

describe('inbound text → signed webhook', () => {
  let h: Harness
  let inst: PairedInstance
  let receiver: TestReceiver
  let secret: string
  let maria: Customer

  beforeAll(async () => {
    h = await startHarness({ env: { WEBHOOK_RETRY_SCHEDULE_MS: '20,40,80' } })
    inst = await h.pairNewInstance({ pushName: 'Acme' })
    maria = h.sim.createCustomer({ phone: '5544998765401', pushName: 'Maria' })
    receiver = await TestReceiver.start()
    const created = await h.request('POST', '/api/v1/webhooks', { url: receiver.url, events: ['message.inbound'], instance_id: inst.id })
    expect(created.status).toBe(201)
    secret = created.body.data.secret
  })
  afterAll(async () => {
    await receiver?.close()
    await h?.close()
  })

  it('delivers a customer text as message.inbound, verified by both recipes', async () => {
    const { id } = await maria.sendText(inst.phone.phone, 'oi, tudo bem?')
    const req = await receiver.waitFor((r) => r.json?.data?.wa_message_id === id)
    expect(secret).toMatch(/^whsec_/)
    expect(verifyPlixaSignature(req, secret)).toBe(true)
    expect(verifyPlixaSignature(req, 'whsec_d3JvbmcgeW91IGFyZQ==')).toBe(false)
    expect(verifyStandardWebhook(req, secret)).toMatchObject({ type: 'message.inbound' })
    expect(() => verifyStandardWebhook(req, 'whsec_d3JvbmcgeW91IGFyZQ==')).toThrow()
    expect(req.headers['webhook-id']).toBe(req.json.id)
    expect(req.json).toMatchObject({
      type: 'message.inbound',
      version: '1',
      instance_id: inst.id,
      data: { wa_message_id: id, phone: maria.phone, lid: maria.lid, push_name: 'Maria', type: 'text', text: 'oi, tudo bem?', quoted: null },
    })
    expect(req.json.data.message_id).toMatch(/^msg_/)
    expect(req.json.id).toMatch(/^evt_/)
    expect(Date.parse(req.json.data.timestamp)).not.toBeNaN()
    // The messages API shows the same message as the event did: the sender's name, WhatsApp's time.
    const listed = await h.request('GET', `/api/v1/messages/${req.json.data.message_id}`)
    expect(listed.body.data).toMatchObject({ push_name: 'Maria', timestamp: req.json.data.timestamp, direction: 'inbound' })
  })

  it('answers one event per WhatsApp id when the server delivers the stanza twice', async () => {
    h.sim.faults.duplicateNextDelivery(inst.phone.linkedDevices()[0] ?? '', 1)
    const { id } = await maria.sendText(inst.phone.phone, 'only once')
    await receiver.waitFor((r) => r.json?.data?.wa_message_id === id)
    const { id: marker } = await maria.sendText(inst.phone.phone, 'marker')
    await receiver.waitFor((r) => r.json?.data?.wa_message_id === marker)
    expect(receiver.requests.filter((r) => r.json?.data?.wa_message_id === id)).toHaveLength(1)
  })
})
