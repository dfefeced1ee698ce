import { randomBytes } from 'node:crypto'
import { downloadMediaMessage } from '@whiskeysockets/baileys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pairClient, type TestClient } from './baileys-client.js'
import type { Customer } from './customer.js'
import type { Phone } from './phone.js'
import { WaSimulator } from './simulator.js'

// Runs with NODE_EXTRA_CA_CERTS=test/wasim/certs/ca.pem (set by vitest.config.ts) so HTTPS to the sim verifies.
describe('media over the simulator HTTPS host', () => {
  let sim: WaSimulator
  let phone: Phone
  let joao: Customer
  let client: TestClient

  beforeAll(async () => {
    sim = await WaSimulator.start()
    sim.trustInProcess()
    phone = sim.createPhone({ phone: '5511999990020', pushName: 'Acme' })
    joao = sim.createCustomer({ phone: '5511988880020', pushName: 'João' })
    ;({ client } = await pairClient(sim, phone))
  })
  afterAll(async () => {
    client.end()
    await sim.stop()
  })

  it('client uploads a document, the customer downloads and decrypts it', async () => {
    const data = randomBytes(4096)
    const uploaded = sim.waitFor('upload', u => u.ok)
    const sent = await client.sock.sendMessage(joao.jid, { document: data, mimetype: 'application/pdf', fileName: 'boleto.pdf' })
    expect((await uploaded).path).toMatch(/^\/mms\/document\//)
    const got = await joao.waitForMessage(m => m.id === sent?.key.id)
    expect(got.message.documentMessage?.fileName).toBe('boleto.pdf')
    expect((await joao.downloadMedia(got)).equals(data)).toBe(true)
  })

  it('customer sends an image, the client downloads it with downloadMediaMessage', async () => {
    const data = randomBytes(2048)
    const upsert = client.waitForEvent('messages.upsert', u => u.messages.some(m => !!m.message?.imageMessage))
    const { id } = await joao.sendImage(phone.phone, data, 'foto')
    const message = (await upsert).messages.find(m => m.key.id === id)
    expect(message?.message?.imageMessage?.caption).toBe('foto')
    const downloaded = await downloadMediaMessage(message!, 'buffer', {})
    expect(Buffer.from(downloaded).equals(data)).toBe(true)
  })

  it('failUploads makes the next upload fail', async () => {
    sim.faults.failUploads(1)
    const refused = sim.waitFor('upload', u => !u.ok)
    await expect(client.sock.sendMessage(joao.jid, { document: randomBytes(64), mimetype: 'text/plain', fileName: 'x.txt' })).rejects.toThrow(
      /upload failed/i
    )
    expect((await refused).ok).toBe(false)
  })
})
