import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnDaemon, type ChildDaemon } from '../helpers/child-daemon.js'
import { adminHeaders, testEnv } from '../helpers/harness.js'
import { readSse } from '../helpers/sse.js'
import { TestReceiver } from '../helpers/receiver.js'
import { WaSimulator, type Customer, type Phone } from '../wasim/index.js'

const TOTAL = 1000
const KILL_AFTER = 250

/** Admin API call on the child daemon; answers `data`, throws on an error status. */
async function api(daemon: ChildDaemon, method: string, url: string, body?: unknown): Promise<any> {
  const res = await daemon.request(method, url, body, adminHeaders)
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.data
}

/** The first event of the instance's SSE stream that `predicate` accepts, with its data. */
async function waitForSse(daemon: ChildDaemon, instanceId: string, predicate: (event: string, data: any) => boolean): Promise<any> {
  const events = await readSse(`${daemon.baseUrl}/api/v1/instances/${instanceId}/events`, (seen) => seen.some((e) => predicate(e.event, e.data)))
  return events.find((e) => predicate(e.event, e.data))!.data
}

describe('kill -9 while 1,000 inbound messages stream in', () => {
  let sim: WaSimulator
  let daemon: ChildDaemon | undefined
  let env: Record<string, string>
  let receiver: TestReceiver
  let phone: Phone
  let customers: Customer[]
  let dir: string

  beforeAll(async () => {
    sim = await WaSimulator.start()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-crash-'))
    env = {
      ...testEnv(sim, dir, { LOG_LEVEL: 'info', WEBHOOK_RETRY_SCHEDULE_MS: '50,100,200,400', WEBHOOK_TIMEOUT_MS: '2000' }),
      NODE_EXTRA_CA_CERTS: sim.mediaCaPath,
    }
    receiver = await TestReceiver.start()
    phone = sim.createPhone({ phone: '5511977770001', pushName: 'Crash Co' })
    customers = [0, 1, 2, 3].map((i) => sim.createCustomer({ phone: `554499000100${i}`, pushName: `C${i}` }))
  })
  afterAll(async () => {
    await daemon?.stop()
    await receiver?.close()
    await sim?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('after restart every message reached the receiver, none missing; duplicates carry the same event id', async () => {
    const first = await spawnDaemon(env, sim.rootPublicKeyBase64)
    daemon = first
    const instance = await api(first, 'POST', '/api/v1/instances', { name: 'crash' })
    const qr = await waitForSse(first, instance.id, (event) => event === 'qr')
    const connected = waitForSse(first, instance.id, (event, data) => event === 'status' && data.to === 'connected')
    await phone.scanQr(qr.qr)
    await connected
    await api(first, 'POST', '/api/v1/webhooks', { url: receiver.url, events: ['message.inbound'], instance_id: instance.id })

    const sent: string[] = []
    let deliveredAtKill = -1
    // Distinct messages, not requests: at-least-once allows a retried duplicate (e.g. a timeout under load) before the kill.
    const distinct = () => new Set(receiver.requests.map((r) => r.json?.data?.wa_message_id)).size
    const killing = receiver.waitFor(() => distinct() >= KILL_AFTER, 25_000).then(async () => {
      await first.kill9()
      deliveredAtKill = distinct()
    })
    for (let i = 0; i < TOTAL; i++) {
      const customer = customers[i % customers.length] as Customer
      sent.push((await customer.sendText(phone.phone, `m${i}`)).id)
      // Let the daemon work between sends so the kill lands mid-stream, not after the burst.
      if (i % 20 === 19) await new Promise((r) => setImmediate(r))
    }
    await killing
    // The crash interrupted the stream: far from everything had been delivered.
    expect(deliveredAtKill).toBeGreaterThanOrEqual(KILL_AFTER)
    expect(deliveredAtKill).toBeLessThan(TOTAL)
    daemon = await spawnDaemon(env, sim.rootPublicKeyBase64)

    const wanted = new Set(sent)
    const all = await receiver.waitUntilDistinct((r) => r.json?.data?.wa_message_id, wanted, 30_000)
    const byWaId = new Map<string, Set<string>>()
    for (const r of all) {
      const waId = r.json?.data?.wa_message_id as string
      const set = byWaId.get(waId) ?? new Set<string>()
      set.add(r.headers['webhook-id'] ?? '')
      byWaId.set(waId, set)
    }
    const missing = sent.filter((id) => !byWaId.has(id))
    expect(missing).toEqual([])
    for (const [waId, eventIds] of byWaId) expect(eventIds.size, waId).toBe(1)
  }, 90_000)
})
