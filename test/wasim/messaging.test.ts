import { proto } from '@whiskeysockets/baileys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, pairClient, type TestClient } from './baileys-client.js'
import type { Customer } from './customer.js'
import type { Phone } from './phone.js'
import { WaSimulator } from './simulator.js'

const { Status } = proto.WebMessageInfo

describe('1:1 messaging between a Baileys client and virtual devices', () => {
  let sim: WaSimulator
  let phone: Phone
  let maria: Customer
  let client: TestClient
  let deviceJid: string

  beforeAll(async () => {
    sim = await WaSimulator.start()
    sim.trustInProcess()
    phone = sim.createPhone({ phone: '5511999990010', pushName: 'Acme' })
    maria = sim.createCustomer({ phone: '5544998765432', pushName: 'Maria' })
    ;({ client, deviceJid } = await pairClient(sim, phone))
  })
  afterAll(async () => {
    client.end()
    await sim.stop()
  })

  it('delivers text to a customer, who decrypts it; delivered then read reach the client', async () => {
    const sent = await client.sock.sendMessage(maria.jid, { text: 'Olá Maria' })
    const id = sent?.key.id ?? ''
    const got = await maria.waitForMessage(m => m.id === id)
    expect(got.message.conversation ?? got.message.extendedTextMessage?.text).toBe('Olá Maria')
    expect(got.from).toBe(deviceJid)
    expect(await client.waitForStatus(id, Status.DELIVERY_ACK)).toBeGreaterThanOrEqual(Status.DELIVERY_ACK)
    await maria.sendReceipt(phone.phone, [id], 'read')
    expect(await client.waitForStatus(id, Status.READ)).toBe(Status.READ)
    // the phone got the DSM copy of what its companion sent
    const copy = await phone.waitForMessage(m => m.id === id)
    expect(copy.recipient).toBe(maria.jid)
  })

  it('delivers a customer message to the client as notify, with the push name', async () => {
    const upsert = client.waitForEvent('messages.upsert', u => u.messages.some(m => m.message?.conversation === 'oi, tudo bem?'))
    const { id } = await maria.sendText(phone.phone, 'oi, tudo bem?')
    const { type, messages } = await upsert
    expect(type).toBe('notify')
    expect(messages[0]?.key.id).toBe(id)
    expect(messages[0]?.pushName).toBe('Maria')
    expect(messages[0]?.key.fromMe).toBe(false)
    const receipt = await maria.waitForReceipt(r => r.ids.includes(id))
    expect(receipt.type).toBeUndefined()
  })

  it('relays a message typed on the phone to the customer and as a fromMe copy to the client', async () => {
    const upsert = client.waitForEvent('messages.upsert', u => u.messages.some(m => m.message?.conversation === 'typed on the phone'))
    const { id } = await phone.sendMessage(maria.phone, { conversation: 'typed on the phone' })
    const { messages } = await upsert
    expect(messages[0]?.key).toMatchObject({ id, fromMe: true, remoteJid: maria.jid })
    expect((await maria.waitForMessage(m => m.id === id)).message.conversation).toBe('typed on the phone')
  })

  it('answers onWhatsApp for known numbers, with or without the Brazilian ninth digit, and unknown ones', async () => {
    const result = await client.sock.onWhatsApp('5544998765432', '554498765432', '5511900000000')
    expect(result).toEqual([
      { jid: maria.jid, exists: true },
      { jid: maria.jid, exists: true }
    ])
  })

  it('queues messages for an offline client and delivers them at login as append', async () => {
    client.end()
    await sim.waitFor('close', c => c.deviceJid === deviceJid)
    const { id } = await maria.sendText(phone.phone, 'while you were away')
    const again = connectClient(sim, client.auth)
    const upsert = await again.waitForEvent('messages.upsert', u => u.messages.some(m => m.key.id === id))
    expect(upsert.type).toBe('append')
    expect(upsert.messages[0]?.message?.conversation).toBe('while you were away')
    client = again
  })
})
