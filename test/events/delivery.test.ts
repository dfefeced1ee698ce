import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeliverySettled } from '../../src/events/delivery-worker.js'
import { basicAuth, startHarness, waitForEvent, type Harness, type PairedInstance } from '../helpers/harness.js'
import { TestReceiver, verifyPlixaSignature, verifyStandardWebhook } from '../helpers/receiver.js'

const SCHEDULE = [30, 60, 90]

describe('delivery worker: retries, 410, 4xx, manual retry, rotation, isolation', () => {
  let h: Harness
  let inst: PairedInstance
  const receivers: TestReceiver[] = []

  const receiver = async () => {
    const r = await TestReceiver.start()
    receivers.push(r)
    return r
  }
  const createHook = async (url: string, events = ['webhook.test'], extra: Record<string, unknown> = {}) => {
    const res = await h.request('POST', '/api/v1/webhooks', { url, events, ...extra })
    expect(res.status).toBe(201)
    return res.body.data as { id: string; secret: string }
  }
  const settled = (predicate: (s: DeliverySettled) => boolean) =>
    waitForEvent<DeliverySettled>(h.daemon.events.worker, 'settled', predicate, 10_000)
  const test = async (hookId: string) => {
    const res = await h.request('POST', `/api/v1/webhooks/${hookId}/test`)
    expect(res.status).toBe(202)
    return res.body.data.event_id as string
  }

  beforeAll(async () => {
    h = await startHarness({ env: { WEBHOOK_RETRY_SCHEDULE_MS: SCHEDULE.join(','), WEBHOOK_TIMEOUT_MS: '20000' } })
    inst = await h.pairNewInstance()
  })
  afterAll(async () => {
    for (const r of receivers) await r.close()
    await h?.close()
  })

  it('retries 500, 503, 429 on the schedule and succeeds on the 4th attempt, same event id throughout', async () => {
    const r = (await receiver()).respondWith(500, 503, 429)
    const hook = await createHook(r.url)
    const done = settled((s) => s.sink === `webhook:${hook.id}` && s.status === 'succeeded')
    const eventId = await test(hook.id)
    const final = await done
    expect(final.attempt).toBe(4)
    expect(r.requests.map((q) => q.headers['webhook-id'])).toEqual([eventId, eventId, eventId, eventId])
    // Each retry waited at least its scheduled delay (the order of gaps, not wall-clock totals).
    const gaps = r.requests.slice(1).map((q, i) => q.at - (r.requests[i]?.at ?? 0))
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual((SCHEDULE[i] ?? 0) - 5))
    for (const q of r.requests) expect(verifyPlixaSignature(q, hook.secret)).toBe(true)
    const log = await h.request('GET', `/api/v1/webhooks/${hook.id}/deliveries`)
    expect(log.body.data[0]).toMatchObject({ event_id: eventId, status: 'succeeded', attempts: 4 })
    expect(log.body.data[0].attempt_log.map((a: { status_code: number }) => a.status_code)).toEqual([500, 503, 429, 200])
  })

  it('gives up after the schedule is exhausted', async () => {
    const r = await receiver()
    r.fallback = 502
    const hook = await createHook(r.url)
    const failed = settled((s) => s.sink === `webhook:${hook.id}` && s.status === 'failed')
    await test(hook.id)
    expect(await failed).toMatchObject({ attempt: SCHEDULE.length + 1, error: 'http_502_retries_exhausted' })
    expect(r.requests).toHaveLength(SCHEDULE.length + 1)
  })

  it('410 disables the endpoint: no retry, and later events are not queued for it', async () => {
    const r = (await receiver()).respondWith(410)
    const hook = await createHook(r.url, ['webhook.test', 'instance.status'])
    const control = await receiver()
    await createHook(control.url, ['instance.status'], { instance_id: inst.id })
    const ended = settled((s) => s.sink === `webhook:${hook.id}`)
    await test(hook.id)
    expect(await ended).toMatchObject({ status: 'failed', httpStatus: 410 })
    const after = await h.request('GET', `/api/v1/webhooks/${hook.id}`)
    expect(after.body.data).toMatchObject({ enabled: false, disabled_reason: 'http_410' })
    // a later event of a type it subscribed to reaches the control receiver but queues nothing for the disabled one
    expect((await h.request('POST', `/api/v1/instances/${inst.id}/restart`)).status).toBe(200)
    await control.waitFor((q) => q.json?.data?.status === 'connected')
    await h.waitForStatus(inst.id, 'connected')
    const log = await h.request('GET', `/api/v1/webhooks/${hook.id}/deliveries`)
    expect(log.body.data.map((d: { event_type: string }) => d.event_type)).toEqual(['webhook.test'])
    expect(r.requests).toHaveLength(1)
  })

  it('another 4xx stops the chain; the retry endpoint re-fires it (and refuses a non-failed one)', async () => {
    const r = (await receiver()).respondWith(400)
    const hook = await createHook(r.url)
    const stopped = settled((s) => s.sink === `webhook:${hook.id}`)
    const eventId = await test(hook.id)
    const first = await stopped
    expect(first).toMatchObject({ status: 'failed', httpStatus: 400, attempt: 1, error: 'http_400' })
    const succeeded = settled((s) => s.deliveryId === first.deliveryId && s.status === 'succeeded')
    const retried = await h.request('POST', `/api/v1/webhook-deliveries/${first.deliveryId}/retry`)
    expect(retried.status).toBe(202)
    await succeeded
    expect(r.requests.map((q) => q.headers['webhook-id'])).toEqual([eventId, eventId])
    const again = await h.request('POST', `/api/v1/webhook-deliveries/${first.deliveryId}/retry`)
    expect(again.status).toBe(409)
    expect(again.body.errors[0].code).toBe('DELIVERY_NOT_FAILED')
    expect((await h.request('POST', '/api/v1/webhook-deliveries/dlv_nope/retry')).status).toBe(404)
  })

  it('honours Retry-After when it is later than the schedule', async () => {
    const r = (await receiver()).respondWith({ status: 503, headers: { 'retry-after': '1' } })
    const hook = await createHook(r.url)
    const done = settled((s) => s.sink === `webhook:${hook.id}` && s.status === 'succeeded')
    await test(hook.id)
    await done
    const [a, b] = r.requests
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(950)
  })

  it('during rotation signs with both secrets; each verifies with both recipes', async () => {
    const r = await receiver()
    const hook = await createHook(r.url)
    const rotated = await h.request('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`)
    expect(rotated.status).toBe(200)
    const fresh: string = rotated.body.data.secret
    expect(fresh).not.toBe(hook.secret)
    await test(hook.id)
    const req = await r.waitFor()
    expect(req.headers['webhook-signature']?.split(' ')).toHaveLength(2)
    for (const secret of [fresh, hook.secret]) {
      expect(verifyPlixaSignature(req, secret)).toBe(true)
      expect(verifyStandardWebhook(req, secret)).toMatchObject({ type: 'webhook.test' })
    }
  })

  it('a hanging receiver holds only its own slots: another receiver and the inbound path go on', async () => {
    const dead = await receiver()
    dead.fallback = 'hang'
    const alive = await receiver()
    await createHook(dead.url, ['message.inbound'], { instance_id: inst.id })
    await createHook(alive.url, ['message.inbound'], { instance_id: inst.id })
    const customer = h.sim.createCustomer({ phone: '5544998765402', pushName: 'Joana' })
    // More messages than the dead receiver has slots: the bound is reached.
    const count = h.config.webhooks.perEndpointConcurrency + 4
    const ids: string[] = []
    for (let i = 0; i < count; i++) ids.push((await customer.sendText(inst.phone.phone, `msg ${i}`)).id)
    await alive.waitForCount(count, (q) => ids.includes(q.json?.data?.wa_message_id))
    // every message was acknowledged to WhatsApp (receipt back to the sender) despite the dead receiver
    for (const id of ids) await customer.waitForReceipt((rc) => rc.ids.includes(id))
    expect(dead.requests.length).toBeLessThanOrEqual(h.config.webhooks.perEndpointConcurrency)
    expect(dead.requests.length).toBeGreaterThan(0)
  })

  it('refuses webhook URLs that resolve to private or metadata addresses (allowlist opens loopback only)', async () => {
    for (const url of ['http://10.1.2.3/x', 'http://169.254.169.254/latest', 'http://[::1]:9/x', 'http://192.168.0.10/x']) {
      const res = await h.request('POST', '/api/v1/webhooks', { url, events: ['*'] })
      expect(res.status, url).toBe(url.includes('::1') ? 422 : 422)
      expect(res.body.errors[0].code).toBe('WEBHOOK_URL_FORBIDDEN')
    }
    const bad = await h.request('POST', '/api/v1/webhooks', { url: 'ftp://example.com/x', events: ['*'] })
    expect(bad.status).toBe(400)
    const unknown = await h.request('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/x', events: ['message.nope'] })
    expect(unknown.status).toBe(400)
  })

  it('instance credentials manage only their own webhooks', async () => {
    const other = await h.pairNewInstance()
    const mine = basicAuth(inst.id, inst.token)
    const r = await receiver()
    const created = await h.request('POST', '/api/v1/webhooks', { url: r.url, events: ['*'] }, mine)
    expect(created.status).toBe(201)
    expect(created.body.data.instance_id).toBe(inst.id)
    const foreign = await h.request('POST', '/api/v1/webhooks', { url: r.url, events: ['*'], instance_id: other.id }, mine)
    expect(foreign.status).toBe(403)
    const theirs = await createHook(r.url, ['*'], { instance_id: other.id })
    expect((await h.request('GET', `/api/v1/webhooks/${theirs.id}`, undefined, mine)).status).toBe(403)
    expect((await h.request('DELETE', `/api/v1/webhooks/${theirs.id}`, undefined, mine)).status).toBe(403)
    const global = await createHook(r.url, ['*'])
    expect((await h.request('GET', `/api/v1/webhooks/${global.id}`, undefined, mine)).status).toBe(404)
    const listed = await h.request('GET', '/api/v1/webhooks', undefined, mine)
    const ids = listed.body.data.map((w: { id: string; instance_id: string }) => (expect(w.instance_id).toBe(inst.id), w.id))
    expect(ids).toContain(created.body.data.id)
    expect(ids).not.toContain(global.id)
    expect(ids).not.toContain(theirs.id)
    expect(JSON.stringify(listed.body)).not.toContain('whsec_')
    expect((await h.request('DELETE', `/api/v1/webhooks/${created.body.data.id}`, undefined, mine)).status).toBe(204)
  })
})
