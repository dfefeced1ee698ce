import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient } from './baileys-client.js'
import { WaSimulator } from './simulator.js'

describe('pairing by code (link_code_companion_reg)', () => {
  let sim: WaSimulator
  beforeAll(async () => {
    sim = await WaSimulator.start()
    sim.trustInProcess()
  })
  afterAll(async () => {
    await sim.stop()
  })

  it('refuses a wrong code', async () => {
    const phone = sim.createPhone({ phone: '5511999990050', pushName: 'Code Co' })
    const first = connectClient(sim)
    await first.waitForUpdate(u => !!u.qr)
    await first.sock.requestPairingCode(phone.phone)
    await sim.waitFor('iq', i => i.child === 'link_code_companion_reg')
    await expect(phone.enterPairingCode('WRONGCOD')).rejects.toThrow(/wrong pairing code|did not finish/)
    expect(phone.linkedDevices()).toEqual([])
    first.end()
  }, 15_000)

  it('links the client once the phone enters the right code, then opens after 515', async () => {
    const phone = sim.createPhone({ phone: '5511999990051', pushName: 'Code Co' })
    const first = connectClient(sim)
    await first.waitForUpdate(u => !!u.qr)
    const code = await first.sock.requestPairingCode(phone.phone)
    await sim.waitFor('iq', i => i.child === 'link_code_companion_reg')
    const { deviceJid } = await phone.enterPairingCode(code)
    expect(await first.waitForClose()).toBe(515)
    const second = connectClient(sim, first.auth)
    await second.waitForUpdate(u => u.connection === 'open')
    expect(phone.linkedDevices()).toEqual([deviceJid])
    second.end()
  })
})
