import { encryptedStream } from '@whiskeysockets/baileys'
import { readFile, rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EMPTY_CIDR_LIST, parseCidrList } from '../../src/net/cidr.js'
import { createGuardedAgent } from '../../src/net/guarded-agent.js'
import { downloadInboundMedia, mediaUrl } from '../../src/whatsapp/media-download.js'
import { WaSimulator } from '../wasim/index.js'

describe('mediaUrl: which host an inbound media download goes to', () => {
  const path = '/v/t62.7118-24/abc?ccb=11-4&oh=x'
  it('keeps a WhatsApp media host the message names', () => {
    expect(mediaUrl({ url: 'https://media-gru1-1.cdn.whatsapp.net/v/x', directPath: path }, false)).toBe(`https://media-gru1-1.cdn.whatsapp.net${path}`)
  })
  it('sends any other host to WhatsApp’s own media host', () => {
    for (const url of ['https://evil.example/v/x', 'https://169.254.169.254/latest', 'http://mmg.whatsapp.net/x', 'not a url', null]) {
      expect(mediaUrl({ url, directPath: path }, false)).toBe(`https://mmg.whatsapp.net${path}`)
    }
  })
  it('accepts the named host against another WhatsApp endpoint (the simulator)', () => {
    expect(mediaUrl({ url: 'https://127.0.0.1:4443/m/1', directPath: '/m/1' }, true)).toBe('https://127.0.0.1:4443/m/1')
  })
  it('refuses a message with nowhere to download from', () => {
    expect(() => mediaUrl({ url: 'https://evil.example/x', directPath: null }, false)).toThrow(/no usable media location/)
  })
})

describe('downloadInboundMedia against the simulator’s media host', () => {
  let sim: WaSimulator
  const loopbackAllowed = createGuardedAgent({ allow: parseCidrList('127.0.0.0/8') })
  let stored: { url: string; directPath: string; mediaKey: string }
  const plaintext = Buffer.from('%PDF-1.4 a small document '.repeat(40))

  beforeAll(async () => {
    sim = await WaSimulator.start()
    const { encFilePath, mediaKey } = await encryptedStream(plaintext, 'document')
    stored = { ...sim.media!.put(await readFile(encFilePath)), mediaKey: Buffer.from(mediaKey).toString('base64') }
    await rm(encFilePath, { force: true })
  })
  afterAll(async () => {
    await sim?.stop()
    await loopbackAllowed.close()
  })

  const options = { maxBytes: 1 << 20, timeoutMs: 5_000, agent: loopbackAllowed, anyHost: true }

  it('downloads, checks the MAC and decrypts', async () => {
    const { bytes } = await downloadInboundMedia({ type: 'document', ...stored }, options)
    expect(bytes.equals(plaintext)).toBe(true)
  })

  it('refuses bytes that fail the MAC check (another key)', async () => {
    const wrongKey = Buffer.alloc(32, 7).toString('base64')
    await expect(downloadInboundMedia({ type: 'document', ...stored, mediaKey: wrongKey }, options)).rejects.toMatchObject({ code: 'MEDIA_UNAVAILABLE' })
  })

  it('stops at the size limit', async () => {
    await expect(downloadInboundMedia({ type: 'document', ...stored }, { ...options, maxBytes: 100 })).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE' })
  })

  it('cannot be pointed at a private address unless it is allowed', async () => {
    const guarded = createGuardedAgent({ allow: EMPTY_CIDR_LIST })
    try {
      await expect(downloadInboundMedia({ type: 'document', ...stored }, { ...options, agent: guarded })).rejects.toMatchObject({ code: 'MEDIA_URL_FORBIDDEN' })
    } finally {
      await guarded.close()
    }
  })
})
