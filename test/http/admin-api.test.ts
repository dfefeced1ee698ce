import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminHeaders, basicAuth, startHarness, type Harness } from '../helpers/harness.js'

describe('admin API: auth, errors and instance management', () => {
  let h: Harness

  beforeAll(async () => {
    h = await startHarness({ env: { AUTH_FAILURES_MAX: '5' } })
  })
  afterAll(async () => {
    await h.close()
  })

  it('gives the same 401 for a missing, malformed or wrong credential', async () => {
    const attempts = [
      {},
      { authorization: 'Bearer wrong-token-xxxxxxxx' },
      { authorization: 'Bearer' },
      { authorization: 'Basic !!!' },
      basicAuth('nobody', 'nothing'),
    ]
    const bodies = new Set<string>()
    for (const [i, headers] of attempts.entries()) {
      const res = await h.daemon.app.inject({ method: 'GET', url: '/api/v1/instances', headers, remoteAddress: `10.9.0.${i + 1}` })
      expect(res.statusCode).toBe(401)
      bodies.add(res.body)
    }
    expect([...bodies]).toEqual([JSON.stringify({ data: null, meta: null, errors: [{ code: 'UNAUTHORIZED', message: 'Missing or invalid credentials' }] })])
  })

  it('rate-limits repeated failed authentication with 429 and Retry-After, per client', async () => {
    const wrong = { authorization: 'Bearer wrong-token-xxxxxxxx' }
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) {
      const res = await h.daemon.app.inject({ method: 'GET', url: '/api/v1/instances', headers: wrong, remoteAddress: '10.0.0.66' })
      statuses.push(res.statusCode)
      if (res.statusCode === 429) {
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
        expect(res.json().errors[0].code).toBe('RATE_LIMITED')
      }
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429])
    // Another client is unaffected.
    const other = await h.daemon.app.inject({ method: 'GET', url: '/api/v1/instances', headers: adminHeaders, remoteAddress: '10.0.0.67' })
    expect(other.statusCode).toBe(200)
    // So is another identity behind the same address (clients of one reverse proxy share it).
    const { id, token } = (await h.request('POST', '/api/v1/instances', {})).body.data
    const instance = await h.daemon.app.inject({ method: 'GET', url: '/api/v1/messages?limit=1', headers: basicAuth(id, token), remoteAddress: '10.0.0.66' })
    expect(instance.statusCode).toBe(200)
    await h.request('DELETE', `/api/v1/instances/${id}`)
  })

  it('creates an instance from no body at all; takes tenant ids of up to 128 characters, none with a colon', async () => {
    const bare = await h.daemon.app.inject({ method: 'POST', url: '/api/v1/instances', headers: adminHeaders })
    expect(bare.statusCode).toBe(201)
    expect(bare.json().data).toMatchObject({ status: 'pending_qr', tenant_id: null })
    const colon = await h.request('POST', '/api/v1/instances', { tenant_id: 'acme:eu' })
    expect(colon.status).toBe(400)
    expect(colon.body.errors[0].code).toBe('VALIDATION_FAILED')
    const long = 't'.repeat(128)
    // The route is found (the router's default stopped parameters at 100 characters); the tenant is not.
    const tenant = await h.request('GET', `/api/v1/tenants/${long}`)
    expect(tenant.body.errors[0].code).not.toBe('ROUTE_NOT_FOUND')
    expect(tenant.body.errors[0].code).toMatch(/NOT_FOUND$/)
    for (const id of [bare.json().data.id]) await h.request('DELETE', `/api/v1/instances/${id}`)
  })

  it('behind a trusted proxy (TRUST_PROXY), failed authentications count per forwarded client', async () => {
    // The same simulator: a second one would take over the process-wide trust in the simulator's certificate.
    const proxied = await startHarness({ sim: h.sim, env: { AUTH_FAILURES_MAX: '2', TRUST_PROXY: '10.1.0.0/16' } })
    try {
      const attempt = (client: string, from = '10.1.0.9') =>
        proxied.daemon.app.inject({
          method: 'GET',
          url: '/api/v1/instances',
          headers: { authorization: 'Bearer wrong-token-xxxxxxxx', 'x-forwarded-for': client },
          remoteAddress: from,
        })
      const statuses = []
      for (let i = 0; i < 3; i++) statuses.push((await attempt('203.0.113.7')).statusCode)
      expect(statuses).toEqual([401, 401, 429])
      expect((await attempt('203.0.113.8')).statusCode).toBe(401) // another client of the same proxy
      // An address that is not a trusted proxy cannot name its client: its own address counts.
      for (let i = 0; i < 2; i++) await attempt(`198.51.100.${i}`, '192.0.2.50')
      expect((await attempt('198.51.100.99', '192.0.2.50')).statusCode).toBe(429)
    } finally {
      await proxied.close()
    }
  })

  it('an instance token cannot use admin routes', async () => {
    const created = await h.request('POST', '/api/v1/instances', { tenant_id: 'acme' })
    const { id, token } = created.body.data
    for (const user of [id, 'acme']) {
      const res = await h.request('GET', '/api/v1/instances', undefined, basicAuth(user, token))
      expect(res.status).toBe(401)
    }
    await h.request('DELETE', `/api/v1/instances/${id}`)
  })

  it('answers errors in the envelope with stable codes, never a 5xx for bad input', async () => {
    const cases: Array<[string, string, string | undefined, Record<string, string>, number, string]> = [
      ['GET', '/api/v1/nope', undefined, adminHeaders, 404, 'ROUTE_NOT_FOUND'],
      ['GET', '/api/v1/instances/inst_missing', undefined, adminHeaders, 404, 'INSTANCE_NOT_FOUND'],
      ['POST', '/api/v1/instances', '{"name":', { ...adminHeaders, 'content-type': 'application/json' }, 400, 'INVALID_JSON'],
      ['POST', '/api/v1/instances', '{"name": 5}', { ...adminHeaders, 'content-type': 'application/json' }, 400, 'VALIDATION_FAILED'],
      ['POST', '/api/v1/instances', '{"bogus": true}', { ...adminHeaders, 'content-type': 'application/json' }, 400, 'VALIDATION_FAILED'],
      ['POST', '/api/v1/instances', 'name=x', { ...adminHeaders, 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['POST', '/api/v1/instances/inst_missing/restart', undefined, adminHeaders, 404, 'INSTANCE_NOT_FOUND'],
      ['POST', '/api/v1/instances/inst_missing/pairing-code', '{"phone":"5511999999999"}', { ...adminHeaders, 'content-type': 'application/json' }, 404, 'INSTANCE_NOT_FOUND'],
      ['POST', '/api/v1/instances/inst_missing/pairing-code', '{"phone":"55-11"}', { ...adminHeaders, 'content-type': 'application/json' }, 400, 'INVALID_PHONE'],
      ['GET', '/api/v1/messages?phone=abc', undefined, adminHeaders, 400, 'INVALID_PHONE'],
    ]
    for (const [method, url, payload, headers, status, code] of cases) {
      const res = await h.daemon.app.inject({ method: method as 'GET', url, headers, ...(payload ? { payload } : {}) })
      expect({ url, status: res.statusCode, code: res.json().errors?.[0]?.code }).toEqual({ url, status, code })
      expect(res.json()).toMatchObject({ data: null, meta: null })
    }
  })

  it('lists, gets, rotates the token of and deletes an instance', async () => {
    const created = await h.request('POST', '/api/v1/instances', { name: 'rotating', tenant_id: 'tenant-rot' })
    const { id, token } = created.body.data
    const listed = await h.request('GET', '/api/v1/instances?tenant_id=tenant-rot')
    expect(listed.body.data.map((i: { id: string }) => i.id)).toEqual([id])
    expect(listed.body.data[0]).not.toHaveProperty('token')
    expect(listed.body.data[0]).not.toHaveProperty('token_hash')

    const rotated = await h.request('POST', `/api/v1/instances/${id}/token`)
    expect(rotated.status).toBe(200)
    expect(rotated.body.data.token).not.toBe(token)
    const row = h.daemon.db.sqlite.prepare('SELECT token_hash FROM instances WHERE id = ?').get(id) as { token_hash: string }
    expect(row.token_hash).not.toContain(rotated.body.data.token)

    const deleted = await h.request('DELETE', `/api/v1/instances/${id}`)
    expect(deleted.status).toBe(200)
    expect((await h.request('GET', `/api/v1/instances/${id}`)).status).toBe(404)
  })

  it('a rotated or deleted instance token stops working at once, although verified credentials are cached', async () => {
    const created = await h.request('POST', '/api/v1/instances', { tenant_id: 'tenant-cache' })
    const { id, token } = created.body.data
    let client = 0
    // Each from its own address, so the failures below never reach the limiter's threshold.
    const status = async (user: string, secret: string) =>
      (await h.daemon.app.inject({ method: 'GET', url: '/api/v1/messages?limit=1', headers: basicAuth(user, secret), remoteAddress: `10.7.0.${++client}` })).statusCode
    for (const user of [id, 'tenant-cache']) {
      expect(await status(user, token)).toBe(200)
      expect(await status(user, token)).toBe(200) // now from the cache
      expect(await status(user, `${token}x`)).toBe(401)
    }
    const rotated = (await h.request('POST', `/api/v1/instances/${id}/token`)).body.data.token as string
    for (const user of [id, 'tenant-cache']) {
      expect(await status(user, token)).toBe(401)
      expect(await status(user, rotated)).toBe(200)
    }
    await h.request('DELETE', `/api/v1/instances/${id}`)
    for (const user of [id, 'tenant-cache']) expect(await status(user, rotated)).toBe(401)
  })

  it('deleting a paired instance logs it out and removes its session file', async () => {
    const { id, phone } = await h.pairNewInstance()
    const fs = await import('node:fs')
    const sessionFile = `${h.config.sessionsDir}/${id}.db`
    expect(fs.existsSync(sessionFile)).toBe(true)
    // A decrypted stanza left in the journal (a crash before its message was recorded) is the instance's data too.
    const journal = h.daemon.db.sqlite.prepare('SELECT COUNT(*) FROM inbound_journal WHERE instance_id = ?').pluck()
    h.daemon.db.sqlite
      .prepare('INSERT INTO inbound_journal (instance_id, wa_message_id, stanza, plaintext, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, 'LEFTOVER1', '{}', Buffer.from('secret'), Date.now())
    expect(journal.get(id)).toBe(1)
    const res = await h.request('DELETE', `/api/v1/instances/${id}`)
    expect(res.status).toBe(200)
    expect(phone.linkedDevices()).toHaveLength(0)
    expect(fs.existsSync(sessionFile)).toBe(false)
    expect(journal.get(id)).toBe(0)
  })

  it('pairs by code: the phone enters the code the API handed out', async () => {
    const phone = h.sim.createPhone({ phone: '5511977770001', pushName: 'By Code' })
    const created = await h.request('POST', '/api/v1/instances', {})
    const id = created.body.data.id
    await h.waitForQr(id)
    const requested = h.sim.waitFor('iq', (iq) => iq.child === 'link_code_companion_reg')
    const res = await h.request('POST', `/api/v1/instances/${id}/pairing-code`, { phone: '+5511977770001' })
    await requested
    expect(res.status).toBe(200)
    expect(res.body.data.code).toMatch(/^[A-Z0-9]{8}$/)
    const connected = h.waitForStatus(id, 'connected')
    await phone.enterPairingCode(res.body.data.code)
    await connected
    expect(h.daemon.manager.get(id).phone).toBe('5511977770001')
  })

  it('a pairing code requested and never entered does not stop the next QR cycle (a restart starts one)', async () => {
    const created = await h.request('POST', '/api/v1/instances', {})
    const id = created.body.data.id
    await h.waitForQr(id)
    expect((await h.request('POST', `/api/v1/instances/${id}/pairing-code`, { phone: '5511977770002' })).status).toBe(200)
    const qr = h.waitForStatus(id, 'pending_qr')
    expect((await h.request('POST', `/api/v1/instances/${id}/restart`)).status).toBe(200)
    await qr
    // A QR is issued, rather than a login with the half-written identity that the server refuses (401 → disconnected).
    expect((await h.waitForQr(id)).qr).toBeTruthy()
    const phone = h.sim.createPhone({ phone: '5511977770003', pushName: 'After code' })
    const connected = h.waitForStatus(id, 'connected')
    await phone.scanQr((await h.waitForQr(id)).qr)
    await connected
    await h.request('DELETE', `/api/v1/instances/${id}`)
  })

  it('health: live and ready once instances are restored', async () => {
    expect((await h.request('GET', '/health/live', undefined, {})).status).toBe(200)
    const ready = await h.request('GET', '/health/ready', undefined, {})
    expect(ready.status).toBe(200)
    expect(ready.body.data.checks).toEqual({ database: true, instances_restored: true })
  })

  it('shuts down with an event stream open: the stream is ended, not waited for', async () => {
    const { port } = h.daemon.app.server.address() as { port: number }
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/events/stream`, { headers: adminHeaders })
    expect(res.status).toBe(200)
    const drained = (async () => {
      for await (const _chunk of res.body as unknown as AsyncIterable<Uint8Array>);
      return 'ended'
    })()
    // Without the stream being ended at close, the server's close waits for it and this never returns.
    await h.restartDaemon()
    expect(await drained).toBe('ended')
  })
})
