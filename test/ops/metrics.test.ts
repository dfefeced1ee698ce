import { Writable } from 'node:stream'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { createDaemon, type Daemon } from '../../src/daemon.js'
import { WaSimulator } from '../wasim/index.js'
import { adminHeaders, basicAuth, startHarness, testEnv, uniquePhone, type Harness } from '../helpers/harness.js'
import { TestReceiver } from '../helpers/receiver.js'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** One sample's value from Prometheus text, e.g. sample(text, 'wagw_instances{status="connected"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('/metrics', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  it('needs the admin bearer by default', async () => {
    expect((await h.request('GET', '/metrics', undefined, {})).status).toBe(401)
    const res = await h.request('GET', '/metrics')
    expect(res.status).toBe(200)
    expect(String(res.headers['content-type'])).toContain('text/plain')
  })

  it('counts instances by status from live state, and exposes process, event-loop and HTTP metrics', async () => {
    const before = String((await h.request('GET', '/metrics')).body)
    const connectedBefore = sample(before, 'wagw_instances{status="connected"}') ?? 0
    await h.pairNewInstance()
    const text = String((await h.request('GET', '/metrics')).body)
    expect(sample(text, 'wagw_instances{status="connected"}')).toBe(connectedBefore + 1)
    expect(sample(text, 'wagw_instances{status="disconnected"}')).toBeTypeOf('number')
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(1_000_000)
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m)
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m)
    // Route templates, never raw ids, label HTTP metrics.
    expect(sample(text, 'wagw_http_requests_total{method="POST",route="/api/v1/instances",status_code="201"}')).toBeGreaterThanOrEqual(1)
    expect(text).not.toMatch(/route="\/api\/v1\/instances\/inst_/)
  })

  it('records what other modules report: sends, inbound, delivery attempts with latency, queue depth', async () => {
    const m = h.daemon.metrics
    m.sent('text')
    m.sent('text')
    m.sendFailed('image', 'SEND_FAILED')
    m.inbound('voice')
    m.deliveryAttempt('success', 0.042)
    m.deliveryAttempt('retry', 3)
    m.queueDepth('outbound', () => 7)
    const text = String((await h.request('GET', '/metrics')).body)
    expect(sample(text, 'wagw_messages_sent_total{type="text"}')).toBe(2)
    expect(sample(text, 'wagw_messages_send_failed_total{type="image",code="SEND_FAILED"}')).toBe(1)
    expect(sample(text, 'wagw_messages_inbound_total{type="voice"}')).toBe(1)
    expect(sample(text, 'wagw_event_delivery_attempts_total{outcome="retry"}')).toBe(1)
    expect(sample(text, 'wagw_event_delivery_duration_seconds_bucket{le="0.05",outcome="success"}')).toBe(1)
    expect(sample(text, 'wagw_event_delivery_duration_seconds_bucket{le="2.5",outcome="retry"}')).toBe(0)
    expect(sample(text, 'wagw_queue_depth{queue="outbound"}')).toBe(7)
  })
})

describe('/metrics counts real traffic from the event stream', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  it('counts an API send once it is sent, and a customer message as inbound', async () => {
    const inst = await h.pairNewInstance()
    const customer = h.sim.createCustomer({ phone: uniquePhone('55449'), pushName: 'Maria' })
    const sent = new Promise<void>((resolve) =>
      h.daemon.messaging.tracker.on('change', (c) => {
        if (c.row.status === 'sent') resolve()
      }),
    )
    const res = await h.request('POST', '/api/v1/message/text', { phone: customer.phone, data: { text: 'count me' } }, basicAuth(inst.id, inst.token))
    expect(res.status).toBe(200)
    await sent
    // Subscribed before the customer types, so the event can't slip past.
    let unsubscribe = () => {}
    const inbound = new Promise<void>((resolve) => {
      unsubscribe = h.daemon.events.stream.subscribe({ instanceId: inst.id }, (e) => e.type === 'message.inbound' && resolve())
    })
    await customer.sendText(inst.phone.phone, 'me too')
    await inbound
    unsubscribe()
    const text = String((await h.request('GET', '/metrics')).body)
    expect(sample(text, 'wagw_messages_sent_total{type="text"}')).toBe(1)
    expect(sample(text, 'wagw_messages_inbound_total{type="text"}')).toBe(1)
  })
})

describe('/metrics wired to the daemon', () => {
  it('counts real webhook deliveries by outcome and reports queue depths', async () => {
    const h = await startHarness()
    const receiver = await TestReceiver.start()
    try {
      const created = await h.request('POST', '/api/v1/webhooks', { url: receiver.url, events: ['*'] })
      expect(created.status).toBe(201)
      const settled = new Promise<void>((resolve) => h.daemon.events.worker.once('settled', () => resolve()))
      expect((await h.request('POST', `/api/v1/webhooks/${created.body.data.id}/test`)).status).toBe(202)
      await settled
      const text = String((await h.request('GET', '/metrics')).body)
      expect(sample(text, 'wagw_event_delivery_attempts_total{outcome="success"}')).toBe(1)
      expect(sample(text, 'wagw_queue_depth{queue="outbound"}')).toBe(0)
      expect(sample(text, 'wagw_queue_depth{queue="deliveries"}')).toBe(0)
    } finally {
      await receiver.close()
      await h.close()
    }
  })
})

describe('/metrics with METRICS_PUBLIC=true', () => {
  it('answers without credentials', async () => {
    const h = await startHarness({ env: { METRICS_PUBLIC: 'true' } })
    try {
      const res = await h.request('GET', '/metrics', undefined, {})
      expect(res.status).toBe(200)
      expect(String(res.body)).toContain('wagw_instances')
    } finally {
      await h.close()
    }
  })
})

describe('request ids', () => {
  let sim: WaSimulator
  let daemon: Daemon
  let dir: string
  const lines: Record<string, unknown>[] = []
  beforeAll(async () => {
    sim = await WaSimulator.start()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-reqid-'))
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>)
        done()
      },
    })
    daemon = await createDaemon(loadConfig(testEnv(sim, dir, { LOG_LEVEL: 'info' })), pino({ level: 'info' }, sink))
  })
  afterAll(async () => {
    await daemon?.close()
    await sim?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('echoes a caller id, generates one otherwise, and puts it on every request log line', async () => {
    const given = await daemon.app.inject({ method: 'GET', url: '/api/v1/instances', headers: { ...adminHeaders, 'x-request-id': 'trace-abc.123' } })
    expect(given.headers['x-request-id']).toBe('trace-abc.123')
    const generated = await daemon.app.inject({ method: 'GET', url: '/api/v1/nope', headers: adminHeaders })
    expect(generated.statusCode).toBe(404)
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    // A hostile id (newline, oversized) is replaced, not trusted.
    const hostile = await daemon.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'a'.repeat(500) } })
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)

    const forGiven = lines.filter((l) => l.reqId === 'trace-abc.123')
    expect(forGiven.map((l) => l.msg)).toEqual(['request completed'])
    const requestLines = lines.filter((l) => l.msg === 'request completed')
    expect(requestLines.length).toBeGreaterThanOrEqual(3)
    for (const line of requestLines) expect(line.reqId).toEqual(expect.any(String))
    // The admin token never reaches the log.
    expect(JSON.stringify(lines)).not.toContain(adminHeaders.authorization.slice(7))
  })
})

describe('counters from the event stream', () => {
  it('counts a send as accepted once it leaves queued for anything but failed, even when a receipt overtook the ack', async () => {
    const { recordEvents } = await import('../../src/metrics/from-events.js')
    const sent: string[] = []
    const failed: string[] = []
    const metrics = { sent: (t: string) => sent.push(t), sendFailed: (t: string, c: string) => failed.push(`${t}:${c}`), inbound: () => {} }
    const status = (type: string, from: string, to: string, error: unknown = null) => ({
      type: 'message.status',
      data: { type, previous_status: from, status: to, error },
    })
    recordEvents(metrics as never, [
      status('text', 'queued', 'sent'),
      status('text', 'sent', 'delivered'),
      status('image', 'queued', 'delivered'), // the receipt came before the server ack
      status('image', 'delivered', 'read'),
      status('video', 'queued', 'failed', { code: 'WHATSAPP_REJECTED' }),
    ])
    expect(sent).toEqual(['text', 'image'])
    expect(failed).toEqual(['video:WHATSAPP_REJECTED'])
  })
})
