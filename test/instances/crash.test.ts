import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WaSimulator } from '../wasim/index.js'
import { spawnDaemon, type ChildDaemon } from '../helpers/child-daemon.js'
import { adminHeaders, testEnv, uniquePhone } from '../helpers/harness.js'
import { latestStatus, readSse } from '../helpers/sse.js'

/** A small seeded PRNG so a failing crash point can be replayed from the test name. */
function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

function assertIntact(file: string): void {
  const db = new BetterSqlite3(file, { readonly: true })
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
  } finally {
    db.close()
  }
}

function waitStatus(d: ChildDaemon, id: string, status: string) {
  return readSse(`${d.baseUrl}/api/v1/instances/${id}/events`, (events) => latestStatus(events) === status)
}

const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 100_000)

describe(`kill -9 during pairing and reconnection (CRASH_SEED=${SEED})`, () => {
  let sim: WaSimulator
  let dir: string
  let env: Record<string, string>
  const random = mulberry32(SEED)

  beforeAll(async () => {
    sim = await WaSimulator.start()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-crash-'))
    env = testEnv(sim, dir)
  })
  afterAll(async () => {
    await sim.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('a crash at a random point of pairing leaves intact files and an instance that resumes or re-pairs', async () => {
    for (let round = 0; round < 3; round++) {
      let daemon = await spawnDaemon(env, sim.rootPublicKeyBase64)
      const phone = sim.createPhone({ phone: uniquePhone(), pushName: 'Crash Test' })
      const created = await daemon.request('POST', '/api/v1/instances', {}, adminHeaders)
      const id: string = created.body.data.id
      const withQr = await readSse(`${daemon.baseUrl}/api/v1/instances/${id}/events`, (events) => events.some((e) => e.event === 'qr'))
      const qrEvent = withQr.find((e) => e.event === 'qr')!.data
      expect(qrEvent).toMatchObject({ instance_id: id, attempt: 1, expires_at: expect.any(String) })
      const qr = qrEvent.qr as string
      const crashAfterMs = Math.floor(random() * 400)
      void phone.scanQr(qr).catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, crashAfterMs)) // the crash point, not a readiness wait
      await daemon.kill9()

      assertIntact(path.join(env.DATA_DIR!, 'gateway.db'))
      assertIntact(path.join(env.SESSIONS_DIR!, `${id}.db`))
      daemon = await spawnDaemon(env, sim.rootPublicKeyBase64)
      try {
        const events = await readSse(`${daemon.baseUrl}/api/v1/instances/${id}/events`, (e) => ['connected', 'disconnected'].includes(latestStatus(e) ?? ''))
        if (latestStatus(events) === 'disconnected') {
          // Credentials never reached the disk: the instance waits for an operator, and a restart pairs it again.
          const restarted = await daemon.request('POST', `/api/v1/instances/${id}/restart`, undefined, adminHeaders)
          expect(restarted.status).toBe(200)
          const again = await readSse(`${daemon.baseUrl}/api/v1/instances/${id}/events`, (e) => e.some((x) => x.event === 'qr'))
          const connected = waitStatus(daemon, id, 'connected')
          await phone.scanQr(again.find((e) => e.event === 'qr')!.data.qr)
          await connected
        }
        const got = await daemon.request('GET', `/api/v1/instances/${id}`, undefined, adminHeaders)
        expect(got.body.data).toMatchObject({ status: 'connected', phone: phone.phone })
      } finally {
        await daemon.stop()
      }
    }
  }, 120_000) // six daemon processes start and stop in this test

  it('a crash at a random point of reconnection resumes the session without a QR', async () => {
    let daemon = await spawnDaemon(env, sim.rootPublicKeyBase64)
    const phone = sim.createPhone({ phone: uniquePhone(), pushName: 'Crash Test' })
    const created = await daemon.request('POST', '/api/v1/instances', {}, adminHeaders)
    const id: string = created.body.data.id
    const withQr = await readSse(`${daemon.baseUrl}/api/v1/instances/${id}/events`, (events) => events.some((e) => e.event === 'qr'))
    const connected = waitStatus(daemon, id, 'connected')
    await phone.scanQr(withQr.find((e) => e.event === 'qr')!.data.qr)
    await connected
    const device = phone.linkedDevices()[0]!
    for (let round = 0; round < 3; round++) {
      const fault = ([503, 515, 500] as const)[round]!
      sim.faults.streamError(device, fault)
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 300))) // the crash point
      await daemon.kill9()
      assertIntact(path.join(env.SESSIONS_DIR!, `${id}.db`))
      daemon = await spawnDaemon(env, sim.rootPublicKeyBase64)
      const events = await readSse(`${daemon.baseUrl}/api/v1/instances/${id}/events`, (e) => latestStatus(e) === 'connected')
      expect(events.some((e) => e.event === 'qr')).toBe(false)
      expect(phone.linkedDevices()).toEqual([device])
    }
    await daemon.stop()
  }, 120_000)
})
