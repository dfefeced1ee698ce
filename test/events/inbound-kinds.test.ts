import { randomBytes, createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, type Harness, type PairedInstance } from '../helpers/harness.js'
import { TestReceiver, verifyPlixaSignature, verifyStandardWebhook, type ReceivedRequest } from '../helpers/receiver.js'
import type { Customer } from '../wasim/index.js'

describe('every inbound message kind reaches the receiver as message.inbound', () => {
  let h: Harness
  let inst: PairedInstance
  let receiver: TestReceiver
  let secret: string
  let ana: Customer

  const delivered = async (waId: string, type = 'message.inbound'): Promise<ReceivedRequest> => {
    const req = await receiver.waitFor((r) => r.json?.type === type && r.json?.data?.wa_message_id === waId)
    expect(verifyPlixaSignature(req, secret)).toBe(true)
    expect(verifyStandardWebhook(req, secret)).toBeTruthy()
    return req
  }
  const fetchMedia = async (url: string) => {
    const u = new URL(url)
    const res = await h.daemon.app.inject({ method: 'GET', url: `${u.pathname}${u.search}` })
    return res
  }

  beforeAll(async () => {
    h = await startHarness({ env: { WEBHOOK_RETRY_SCHEDULE_MS: '20,40' } })
    inst = await h.pairNewInstance()
    ana = h.sim.createCustomer({ phone: '5544998765403', pushName: 'Ana' })
    receiver = await TestReceiver.start()
    const created = await h.request('POST', '/api/v1/webhooks', { url: receiver.url, events: ['*'], instance_id: inst.id })
    secret = created.body.data.secret
  })
  afterAll(async () => {
    await receiver?.close()
    await h?.close()
  })

  it('extended text with a reply (quoted wa id)', async () => {
    const { id: first } = await ana.sendText(inst.phone.phone, 'first')
    const { id } = await ana.sendMessage(inst.phone.phone, {
      extendedTextMessage: { text: 'replying', contextInfo: { stanzaId: first, participant: inst.phone.jid, quotedMessage: { conversation: 'x' } } },
    })
    const req = await delivered(id)
    expect(req.json.data).toMatchObject({ type: 'text', text: 'replying', quoted: { wa_message_id: first }, phone: ana.phone })
  })

  it('image with caption: metadata in the event, bytes behind a signed link; tampered links refused', async () => {
    const bytes = randomBytes(3000)
    const { id } = await ana.sendMedia(inst.phone.phone, { type: 'image', data: bytes, mimetype: 'image/jpeg', caption: 'a photo' })
    const req = await delivered(id)
    const media = req.json.data.media
    expect(req.json.data).toMatchObject({ type: 'image', text: 'a photo' })
    expect(media).toMatchObject({ mimetype: 'image/jpeg', size: 3000, sha256: createHash('sha256').update(bytes).digest('hex') })
    const res = await fetchMedia(media.url)
    expect(res.statusCode).toBe(200)
    expect(res.rawPayload.equals(bytes)).toBe(true)
    expect(res.headers).toMatchObject({ 'content-type': 'image/jpeg', 'x-content-type-options': 'nosniff', 'content-disposition': 'attachment' })
    for (const query of ['include=base64', 'format=base64']) {
      const b64 = await fetchMedia(`${media.url}&${query}`)
      expect(Buffer.from(b64.json().data.base64, 'base64').equals(bytes)).toBe(true)
    }
    const tampered = media.url.replace(/sig=[^&]+/, 'sig=AAAA')
    expect((await fetchMedia(tampered)).statusCode).toBe(403)
    const expired = media.url.replace(/exp=\d+/, 'exp=1000')
    expect((await fetchMedia(expired)).statusCode).toBe(403)
  })

  it('a sender\'s mimetype that is not a plain media type is served as application/octet-stream, never rendered', async () => {
    const bytes = Buffer.from('<script>alert(1)</script>')
    const { id } = await ana.sendDocument(inst.phone.phone, bytes, 'page.html', 'text/html"><script>')
    const media = (await delivered(id)).json.data.media
    const res = await fetchMedia(media.url)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/octet-stream')
    expect(res.headers['content-disposition']).toBe("attachment; filename*=UTF-8''page.html")
    expect(res.headers['content-security-policy']).toContain('sandbox')
  })

  it('video, audio, voice note, document and sticker', async () => {
    const cases = [
      { media: { type: 'video' as const, data: randomBytes(2000), mimetype: 'video/mp4', caption: 'clip' }, type: 'video' },
      { media: { type: 'audio' as const, data: randomBytes(1500), mimetype: 'audio/mpeg' }, type: 'audio' },
      { media: { type: 'audio' as const, data: randomBytes(1500), ptt: true }, type: 'voice' },
      { media: { type: 'document' as const, data: randomBytes(1200), mimetype: 'application/pdf', fileName: 'nota.pdf' }, type: 'document' },
      { media: { type: 'sticker' as const, data: randomBytes(800), mimetype: 'image/webp' }, type: 'sticker' },
    ]
    for (const c of cases) {
      const { id } = await ana.sendMedia(inst.phone.phone, c.media)
      const req = await delivered(id)
      expect(req.json.data.type, c.type).toBe(c.type)
      expect(req.json.data.media.size).toBe(c.media.data.length)
      const res = await fetchMedia(req.json.data.media.url)
      expect(res.rawPayload.equals(c.media.data), c.type).toBe(true)
      if (c.type === 'document') expect(req.json.data.media.filename).toBe('nota.pdf')
      if (c.type === 'voice') expect(req.json.data.media.duration_seconds).toBe(1)
    }
  })

  it('location, contact and reaction', async () => {
    const { id: loc } = await ana.sendMessage(inst.phone.phone, {
      locationMessage: { degreesLatitude: -23.55, degreesLongitude: -46.63, name: 'Av. Paulista', address: 'São Paulo' },
    })
    expect((await delivered(loc)).json.data).toMatchObject({
      type: 'location',
      location: { latitude: -23.55, longitude: -46.63, name: 'Av. Paulista', address: 'São Paulo' },
    })
    const vcard = 'BEGIN:VCARD\nVERSION:3.0\nFN:João\nTEL;waid=5511988887777:+55 11 98888-7777\nEND:VCARD'
    const { id: contact } = await ana.sendMessage(inst.phone.phone, { contactMessage: { displayName: 'João', vcard } })
    expect((await delivered(contact)).json.data).toMatchObject({ type: 'contact', contacts: [{ display_name: 'João', vcard }] })
    const { id: target } = await ana.sendText(inst.phone.phone, 'react to me')
    const { id: reaction } = await ana.sendMessage(inst.phone.phone, {
      reactionMessage: { key: { id: target, remoteJid: inst.phone.jid, fromMe: false }, text: '👍' },
    })
    expect((await delivered(reaction)).json.data).toMatchObject({ type: 'reaction', reaction: { emoji: '👍', wa_message_id: target, removed: false } })
  })

  it('a message typed on the phone becomes message.outbound with source phone', async () => {
    const { id } = await inst.phone.sendMessage(ana.phone, { conversation: 'typed on the phone' })
    const req = await delivered(id, 'message.outbound')
    expect(req.json.data).toMatchObject({ source: 'phone', phone: ana.phone, text: 'typed on the phone', type: 'text' })
  })

  it('media typed on the phone is listed by the messages API like any other message', async () => {
    const bytes = randomBytes(1234)
    const { id } = await inst.phone.sendMessage(ana.phone, {
      imageMessage: {
        mimetype: 'image/jpeg',
        fileLength: bytes.length,
        fileSha256: createHash('sha256').update(bytes).digest(),
        fileEncSha256: randomBytes(32),
        mediaKey: randomBytes(32),
        directPath: '/v/t62.7118-24/phone-typed',
        url: 'https://mmg.whatsapp.net/v/t62.7118-24/phone-typed',
      },
    })
    const event = (await delivered(id, 'message.outbound')).json.data
    const res = await h.request('GET', `/api/v1/messages/${event.message_id}`)
    expect(res.status).toBe(200)
    expect(res.body.data).toMatchObject({
      source: 'phone',
      type: 'image',
      media: { mimetype: 'image/jpeg', size: 1234, sha256: createHash('sha256').update(bytes).digest('hex') },
    })
  })

  it('an undecryptable message is reported, and reported again when the resend decrypts', async () => {
    h.sim.faults.corruptNextFrom(ana.phone)
    const { id } = await ana.sendText(inst.phone.phone, 'secret after retry')
    const stub = await receiver.waitFor((r) => r.json?.data?.wa_message_id === id && r.json.data.type === 'undecryptable')
    expect(stub.json.data.undecryptable.reason).toBeTruthy()
    const fixed = await receiver.waitFor((r) => r.json?.data?.wa_message_id === id && r.json.data.type === 'text')
    expect(fixed.json.data).toMatchObject({ text: 'secret after retry', recovered: true, message_id: stub.json.data.message_id })
    expect(fixed.json.id).not.toBe(stub.json.id)
  })

  it('messages that arrived while the daemon was down come as append (offline) and are delivered', async () => {
    let id = ''
    await h.restartDaemon({
      whileDown: async () => {
        await h.sim.waitFor('close', (c) => c.deviceJid === inst.phone.linkedDevices()[0]).catch(() => undefined)
        id = (await ana.sendText(inst.phone.phone, 'while you were away')).id
      },
    })
    const req = await delivered(id)
    expect(req.json.data).toMatchObject({ text: 'while you were away', offline: true })
  })

  it('instance.status and instance.qr events carry the reason / the QR', async () => {
    const status = await receiver.waitFor((r) => r.json?.type === 'instance.status' && r.json.data.status === 'connected')
    expect(status.json.data).toMatchObject({ status: 'connected', reason: expect.any(String) })
    const created = await h.request('POST', '/api/v1/instances', { name: 'qr-events' })
    const hook = await h.request('POST', '/api/v1/webhooks', { url: receiver.url, events: ['instance.qr'], instance_id: created.body.data.id })
    expect(hook.status).toBe(201)
    const qr = await h.waitForQr(created.body.data.id)
    const req = await receiver.waitFor((r) => r.json?.type === 'instance.qr' && r.json.instance_id === created.body.data.id)
    expect(req.json.data).toMatchObject({ qr: qr.qr, attempt: 1 })
  })
})
