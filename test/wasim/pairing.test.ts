import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, pairClient } from './baileys-client.js'
import { makeMemoryAuthState } from './memory-auth.js'
import { WaSimulator } from './simulator.js'

describe('QR pairing, restart and login', () => {
  let sim: WaSimulator
  beforeAll(async () => {
    sim = await WaSimulator.start()
    sim.trustInProcess()
  })
  afterAll(async () => {
    await sim.stop()
  })

  it('pairs by QR, restarts on 515, logs in and opens with me.name from the history bootstrap', async () => {
    const phone = sim.createPhone({ phone: '5511999990001', pushName: 'Acme Support' })
    const started = Date.now()
    const first = connectClient(sim)
    const { qr } = await first.waitForUpdate(u => !!u.qr)
    expect(qr).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#2@/)
    const { deviceJid } = await phone.scanQr(qr ?? '')
    expect(await first.waitForClose()).toBe(515)
    expect(first.auth.state.creds.me?.id).toBe(deviceJid)
    expect(first.auth.state.creds.me?.lid).toMatch(new RegExp(`^${phone.lid}:\\d+@lid$`))

    const second = connectClient(sim, first.auth)
    await second.waitForUpdate(u => u.connection === 'open')
    const openedAfterMs = Date.now() - started
    await second.waitForEvent('creds.update', u => u.me?.name === 'Acme Support')
    expect(second.auth.state.creds.me?.name).toBe('Acme Support')
    expect(phone.linkedDevices()).toEqual([deviceJid])
    expect(sim.connectedDevices()).toEqual([deviceJid])

    const order = sim.eventLog.map(e => e.name).filter(n => ['pairing', 'paired', 'login'].includes(n))
    expect(order).toEqual(['pairing', 'paired', 'login'])
    console.info(`QR → open took ${openedAfterMs} ms`)
    second.end()
  })

  it('refuses a login whose Noise key does not match the paired device', async () => {
    const phone = sim.createPhone({ phone: '5511999990002' })
    const { client, deviceJid } = await pairClient(sim, phone)
    client.end()
    await sim.waitFor('close', c => c.deviceJid === deviceJid)
    const forged = makeMemoryAuthState({ ...makeMemoryAuthState().state.creds, me: client.auth.state.creds.me })
    const impostor = connectClient(sim, forged)
    expect(await impostor.waitForClose()).toBe(401)
  })
})
