import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, type Harness } from '../helpers/harness.js'
import { fixtures, oggPackets, type Fixtures } from '../media/fixtures.js'
import { sendFixture, type SendFixture } from './helpers.js'

describe('media and the other message types, decrypted by the customer', () => {
  let h: Harness
  let f: SendFixture
  let fx: Fixtures

  beforeAll(async () => {
    ;[h, fx] = await Promise.all([startHarness(), fixtures()])
    f = await sendFixture(h)
  })
  afterAll(async () => {
    await h?.close()
  })

  async function sendAndReceive(type: string, data: Record<string, unknown>) {
    const res = await f.send(type, { phone: f.customer.phone, data })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    const got = await f.customer.waitForMessage((m) => m.id === res.body.wa_message_id, 15_000)
    return { res, got }
  }

  it('image with caption (and a thumbnail), downloaded intact by the customer', async () => {
    const { res, got } = await sendAndReceive('image', { base64: fx.png.toString('base64'), text: 'a red square' })
    const image = got.message.imageMessage
    expect(image?.caption).toBe('a red square')
    expect(image?.mimetype).toMatch(/^image\//)
    expect(image?.jpegThumbnail?.length).toBeGreaterThan(0)
    const bytes = await f.customer.downloadMedia(got)
    expect(bytes.length).toBe(res.body.data.media.size)
  })

  it('a refused media upload is tried again, and after three failed tries the message fails with SEND_FAILED', async () => {
    h.sim.faults.failUploads(2)
    const { got } = await sendAndReceive('image', { base64: fx.png.toString('base64'), text: 'third time lucky' })
    expect(got.message.imageMessage?.caption).toBe('third time lucky')
    h.sim.faults.failUploads(3)
    const res = await f.send('image', { phone: f.customer.phone, data: { base64: fx.png.toString('base64') } })
    expect(res.status).toBe(200)
    const failed = await f.waitForMessage(res.body.message_id, (m) => m.status === 'failed', 20_000)
    expect(failed.error).toMatchObject({ code: 'SEND_FAILED' })
  })

  it('deleting an instance deletes the media files of its unsent messages', async () => {
    const g = await sendFixture(h)
    const fs = await import('node:fs')
    h.sim.faults.dropAcks(g.inst.phone.linkedDevices()[0]!, 1) // no server ack: the message stays queued
    const res = await g.send('image', { phone: g.customer.phone, data: { base64: fx.png.toString('base64') } })
    expect(res.status).toBe(200)
    const file = `${h.config.dataDir}/media/outbound/${res.body.message_id}`
    expect(fs.existsSync(file)).toBe(true)
    expect((await h.request('DELETE', `/api/v1/instances/${g.inst.id}`)).status).toBe(200)
    expect(fs.existsSync(file)).toBe(false)
  })

  it('video', async () => {
    const { got } = await sendAndReceive('video', { base64: `data:video/mp4;base64,${fx.mp4.toString('base64')}`, text: 'clip' })
    expect(got.message.videoMessage?.mimetype).toBe('video/mp4')
    expect(got.message.videoMessage?.caption).toBe('clip')
    expect((await f.customer.downloadMedia(got)).length).toBeGreaterThan(0)
  })

  it('document with its filename', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n')
    const { got } = await sendAndReceive('document', { base64: pdf.toString('base64'), filename: 'boleto.pdf', text: 'seu boleto' })
    const doc = got.message.documentMessage ?? got.message.documentWithCaptionMessage?.message?.documentMessage
    expect(doc?.fileName).toBe('boleto.pdf')
    expect(doc?.mimetype).toBe('application/pdf')
    expect((await f.customer.downloadMedia(got)).equals(pdf)).toBe(true)
  })

  it('audio (not a voice note)', async () => {
    const { got } = await sendAndReceive('audio', { base64: fx.mp3.toString('base64') })
    expect(got.message.audioMessage?.ptt).toBeFalsy()
    expect(got.message.audioMessage?.seconds).toBeGreaterThan(0)
  })

  it('voice note: OGG/Opus mono with ptt, seconds and a 64-sample waveform; audio with ptt: true is the same', async () => {
    for (const [type, data] of [
      ['voice', { base64: fx.mp3.toString('base64') }],
      ['audio', { base64: fx.wav.toString('base64'), ptt: true }],
    ] as const) {
      const { res, got } = await sendAndReceive(type, data)
      expect(res.body.data.type).toBe('voice')
      const audio = got.message.audioMessage
      expect(audio?.ptt).toBe(true)
      expect(audio?.mimetype).toBe('audio/ogg; codecs=opus')
      expect(audio?.seconds).toBe(2) // 1.5 s of tone, rounded up
      expect(audio?.waveform?.length).toBe(64)
      expect(new Set(audio?.waveform).size).toBeGreaterThan(1)
      const ogg = await f.customer.downloadMedia(got)
      const head = oggPackets(ogg)[0]
      expect(head?.subarray(0, 8).toString('latin1')).toBe('OpusHead')
      expect(head?.[9]).toBe(1) // channel count: mono
    }
  })

  it('sticker', async () => {
    const { got } = await sendAndReceive('sticker', { base64: fx.png.toString('base64') })
    expect(got.message.stickerMessage?.mimetype).toBe('image/webp')
    const webp = await f.customer.downloadMedia(got)
    expect(webp.subarray(8, 12).toString('latin1')).toBe('WEBP')
  })

  it('location', async () => {
    const { got } = await sendAndReceive('location', { latitude: -23.5505, longitude: -46.6333, name: 'Sé', address: 'Praça da Sé' })
    expect(got.message.locationMessage).toMatchObject({ degreesLatitude: -23.5505, degreesLongitude: -46.6333, name: 'Sé', address: 'Praça da Sé' })
  })

  it('contact as a vCard', async () => {
    const { got } = await sendAndReceive('contact', { contact_name: 'João da Silva', contact_phone: '+5511987654321' })
    const card = got.message.contactMessage
    expect(card?.displayName).toBe('João da Silva')
    expect(card?.vcard).toContain('waid=5511987654321')
    expect(card?.vcard).toContain('FN:João da Silva')
  })

  it('reaction to an earlier message', async () => {
    const target = await f.send('text', { phone: f.customer.phone, data: { text: 'react to me' } })
    const { got } = await sendAndReceive('reaction', { message_id: target.body.message_id, emoji: '👍' })
    expect(got.message.reactionMessage?.text).toBe('👍')
    expect(got.message.reactionMessage?.key?.id).toBe(target.body.wa_message_id)
    expect(got.message.reactionMessage?.key?.fromMe).toBe(true)
  })

  it('a reply quoting an image carries contextInfo.stanzaId', async () => {
    const image = await f.send('image', { phone: f.customer.phone, data: { base64: fx.jpeg.toString('base64') } })
    const { got } = await sendAndReceive('image', { base64: fx.jpeg.toString('base64'), text: 'same again', quoted_message_id: image.body.message_id })
    expect(got.message.imageMessage?.contextInfo?.stanzaId).toBe(image.body.wa_message_id)
  })
})
