import { DisconnectReason, proto } from '@whiskeysockets/baileys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, pairClient } from './baileys-client.js'
import type { StreamErrorCode } from './faults.js'
import { WaSimulator } from './simulator.js'

describe('fault injection produces the close codes of doc §7', () => {
  let sim: WaSimulator
  let nextNumber = 5511999991000
  const newPhone = () => sim.createPhone({ phone: `${nextNumber++}`, pushName: 'Faulty' })

  beforeAll(async () => {
    sim = await WaSimulator.start({ qrRefs: 2 })
    sim.trustInProcess()
  })
  afterAll(async () => {
    await sim.stop()
  })

  it.each<[StreamErrorCode, number]>([
    [515, DisconnectReason.restartRequired],
    [503, DisconnectReason.unavailableService],
    [401, DisconnectReason.loggedOut],
    [440, DisconnectReason.connectionReplaced],
    [500, DisconnectReason.badSession]
  ])('stream:error %i closes the client with %i', async (code, expected) => {
    const { client, deviceJid } = await pairClient(sim, newPhone())
    sim.faults.streamError(deviceJid, code)
    expect(await client.waitForClose()).toBe(expected)
  })

  it('xmlstreamend closes with 428', async () => {
    const { client, deviceJid } = await pairClient(sim, newPhone())
    sim.faults.streamEnd(deviceJid)
    expect(await client.waitForClose()).toBe(DisconnectReason.connectionClosed)
  })

  it('a frozen connection is declared lost by the keep-alive (408)', async () => {
    const { client, deviceJid } = await pairClient(sim, newPhone(), { keepAliveIntervalMs: 500 })
    sim.faults.freeze(deviceJid)
    // Baileys allows keepAliveIntervalMs + 5000 ms of silence (socket.js:530-545).
    expect(await client.waitForClose(8000)).toBe(DisconnectReason.connectionLost)
  }, 10_000)

  it('running out of QR refs closes with 408', async () => {
    const client = connectClient(sim, undefined, { qrTimeout: 200 })
    expect(await client.waitForClose()).toBe(DisconnectReason.timedOut)
    expect(client.updates.filter(u => u.qr).length).toBe(2)
  })

  it('an expired QR cannot be scanned', async () => {
    const client = connectClient(sim)
    const { qr } = await client.waitForUpdate(u => !!u.qr)
    sim.faults.expireQr()
    await expect(newPhone().scanQr(qr ?? '')).rejects.toThrow(/expired/)
    client.end()
  })

  /** Pairs a client, ends it, and has a customer write while it is away: the message waits in the offline queue. */
  async function awayWithBacklog(customerPhone: string) {
    const customer = sim.createCustomer({ phone: customerPhone })
    const phone = newPhone()
    const { client, deviceJid } = await pairClient(sim, phone)
    client.end()
    await sim.waitFor('close', c => c.deviceJid === deviceJid)
    const { id } = await customer.sendText(phone.phone, 'while away')
    return { client, deviceJid, id }
  }

  it('freezeNextLogin: the backlog goes out, the receipt is never heard, and the next login gets the message again', async () => {
    const { client, deviceJid, id } = await awayWithBacklog('5511988880600')
    sim.faults.freezeNextLogin(deviceJid)
    const frozen = connectClient(sim, client.auth, { keepAliveIntervalMs: 500 })
    // The client decrypts it and sends its receipt; the server reads that while frozen and drops it.
    await frozen.waitForEvent('messages.upsert', u => u.messages.some(m => m.key.id === id))
    expect(await frozen.waitForClose(8000)).toBe(DisconnectReason.connectionLost)
    const relogin = sim.waitFor('login', e => e.deviceJid === deviceJid)
    const again = connectClient(sim, client.auth)
    expect((await relogin).offlineCount).toBe(1)
    again.end()
  }, 10_000)

  it('a stream error ends the stream: a receipt racing the 440 is not heard, and the next login gets the message again', async () => {
    const { client, deviceJid, id } = await awayWithBacklog('5511988880601')
    const replaced = connectClient(sim, client.auth)
    // In the same turn as the client's upsert: its receipt is on the wire, not yet read by the server.
    await replaced.waitForEvent('messages.upsert', u => u.messages.some(m => m.key.id === id))
    sim.faults.streamError(deviceJid, 440)
    expect(await replaced.waitForClose()).toBe(DisconnectReason.connectionReplaced)
    const relogin = sim.waitFor('login', e => e.deviceJid === deviceJid)
    const again = connectClient(sim, client.auth)
    expect((await relogin).offlineCount).toBe(1)
    again.end()
  })

  it('failure 401 on the next login', async () => {
    const { client, deviceJid } = await pairClient(sim, newPhone())
    client.end()
    await sim.waitFor('close', c => c.deviceJid === deviceJid)
    sim.faults.failureNextLogin(deviceJid, 401)
    expect(await connectClient(sim, client.auth).waitForClose()).toBe(DisconnectReason.loggedOut)
  })

  it('an ack error 479 turns into messages.update ERROR', async () => {
    const customer = sim.createCustomer({ phone: '5511988880479' })
    const phone = newPhone()
    const { client, deviceJid } = await pairClient(sim, phone)
    sim.faults.ackError(deviceJid, 479)
    const errors = client.waitForEvent('messages.update', us => us.some(u => u.update.status === proto.WebMessageInfo.Status.ERROR), 8000)
    const sent = await client.sock.sendMessage(customer.jid, { text: 'refused' })
    // Baileys may hold the update in its event buffer until later inbound stanzas are processed (doc §4.8):
    // keep the customer talking until it comes out.
    let settled = false
    void errors.finally(() => (settled = true)).catch(() => undefined)
    for (let i = 0; i < 6 && !settled; i++) {
      const { id } = await customer.sendText(phone.phone, `nudge ${i}`)
      await client.waitForEvent('messages.upsert', u => u.messages.some(m => m.key.id === id)).catch(() => undefined)
    }
    const [first] = await errors
    expect(first?.key.id).toBe(sent?.key.id)
    expect(first?.update.messageStubParameters).toEqual(['479'])
    expect(customer.received).toHaveLength(0)
    client.end()
  })

  it('corrupt ciphertext makes the client ask for a retry, and the resend arrives', async () => {
    const customer = sim.createCustomer({ phone: '5511988880500' })
    const phone = newPhone()
    const { client, deviceJid } = await pairClient(sim, phone)
    sim.faults.corruptNextFrom(customer.phone)
    const retry = sim.waitFor('receipt', r => r.type === 'retry' && r.from === deviceJid)
    const upsert = client.waitForEvent('messages.upsert', u => u.messages.some(m => m.message?.conversation === 'scrambled'))
    const { id } = await customer.sendText(phone.phone, 'scrambled')
    expect((await retry).ids).toContain(id)
    expect((await upsert).messages[0]?.key.id).toBe(id)
    client.end()
  })

  it('logout removes the device; its next login gets 401', async () => {
    const phone = newPhone()
    const { client, deviceJid } = await pairClient(sim, phone)
    const logout = sim.waitFor('logout', l => l.deviceJid === deviceJid)
    await client.sock.logout()
    expect((await logout).reason).toBe('client')
    expect(phone.linkedDevices()).not.toContain(deviceJid)
    expect(await connectClient(sim, client.auth).waitForClose()).toBe(DisconnectReason.loggedOut)
  })

  it('unlinking on the phone kicks the device with 401', async () => {
    const phone = newPhone()
    const { client, deviceJid } = await pairClient(sim, phone)
    await phone.unlink(deviceJid)
    expect(await client.waitForClose()).toBe(DisconnectReason.loggedOut)
    expect(phone.linkedDevices()).toEqual([])
  })

  it('a second login of the same device replaces the first with 440', async () => {
    const { client } = await pairClient(sim, newPhone())
    const second = connectClient(sim, client.auth)
    expect(await client.waitForClose()).toBe(DisconnectReason.connectionReplaced)
    await second.waitForUpdate(u => u.connection === 'open')
    second.end()
  })
})
