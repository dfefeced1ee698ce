import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusChange } from '../../src/instances/status.js'
import { startHarness, type Harness } from '../helpers/harness.js'

describe('boot restore and the reconnect policy', () => {
  let h: Harness

  beforeAll(async () => {
    h = await startHarness({ env: { RESTORE_CONCURRENCY: '2' } })
  })
  afterAll(async () => {
    await h.close()
  })

  it('restores paired instances through a bounded queue and leaves unpaired ones stopped', async () => {
    const paired = []
    for (let i = 0; i < 5; i++) paired.push(await h.pairNewInstance())
    const unpaired = (await h.request('POST', '/api/v1/instances', { name: 'never scanned' })).body.data.id as string
    await h.waitForQr(unpaired)

    let qrs = 0
    let logins = 0
    const loggedIn = () => (logins += 1)
    h.sim.on('login', loggedIn)
    await h.daemon.close()
    const { createDaemon } = await import('../../src/daemon.js')
    const { silentLogger } = await import('../../src/logger.js')
    const daemon = await createDaemon(h.config, silentLogger)
    daemon.manager.on('qr', () => (qrs += 1))
    await daemon.listen()
    try {
      const all = paired.map((p) => new Promise<void>((resolve) => {
        const check = (c: StatusChange) => c.instanceId === p.id && c.to === 'connected' && (daemon.manager.off('status', check), resolve())
        daemon.manager.on('status', check)
      }))
      await Promise.all(all)
      // Handshakes in flight as the server counts them (accepted, Noise handshake not finished); the pairings
      // before the restart ran one at a time.
      expect(h.sim.handshakes.peak).toBeLessThanOrEqual(2)
      expect(logins).toBe(5)
      expect(qrs).toBe(0)
      expect(daemon.manager.get(unpaired)).toMatchObject({ status: 'disconnected', status_reason: 'pairing_interrupted_by_restart' })
      expect(daemon.manager.supervisor(unpaired).socket).toBeUndefined()
    } finally {
      h.sim.off('login', loggedIn)
      await daemon.close()
      await h.restartDaemon()
    }
  }, 120_000) // pairs five phones, then restarts the daemon
})

describe('login refused', () => {
  let h: Harness

  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h.close()
  })

  it('a login refused with failure 401 wipes the credentials and ends disconnected', async () => {
    const { id, phone } = await h.pairNewInstance()
    h.sim.faults.failureNextLogin(phone.linkedDevices()[0]!, 401)
    const disconnected = h.waitForStatus(id, 'disconnected')
    await h.request('POST', `/api/v1/instances/${id}/restart`)
    expect(await disconnected).toMatchObject({ reason: 'failure_401', code: 401 })
    expect(h.daemon.manager.supervisor(id).isPaired).toBe(false)
  })

  it.each([
    [403, 'forbidden'],
    [411, 'multidevice_mismatch'],
  ] as const)('a login refused with failure %i ends disconnected (%s) at once, credentials kept', async (code, reason) => {
    const { id, phone } = await h.pairNewInstance()
    let logins = 0
    const counted = () => (logins += 1)
    h.sim.on('login-failed', counted)
    h.sim.faults.failureNextLogin(phone.linkedDevices()[0]!, code)
    const disconnected = h.waitForStatus(id, 'disconnected')
    await h.request('POST', `/api/v1/instances/${id}/restart`)
    expect(await disconnected).toMatchObject({ reason, code })
    h.sim.off('login-failed', counted)
    expect(logins).toBe(1)
    expect(h.daemon.manager.supervisor(id).isPaired).toBe(true)
  })

  it('an unreadable session file leaves its instance disconnected (session_store_error); the others restore', async () => {
    const damaged = await h.pairNewInstance()
    const healthy = await h.pairNewInstance()
    const fs = await import('node:fs')
    const file = `${h.config.sessionsDir}/${damaged.id}.db`
    await h.restartDaemon({
      whileDown: async () => {
        for (const f of [`${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true })
        fs.writeFileSync(file, Buffer.alloc(8192, 0x5a))
      },
    })
    await h.waitForStatus(damaged.id, 'disconnected')
    expect(h.daemon.manager.get(damaged.id)).toMatchObject({ status: 'disconnected', status_reason: 'session_store_error' })
    await h.waitForStatus(healthy.id, 'connected')
    // Restarting it answers, and ends where it was: no QR cycle over a file that holds someone's credentials.
    expect((await h.request('POST', `/api/v1/instances/${damaged.id}/restart`)).status).toBeLessThan(500)
    expect(h.daemon.manager.get(damaged.id).status).toBe('disconnected')
    expect(fs.readFileSync(file).subarray(0, 16)).toEqual(Buffer.alloc(16, 0x5a))
    expect((await h.request('DELETE', `/api/v1/instances/${damaged.id}`)).status).toBe(200)
    expect(fs.existsSync(file)).toBe(false)
  })
})

describe('consecutive failures', () => {
  it('back off and end disconnected (too_many_failures) instead of looping forever', async () => {
    // A port with nothing listening: every connect fails at once.
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const h = await startHarness({ env: { WA_WS_URL: `ws://127.0.0.1:${port}/ws/chat`, RECONNECT_MAX_FAILURES: '4' } })
    try {
      const changes: StatusChange[] = []
      h.daemon.manager.on('status', (c) => changes.push(c))
      const id = (await h.request('POST', '/api/v1/instances', {})).body.data.id as string
      const change = await h.waitForStatus(id, 'disconnected')
      expect(change?.reason).toBe('too_many_failures')
      const transitions = h.daemon.db.sqlite.prepare('SELECT COUNT(*) AS n FROM instance_transitions WHERE instance_id = ?').get(id) as { n: number }
      expect(transitions.n).toBeGreaterThanOrEqual(4)
    } finally {
      await h.close()
    }
  })

  it('a 515 answered to every login counts as a failure and backs off, instead of restarting at handshake speed', async () => {
    const h = await startHarness({ env: { RECONNECT_MAX_FAILURES: '3', RECONNECT_BASE_MS: '20', RECONNECT_MAX_MS: '50' } })
    try {
      const { id, phone } = await h.pairNewInstance()
      const jid = phone.linkedDevices()[0]!
      let refused = 0
      // Every login of this device is refused with 515 (Baileys closes with restartRequired, socket.js:798-801).
      const rearm = (e: { deviceJid: string }) => {
        if (e.deviceJid !== jid) return
        refused += 1
        h.sim.faults.failureNextLogin(jid, 515)
      }
      h.sim.on('login-failed', rearm)
      h.sim.faults.failureNextLogin(jid, 515)
      const gaveUp = h.waitForStatus(id, 'disconnected')
      await h.request('POST', `/api/v1/instances/${id}/restart`)
      expect(await gaveUp).toMatchObject({ reason: 'too_many_failures', code: 515 })
      h.sim.off('login-failed', rearm)
      expect(refused).toBe(3)
      // Given up, not logged out: the next boot tries it again, and it comes back.
      await h.restartDaemon()
      await h.waitForStatus(id, 'connected')
    } finally {
      await h.close()
    }
  })
})
