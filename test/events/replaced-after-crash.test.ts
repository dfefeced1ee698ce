import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnDaemon, type ChildDaemon } from '../helpers/child-daemon.js'
import { adminHeaders, testEnv } from '../helpers/harness.js'
import { readSse } from '../helpers/sse.js'
import { TestReceiver } from '../helpers/receiver.js'
import { WaSimulator, type Customer, type Phone } from '../wasim/index.js'

/** Admin API call on the child daemon; answers `data`, throws on an error status. */
async function api(daemon: ChildDaemon, method: string, url: string, body?: unknown): Promise<any> {
  const res = await daemon.request(method, url, body, adminHeaders)
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.data
}

/** Resolves once the instance's status becomes `to` (the SSE stream replays the current status first). */
function statusBecomes(daemon: ChildDaemon, instanceId: string, to: string): Promise<unknown> {
  return readSse(`${daemon.baseUrl}/api/v1/instances/${instanceId}/events`, (seen) => seen.some((e) => e.event === 'status' && e.data.to === to))
}

/**
 * The soak's seed 90202 lost four inbound messages this way: the daemon was killed, customers wrote meanwhile, and
 * the restored socket was replaced (440) while the server was still handing it the offline backlog. The simulator
 * forgot the backlog stanzas it had sent but the daemon had not answered yet; the real server delivers them again
 * at the next login, as the simulator now does. Whatever the daemon had decrypted and journaled before the 440 is
 * then delivered twice: receivers must see one event id per message.
 */
describe('kill -9, then 440 while the offline backlog arrives', () => {
  let sim: WaSimulator
  let daemon: ChildDaemon | undefined
  let env: Record<string, string>
  let receiver: TestReceiver
  let phone: Phone
  let customers: Customer[]
  let dir: string

  beforeAll(async () => {
    sim = await WaSimulator.start()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-replaced-'))
    env = testEnv(sim, dir, { LOG_LEVEL: 'info', WEBHOOK_RETRY_SCHEDULE_MS: '50,100,200,400', WEBHOOK_TIMEOUT_MS: '2000' })
    receiver = await TestReceiver.start()
    phone = sim.createPhone({ phone: '5511977770002', pushName: 'Replaced Co' })
    customers = [0, 1, 2, 3].map((i) => sim.createCustomer({ phone: `554499000200${i}`, pushName: `C${i}` }))
  })
  afterAll(async () => {
    await daemon?.stop()
    await receiver?.close()
    await sim?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('every message written while the daemon was down reaches the receiver once per event id, whenever the 440 lands', async () => {
    daemon = await spawnDaemon(env, sim.rootPublicKeyBase64)
    const instance = await api(daemon, 'POST', '/api/v1/instances', { name: 'replaced' })
    const qr = await readSse(`${daemon.baseUrl}/api/v1/instances/${instance.id}/events`, (seen) => seen.some((e) => e.event === 'qr'))
    const connected = statusBecomes(daemon, instance.id, 'connected')
    const { deviceJid } = await phone.scanQr(qr.find((e) => e.event === 'qr')!.data.qr)
    await connected
    await api(daemon, 'POST', '/api/v1/webhooks', { url: receiver.url, events: ['message.inbound'], instance_id: instance.id })

    const sent: string[] = []
    for (const delayMs of [0, 10, 40, 120]) {
      await daemon.kill9()
      for (let i = 0; i < 12; i++) sent.push((await customers[i % customers.length]!.sendText(phone.phone, `after ${delayMs} ms: ${i}`)).id)
      const login = sim.waitFor('login', (e) => e.deviceJid === deviceJid, 20_000)
      daemon = await spawnDaemon(env, sim.rootPublicKeyBase64)
      await login
      await new Promise((resolve) => setTimeout(resolve, delayMs)) // the fault point, not a readiness wait
      const replaced = statusBecomes(daemon, instance.id, 'disconnected')
      sim.faults.streamError(deviceJid, 440)
      await replaced
      const back = statusBecomes(daemon, instance.id, 'connected')
      await api(daemon, 'POST', `/api/v1/instances/${instance.id}/restart`)
      await back

      const all = await receiver.waitUntilDistinct((r) => r.json?.data?.wa_message_id, new Set(sent), 15_000).catch(() => receiver.requests)
      const eventIds = new Map<string, Set<string>>()
      for (const r of all) {
        const waId = r.json?.data?.wa_message_id as string
        eventIds.set(waId, (eventIds.get(waId) ?? new Set()).add(r.headers['webhook-id'] ?? ''))
      }
      expect(sent.filter((id) => !eventIds.has(id)), `missing, 440 ${delayMs} ms after login`).toEqual([])
      for (const [waId, ids] of eventIds) expect(ids.size, waId).toBe(1)
    }
  }, 180_000)
})
