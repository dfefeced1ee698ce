import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, uniquePhone, type Harness } from '../helpers/harness.js'
import { fixtures, type Fixtures } from '../media/fixtures.js'
import { WaSimulator } from '../wasim/index.js'
import { sendFixture, textOf, until, wsGate, type SendFixture, type WsGate } from './helpers.js'

describe('sending while the instance is connecting, and the outbound media files', () => {
  let sim: WaSimulator
  let gate: WsGate
  let h: Harness
  let f: SendFixture
  let fx: Fixtures

  beforeAll(async () => {
    sim = await WaSimulator.start()
    gate = await wsGate(sim.wsUrl)
    // While the gate is shut every reconnect fails: no long backoff and no giving up within a test.
    h = await startHarness({ sim, env: { WA_WS_URL: gate.url, RECONNECT_FAILURES_BEFORE_LONG_BACKOFF: '1000', RECONNECT_MAX_FAILURES: '100000' } })
    ;[f, fx] = await Promise.all([sendFixture(h), fixtures()])
  })
  afterAll(async () => {
    await h?.close()
    await gate?.stop()
    await sim?.stop()
  })

  async function goOffline(): Promise<void> {
    const dropped = h.waitForStatus(f.inst.id, 'connecting')
    gate.shut()
    await dropped
  }

  async function goOnline(): Promise<void> {
    const connected = h.waitForStatus(f.inst.id, 'connected')
    gate.open()
    await connected
  }

  it('accepts a message to a number never looked up, resolves it at send time and delivers it once the socket opens', async () => {
    const newcomer = sim.createCustomer({ phone: uniquePhone('55449'), pushName: 'Nova' })
    await goOffline()
    const res = await f.send('text', { phone: newcomer.phone, data: { text: 'enviada enquanto conectava' } })
    expect(res.status).toBe(200)
    expect(res.body.status).toBe('queued')
    // Nobody could be asked at request time: the row waits without a JID.
    expect(h.daemon.messaging.repo.get(res.body.message_id)?.jid).toBeNull()
    // A number that is not on WhatsApp is accepted as well; it fails when the sender asks.
    const nobody = await f.send('text', { phone: '5511900000002', data: { text: 'ninguém' } })
    expect(nobody.status).toBe(200)

    const received = newcomer.waitForMessage((m) => m.id === res.body.wa_message_id, 20_000)
    await goOnline()
    expect(textOf((await received).message)).toBe('enviada enquanto conectava')
    await f.waitForMessage(res.body.message_id, (m) => m.status === 'delivered', 20_000)
    expect(h.daemon.messaging.repo.get(res.body.message_id)?.jid).toBe(newcomer.jid)
    const failed = await f.waitForMessage(nobody.body.message_id, (m) => m.status === 'failed', 20_000)
    expect(failed.error.code).toBe('PHONE_NOT_ON_WHATSAPP')
  })

  it('deletes a media file once its message is sent or has failed, and sweeps leftovers at restart', async () => {
    const dir = path.join(h.config.dataDir, 'media', 'outbound')
    const fileOf = (messageId: string) => path.join(dir, messageId)
    const gone = (messageId: string) => until(`the file of ${messageId} to be deleted`, () => (fs.existsSync(fileOf(messageId)) ? undefined : true))
    const image = { base64: fx.png.toString('base64') }

    const sent = await f.send('image', { phone: f.customer.phone, data: image })
    expect(sent.status).toBe(200)
    await f.waitForMessage(sent.body.message_id, (m) => m.status !== 'queued')
    await gone(sent.body.message_id)

    f.inst.phone.linkedDevices().forEach((device) => sim.faults.ackError(device, 479))
    const refused = await f.send('image', { phone: f.customer.phone, data: image })
    expect((await f.waitForMessage(refused.body.message_id, (m) => m.status === 'failed')).error.code).toBe('WHATSAPP_REJECTED')
    await gone(refused.body.message_id)

    // Queued while the socket is down: its file stays across a restart; what a crash left behind does not.
    await goOffline()
    const queued = await f.send('image', { phone: f.customer.phone, data: { ...image, text: 'depois do restart' } })
    expect(queued.status).toBe(200)
    expect(fs.existsSync(fileOf(queued.body.message_id))).toBe(true)
    await h.restartDaemon({
      whileDown: async () => {
        fs.writeFileSync(fileOf('msg_orphan'), 'a request that died before its row was committed')
        fs.writeFileSync(fileOf(sent.body.message_id), 'a crash between the server ack and the removal')
      },
    })
    expect(fs.readdirSync(dir)).toEqual([queued.body.message_id])

    const received = f.customer.waitForMessage((m) => m.id === queued.body.wa_message_id, 20_000)
    await goOnline()
    const got = await received
    expect(got.message.imageMessage?.caption).toBe('depois do restart')
    expect((await f.customer.downloadMedia(got)).length).toBe(queued.body.data.media.size)
    await gone(queued.body.message_id)
  })
})
