import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WaSimulator } from '../wasim/index.js'
import { adminHeaders, startHarness, uniquePhone, waitForEvent, type Harness } from '../helpers/harness.js'
import type { StatusChange } from '../../src/instances/status.js'
import { readSse } from '../helpers/sse.js'

describe('instance lifecycle against the simulator', () => {
  let h: Harness
  let baseUrl: string

  beforeAll(async () => {
    h = await startHarness({ env: { KEEPALIVE_INTERVAL_MS: '500' } })
    const address = h.daemon.app.server.address()
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  })
  afterAll(async () => {
    await h.close()
  })

  it('pairs by QR: pending_qr → connected, QR over JSON, PNG and SSE, phone and push name filled in', async () => {
    const phone = h.sim.createPhone({ phone: uniquePhone(), pushName: 'Acme Support' })
    const created = await h.request('POST', '/api/v1/instances', { name: 'support', tenant_id: 'tenant-1' })
    expect(created.status).toBe(201)
    expect(created.body.data).toMatchObject({ name: 'support', tenant_id: 'tenant-1', status: 'pending_qr' })
    expect(created.body.data.token).toMatch(/^wgi_/)
    const id: string = created.body.data.id

    const sse = readSse(`${baseUrl}/api/v1/instances/${id}/events`, (events) =>
      events.some((e) => e.event === 'status' && e.data.to === 'connected'),
    )
    const qr = await h.waitForQr(id)
    const json = await h.request('GET', `/api/v1/instances/${id}/qr`)
    expect(json.status).toBe(200)
    expect(json.body.data.qr).toBe(qr.qr)
    expect(json.body.data.png_data_url).toMatch(/^data:image\/png;base64,/)
    expect(json.body.data.attempt).toBeGreaterThanOrEqual(1)
    const png = await h.daemon.app.inject({ method: 'GET', url: `/api/v1/instances/${id}/qr`, headers: { ...adminHeaders, accept: 'image/png' } })
    expect(png.headers['content-type']).toBe('image/png')
    expect(png.rawPayload.subarray(1, 4).toString()).toBe('PNG')

    const connected = h.waitForStatus(id, 'connected')
    await phone.scanQr(qr.qr)
    await connected
    const events = await sse
    expect(events.some((e) => e.event === 'qr' && e.data.qr === qr.qr)).toBe(true)

    // The push name arrives with the phone's history bootstrap, possibly just after `open`.
    const instance = h.daemon.manager.get(id)
    if (instance.push_name === null) await new Promise((resolve) => h.daemon.manager.once('profile', resolve))
    const got = await h.request('GET', `/api/v1/instances/${id}`)
    expect(got.body.data).toMatchObject({ status: 'connected', phone: phone.phone, push_name: 'Acme Support' })
    expect(got.body.data.connected_at).not.toBeNull()
    expect(phone.linkedDevices()).toHaveLength(1)
    const transitions = h.daemon.db.sqlite
      .prepare('SELECT from_status, to_status, reason FROM instance_transitions WHERE instance_id = ? ORDER BY id')
      .all(id)
    expect(transitions).toEqual([
      { from_status: null, to_status: 'pending_qr', reason: 'created' },
      { from_status: 'pending_qr', to_status: 'connecting', reason: 'paired' },
      { from_status: 'connecting', to_status: 'connected', reason: 'paired' },
    ])
    const qrAfter = await h.request('GET', `/api/v1/instances/${id}/qr`)
    expect(qrAfter.status).toBe(409)
    expect(qrAfter.body.errors[0].code).toBe('INSTANCE_NOT_PAIRING')
  })

  it('a status change the database refuses is logged, not a crash; the next one is stored with its event', async () => {
    const inst = await h.pairNewInstance()
    const sqlite = h.daemon.db.sqlite
    const transitions = () => sqlite.prepare('SELECT to_status FROM instance_transitions WHERE instance_id = ? ORDER BY id').pluck().all(inst.id)
    const statusEvents = () => sqlite.prepare(`SELECT COUNT(*) FROM events WHERE type = 'instance.status' AND instance_id = ?`).pluck().get(inst.id)
    const reconnected = () => waitForEvent(h.daemon.manager, 'status', (c: StatusChange) => c.instanceId === inst.id && c.to === 'connected')
    const before = { transitions: transitions(), events: statusEvents() as number }
    sqlite.exec(`CREATE TRIGGER refuse_status_events BEFORE INSERT ON events WHEN NEW.type = 'instance.status' BEGIN SELECT RAISE(ABORT, 'injected'); END`)
    try {
      const back = reconnected()
      expect((await h.request('POST', `/api/v1/instances/${inst.id}/restart`)).status).toBe(200)
      await back // connecting → connected, both refused: from an HTTP handler and from Baileys' connection event
      expect(transitions()).toEqual(before.transitions)
      expect(statusEvents()).toBe(before.events)
    } finally {
      sqlite.exec('DROP TRIGGER refuse_status_events')
    }
    const back = reconnected()
    expect((await h.request('POST', `/api/v1/instances/${inst.id}/restart`)).status).toBe(200)
    await back
    expect(transitions()).toEqual([...before.transitions, 'connecting', 'connected'])
    expect(statusEvents()).toBe(before.events + 2)
    await h.request('DELETE', `/api/v1/instances/${inst.id}`)
  })

  it('reconnects without a QR after the daemon restarts', async () => {
    const { id } = await h.pairNewInstance()
    let qrs = 0
    await h.restartDaemon()
    h.daemon.manager.on('qr', () => (qrs += 1))
    await h.waitForStatus(id, 'connected')
    expect(h.daemon.manager.get(id).status).toBe('connected')
    expect(qrs).toBe(0)
  })

  it('disconnect logs out: the phone no longer lists the device and credentials are wiped', async () => {
    const { id, phone } = await h.pairNewInstance()
    expect(phone.linkedDevices()).toHaveLength(1)
    const res = await h.request('POST', `/api/v1/instances/${id}/disconnect`)
    expect(res.status).toBe(200)
    expect(res.body.data).toMatchObject({ status: 'disconnected', status_reason: 'logout' })
    expect(phone.linkedDevices()).toHaveLength(0)
    expect(h.daemon.manager.supervisor(id).isPaired).toBe(false)
    // The next pairing needs a new QR: a restart starts a fresh QR cycle.
    await h.request('POST', `/api/v1/instances/${id}/restart`)
    const qr = await h.waitForQr(id)
    expect(qr.attempt).toBe(1)
  })

  it('phone-side unlink wipes credentials and ends disconnected (device_removed)', async () => {
    const { id, phone } = await h.pairNewInstance()
    const disconnected = h.waitForStatus(id, 'disconnected')
    await phone.unlink(phone.linkedDevices()[0]!)
    const change = await disconnected
    expect(change).toMatchObject({ reason: 'device_removed', code: 401 })
    expect(h.daemon.manager.supervisor(id).isPaired).toBe(false)
  })

  it('440 replaced ends disconnected and does not reconnect', async () => {
    const { id, phone } = await h.pairNewInstance()
    const disconnected = h.waitForStatus(id, 'disconnected')
    h.sim.faults.streamError(phone.linkedDevices()[0]!, 440)
    expect(await disconnected).toMatchObject({ reason: 'replaced', code: 440 })
    // Still paired: an operator may restart it on purpose.
    expect(h.daemon.manager.supervisor(id).isPaired).toBe(true)
    expect(h.daemon.manager.supervisor(id).socket).toBeUndefined()
  })

  it.each([
    ['503 unavailable', 503, (h: Harness, jid: string) => h.sim.faults.streamError(jid, 503)],
    ['428 stream end', 428, (h: Harness, jid: string) => h.sim.faults.streamEnd(jid)],
    ['515 restart', 515, (h: Harness, jid: string) => h.sim.faults.streamError(jid, 515)],
  ] as const)('%s reconnects with the same credentials', async (_name, code, inject) => {
    const { id, phone } = await h.pairNewInstance()
    const jid = phone.linkedDevices()[0]!
    const dropped = h.waitForStatus(id, 'connecting')
    inject(h, jid)
    const change = await dropped
    expect(change?.code).toBe(code)
    await h.waitForStatus(id, 'connected')
    expect(phone.linkedDevices()).toEqual([jid])
  })

  it('408 silence: a frozen connection is detected and replaced', async () => {
    const { id, phone } = await h.pairNewInstance()
    const dropped = h.waitForStatus(id, 'connecting', 20_000)
    h.sim.faults.freeze(phone.linkedDevices()[0]!)
    expect(await dropped).toMatchObject({ code: 408 })
    await h.waitForStatus(id, 'connected', 20_000)
  })
})

describe('QR expiry', () => {
  it('ends disconnected with qr_attempts_exhausted when no QR is scanned', async () => {
    const sim = await WaSimulator.start({ qrRefs: 2 })
    const h = await startHarness({ sim, env: { QR_TIMEOUT_MS: '150' } })
    try {
      const created = await h.request('POST', '/api/v1/instances', {})
      const id = created.body.data.id
      const change = await h.waitForStatus(id, 'disconnected')
      expect(change).toMatchObject({ reason: 'qr_attempts_exhausted', code: 408 })
      const qr = await h.request('GET', `/api/v1/instances/${id}/qr`)
      expect(qr.status).toBe(409)
    } finally {
      await h.close()
      await sim.stop()
    }
  })
})
