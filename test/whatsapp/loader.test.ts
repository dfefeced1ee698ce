import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { acceptsForgedSignature } from '../../src/whatsapp/curve-verify.js'
import { WhatsAppLoader } from '../../src/whatsapp/loader.js'

describe('WhatsAppLoader', () => {
  it('hands out the runtime only once loaded, loads it once, and makes Baileys refuse forged signatures as it loads', async () => {
    const warnings: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) })
    const loader = new WhatsAppLoader(logger)
    expect(() => loader.runtime).toThrow(/before WhatsAppLoader.load\(\) resolved/)
    expect(acceptsForgedSignature()).toBe(true) // Baileys rc14 as installed (curve-verify.test.ts)

    const [first, second] = await Promise.all([loader.load(), loader.load()])
    expect(second).toBe(first)
    expect(loader.runtime).toBe(first)
    expect(typeof first.WaConnection).toBe('function')
    expect(acceptsForgedSignature()).toBe(false)
    expect(warnings).toEqual(['Baileys accepted a forged signature (libsignal 6 verify bug); a strict Curve.verify is installed'])
  })
})
