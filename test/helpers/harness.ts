import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, type Config } from '../../src/config.js'
import { createDaemon, type Daemon } from '../../src/daemon.js'
import type { InstanceStatus, QrIssued, StatusChange } from '../../src/instances/status.js'
import { silentLogger } from '../../src/logger.js'
import { WaSimulator } from '../wasim/index.js'

export const ADMIN_TOKEN = 'test-admin-token-0123456789'
export const SECRET_KEY = 'test-secret-key-0123456789-0123456789'
export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` }

export function basicAuth(user: string, token: string): { authorization: string } {
  return { authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` }
}

/** Environment for a daemon under test: temp dirs, the simulator's socket (when there is one), fast timings. */
export function testEnv(sim: WaSimulator | undefined, dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: path.join(dir, 'data'),
    SESSIONS_DIR: path.join(dir, 'sessions'),
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    GATEWAY_SECRET_KEY: SECRET_KEY,
    ...(sim ? { WA_WS_URL: sim.wsUrl } : {}),
    LOG_LEVEL: 'silent',
    LOG_PRETTY: 'false',
    PORT: '0',
    HOST: '127.0.0.1',
    RECONNECT_BASE_MS: '20',
    RECONNECT_MAX_MS: '200',
    ALLOW_PRIVATE_WEBHOOK_CIDRS: '127.0.0.0/8',
    ...extra,
  }
}

export interface Harness {
  sim: WaSimulator
  daemon: Daemon
  config: Config
  dir: string
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Record<string, unknown> }>
  /** Resolves with the first status change of `instanceId` to `status` (or at once if it is there already). */
  waitForStatus(instanceId: string, status: InstanceStatus, timeoutMs?: number): Promise<StatusChange | undefined>
  waitForQr(instanceId: string, timeoutMs?: number): Promise<QrIssued>
  /** Creates an instance and pairs it with a new simulated phone; resolves once it is connected. */
  pairNewInstance(opts?: { phone?: string; pushName?: string; tenantId?: string }): Promise<PairedInstance>
  /** Stops the daemon (not the simulator) and starts a new one on the same directories; `whileDown` runs in between. */
  restartDaemon(opts?: { whileDown?: () => Promise<void> }): Promise<void>
  close(): Promise<void>
}

export interface PairedInstance {
  id: string
  token: string
  phone: ReturnType<WaSimulator['createPhone']>
}

let phoneCounter = 0
export function uniquePhone(prefix = '55119'): string {
  phoneCounter += 1
  return `${prefix}${String(process.pid % 10_000).padStart(4, '0')}${String(phoneCounter).padStart(4, '0')}`
}

export async function startHarness(opts: { env?: Record<string, string>; sim?: WaSimulator } = {}): Promise<Harness> {
  const sim = opts.sim ?? (await WaSimulator.start())
  sim.trustInProcess()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-test-'))
  const config = loadConfig(testEnv(sim, dir, opts.env))
  let daemon = await createDaemon(config, silentLogger)
  await daemon.listen()

  const harness: Harness = {
    sim,
    config,
    dir,
    get daemon() {
      return daemon
    },
    async request(method, url, body, headers = adminHeaders) {
      const res = await daemon.app.inject({
        method: method as 'GET',
        url,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      })
      let parsed: unknown = res.body
      if ((res.headers['content-type'] ?? '').toString().includes('json')) parsed = res.json()
      return { status: res.statusCode, body: parsed, headers: res.headers }
    },
    waitForStatus(instanceId, status, timeoutMs = 15_000) {
      const current = daemon.manager.list().find((i) => i.id === instanceId)?.status
      if (current === status) return Promise.resolve(undefined)
      return waitForEvent(daemon.manager, 'status', (c: StatusChange) => c.instanceId === instanceId && c.to === status, timeoutMs)
    },
    waitForQr(instanceId, timeoutMs = 15_000) {
      const pending = daemon.manager.supervisor(instanceId).currentQr
      if (pending) return Promise.resolve(pending)
      return waitForEvent(daemon.manager, 'qr', (q: QrIssued) => q.instanceId === instanceId, timeoutMs)
    },
    async pairNewInstance(o = {}) {
      const phone = sim.createPhone({ phone: o.phone ?? uniquePhone(), pushName: o.pushName ?? 'Acme Support' })
      const created = await harness.request('POST', '/api/v1/instances', { name: 'test', ...(o.tenantId ? { tenant_id: o.tenantId } : {}) })
      if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`)
      const id: string = created.body.data.id
      const qr = await harness.waitForQr(id)
      const connected = harness.waitForStatus(id, 'connected')
      await phone.scanQr(qr.qr)
      await connected
      return { id, token: created.body.data.token, phone }
    },
    async restartDaemon(o = {}) {
      await daemon.close()
      await o.whileDown?.()
      daemon = await createDaemon(config, silentLogger)
      await daemon.listen()
    },
    async close() {
      await daemon.close()
      if (!opts.sim) await sim.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
  return harness
}

/** Resolves with the first event payload matching `predicate`; rejects after `timeoutMs` naming what it waited for. */
export function waitForEvent<T>(
  emitter: { on(event: string, fn: (arg: T) => void): unknown; off(event: string, fn: (arg: T) => void): unknown },
  event: string,
  predicate: (arg: T) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener)
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`))
    }, timeoutMs)
    const listener = (arg: T) => {
      if (!predicate(arg)) return
      clearTimeout(timer)
      emitter.off(event, listener)
      resolve(arg)
    }
    emitter.on(event, listener)
  })
}
