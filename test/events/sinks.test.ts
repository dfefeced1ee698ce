import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminHeaders, startHarness, type Harness, type PairedInstance } from '../helpers/harness.js'
import { TestReceiver, verifyPlixaSignature, verifyStandardWebhook } from '../helpers/receiver.js'
import { interceptRecording, journaled } from '../helpers/recording.js'

const ENV_CORE_SECRET = 'env-core-secret-0123456789'
const TENANT_CORE_SECRET = 'tenant-core-secret-0123456789'

describe('sinks: env core, tenant core, journal replay, media retention, live stream', () => {
  let h: Harness
  let envCore: TestReceiver
  let tenantCore: TestReceiver
  let plain: PairedInstance
  let tenanted: PairedInstance

  beforeAll(async () => {
    envCore = await TestReceiver.start()
    tenantCore = await TestReceiver.start()
    h = await startHarness({ env: { PLIXA_CORE_URL: envCore.url, PLIXA_CORE_SECRET: ENV_CORE_SECRET, WEBHOOK_RETRY_SCHEDULE_MS: '20' } })
    const put = await h.request('PUT', '/api/v1/tenants/acme', { core_url: tenantCore.url, core_secret: TENANT_CORE_SECRET })
    expect(put.status).toBe(200)
    expect(JSON.stringify(put.body)).not.toContain(TENANT_CORE_SECRET)
    expect(put.body.data).toMatchObject({ id: 'acme', core_url: tenantCore.url, core_secret_set: true })
    plain = await h.pairNewInstance()
    tenanted = await h.pairNewInstance({ tenantId: 'acme' })
  })
  afterAll(async () => {
    await envCore?.close()
    await tenantCore?.close()
    await h?.close()
  })

  it("routes every event of a tenant's instance to its core, the rest to the env core", async () => {
    const c = h.sim.createCustomer({ phone: '5544998765410', pushName: 'Bia' })
    const { id: toTenant } = await c.sendText(tenanted.phone.phone, 'para acme')
    const { id: toPlain } = await c.sendText(plain.phone.phone, 'para o outro')
    const a = await tenantCore.waitFor((r) => r.json?.data?.wa_message_id === toTenant)
    const b = await envCore.waitFor((r) => r.json?.data?.wa_message_id === toPlain)
    expect(a.json).toMatchObject({ tenant_id: 'acme', instance_id: tenanted.id })
    expect(verifyPlixaSignature(a, TENANT_CORE_SECRET)).toBe(true)
    expect(verifyStandardWebhook(a, TENANT_CORE_SECRET)).toBeTruthy()
    expect(verifyPlixaSignature(b, ENV_CORE_SECRET)).toBe(true)
    expect(envCore.requests.some((r) => r.json?.data?.wa_message_id === toTenant)).toBe(false)
    // lifecycle events go to the cores too
    await tenantCore.waitFor((r) => r.json?.type === 'instance.status' && r.json.data.status === 'connected')
    expect((await h.request('GET', '/api/v1/tenants/nope')).status).toBe(404)
    expect((await h.request('PUT', '/api/v1/tenants/x', { core_url: 'http://10.0.0.5/core', core_secret: TENANT_CORE_SECRET })).status).toBe(422)
  })

  it('replays a message whose recording failed after decryption (journal), at the next socket', async () => {
    const c = h.sim.createCustomer({ phone: '5544998765411', pushName: 'Caio' })
    let failed = 0
    let signal!: () => void
    const refused = new Promise<void>((resolve) => (signal = resolve))
    interceptRecording(h, (messages, next) => {
      if (messages.some((m) => m.text === 'journal me')) {
        failed++
        signal()
        throw new Error('simulated crash between receipt and recording')
      }
      return next()
    })
    const { id } = await c.sendText(plain.phone.phone, 'journal me')
    await c.waitForReceipt((r) => r.ids.includes(id)) // WhatsApp considers it delivered
    await refused
    expect(failed).toBe(1)
    expect(envCore.requests.some((r) => r.json?.data?.wa_message_id === id)).toBe(false)
    expect(journaled(h, plain.id, id)).toBe(1) // in the session file, committed with the Signal session
    await h.restartDaemon()
    const req = await envCore.waitFor((r) => r.json?.data?.wa_message_id === id)
    expect(req.json.data).toMatchObject({ text: 'journal me', phone: c.phone, push_name: 'Caio' })
    expect(journaled(h, plain.id)).toBe(0)
  })

  it('replays a message whose recording failed once on the same socket, without waiting for a restart', async () => {
    const c = h.sim.createCustomer({ phone: '5544998765419', pushName: 'Dora' })
    let failed = 0
    const restore = interceptRecording(h, (messages, next) => {
      if (failed === 0 && messages.some((m) => m.text === 'transient failure')) {
        failed++
        throw new Error('database is locked')
      }
      return next()
    })
    try {
      const { id } = await c.sendText(plain.phone.phone, 'transient failure')
      const req = await envCore.waitFor((r) => r.json?.data?.wa_message_id === id)
      expect(failed).toBe(1)
      expect(req.json.data).toMatchObject({ text: 'transient failure', phone: c.phone, push_name: 'Dora' })
      expect(journaled(h, plain.id, id)).toBe(0)
    } finally {
      restore()
    }
  })

  it('the retention sweep deletes expired media files and rows; their links then answer 404', async () => {
    const c = h.sim.createCustomer({ phone: '5544998765412', pushName: 'Dani' })
    const { id } = await c.sendMedia(plain.phone.phone, { type: 'document', data: Buffer.from('%PDF-1.4 tiny'), mimetype: 'application/pdf', fileName: 'a.pdf' })
    const req = await envCore.waitFor((r) => r.json?.data?.wa_message_id === id)
    const media = req.json.data.media
    const row = await h.daemon.events.media.ensure(media.id)
    expect(fs.existsSync(row.path)).toBe(true)
    h.daemon.db.sqlite.prepare('UPDATE media_files SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), media.id)
    expect(h.daemon.events.media.sweep()).toBeGreaterThanOrEqual(1)
    expect(fs.existsSync(row.path)).toBe(false)
    const u = new URL(media.url)
    expect((await h.daemon.app.inject({ method: 'GET', url: `${u.pathname}${u.search}` })).statusCode).toBe(404)
  })

  it('deleting an instance deletes its media files', async () => {
    const doomed = await h.pairNewInstance()
    const c = h.sim.createCustomer({ phone: '5544998765414', pushName: 'Fia' })
    const { id } = await c.sendMedia(doomed.phone.phone, { type: 'document', data: Buffer.from('%PDF-1.4 doomed'), mimetype: 'application/pdf', fileName: 'd.pdf' })
    const req = await envCore.waitFor((r) => r.json?.data?.wa_message_id === id)
    const row = await h.daemon.events.media.ensure(req.json.data.media.id)
    expect(fs.existsSync(row.path)).toBe(true)
    expect((await h.request('DELETE', `/api/v1/instances/${doomed.id}`, undefined, adminHeaders)).status).toBe(200)
    expect(fs.existsSync(row.path)).toBe(false)
    expect(fs.existsSync(h.daemon.events.media.dir)).toBe(true)
  })

  it('the live stream (SSE) is authenticated and scoped', async () => {
    expect((await h.request('GET', '/api/v1/events/stream', undefined, {})).status).toBe(401)
    const address = h.daemon.app.server.address() as { port: number }
    const controller = new AbortController()
    const res = await fetch(`http://127.0.0.1:${address.port}/api/v1/events/stream?instance_id=${plain.id}`, {
      headers: { authorization: 'Bearer test-admin-token-0123456789' },
      signal: controller.signal,
    })
    expect(res.status).toBe(200)
    const c = h.sim.createCustomer({ phone: '5544998765413', pushName: 'Eva' })
    const reader = (async () => {
      let text = ''
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += Buffer.from(chunk).toString()
        if (text.includes('stream me')) return text
      }
      return text
    })()
    await c.sendText(tenanted.phone.phone, 'not for this stream')
    await c.sendText(plain.phone.phone, 'stream me')
    const text = await reader
    controller.abort()
    expect(text).toContain('event: message.inbound')
    expect(text).not.toContain('not for this stream')
  })
})
