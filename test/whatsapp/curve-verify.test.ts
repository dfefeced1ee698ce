import { Curve } from '@whiskeysockets/baileys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { acceptsForgedSignature, ensureStrictCurveVerify } from '../../src/whatsapp/curve-verify.js'
import { connectClient } from '../wasim/baileys-client.js'
import { WaSimulator } from '../wasim/index.js'

describe('strict Curve.verify', () => {
  let trusted: WaSimulator
  let impostor: WaSimulator

  beforeAll(async () => {
    trusted = await WaSimulator.start({ rootKeySeed: 'trusted-root', media: false })
    impostor = await WaSimulator.start({ rootKeySeed: 'impostor-root', media: false })
    trusted.trustInProcess()
  })
  afterAll(async () => {
    await Promise.all([trusted.stop(), impostor.stop()])
  })

  it('rc14 as installed accepts a forged server certificate (the bug this guards against)', async () => {
    expect(acceptsForgedSignature()).toBe(true)
    const client = connectClient(impostor)
    try {
      const update = await client.waitForUpdate((u) => Boolean(u.qr))
      expect(update.qr).toBeTruthy()
    } finally {
      client.end()
    }
  })

  it('once fixed, a forged server certificate is refused and a genuine one still accepted', async () => {
    expect(ensureStrictCurveVerify()).toEqual({ patched: true })
    expect(acceptsForgedSignature()).toBe(false)
    const keys = Curve.generateKeyPair()
    const message = Buffer.from('genuine')
    expect(Curve.verify(keys.public, message, Curve.sign(keys.private, message))).toBe(true)

    const forged = connectClient(impostor)
    await forged.waitForClose()
    expect(forged.updates.some((u) => u.qr)).toBe(false)

    const genuine = connectClient(trusted)
    try {
      await genuine.waitForUpdate((u) => Boolean(u.qr))
    } finally {
      genuine.end()
    }
    // Installing twice is a no-op: the fix is already in place.
    expect(ensureStrictCurveVerify()).toEqual({ patched: false })
  })
})
