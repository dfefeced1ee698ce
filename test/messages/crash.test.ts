import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnDaemon, type ChildDaemon } from '../helpers/child-daemon.js'
import { adminHeaders, basicAuth, testEnv, uniquePhone } from '../helpers/harness.js'
import { WaSimulator, type Customer, type Phone } from '../wasim/index.js'
import { textOf } from './helpers.js'

const N = 500

/** Polls `probe` (an API call or a read) until it yields a value; no fixed sleeps, bounded in time. */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('crash safety of the outbound queue (daemon in a child process, kill -9)', () => {
  let sim: WaSimulator
  let dir: string
  let env: Record<string, string>
  let daemon: ChildDaemon | undefined
  let phone: Phone
  let customer: Customer

  beforeAll(async () => {
    sim = await WaSimulator.start()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-crash-'))
    env = testEnv(sim, dir)
    phone = sim.createPhone({ phone: uniquePhone(), pushName: 'Acme' })
    customer = sim.createCustomer({ phone: uniquePhone('55449'), pushName: 'Maria' })
    // No delivery receipts: the test is about the sends, and 500 receipts would only add CPU on a 2-core machine.
    customer.autoReceipt = 'none'
  })
  afterAll(async () => {
    if (daemon) await daemon.kill9()
    await sim.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it(`${N} messages accepted while the socket cannot send all reach the customer exactly once after kill -9`, async () => {
    daemon = await spawnDaemon(env, sim.rootPublicKeyBase64)
    const created = await daemon.request('POST', '/api/v1/instances', { name: 'crash' }, adminHeaders)
    expect(created.status).toBe(201)
    const id: string = created.body.data.id
    const auth = { ...basicAuth(id, created.body.data.token), 'content-type': 'application/json' }
    const d1 = daemon
    const qr = await until('a QR', async () => {
      const res = await d1.request('GET', `/api/v1/instances/${id}/qr`, undefined, adminHeaders)
      return res.status === 200 ? (res.body.data.qr as string) : undefined
    })
    const { deviceJid } = await phone.scanQr(qr)
    await until('connected', async () => ((await d1.request('GET', `/api/v1/instances/${id}`, undefined, adminHeaders)).body.data.status === 'connected' ? true : undefined))

    // Warm up: the contact lookup is cached and the Signal session exists, so later sends need no server answer.
    const warm = await d1.request('POST', '/api/v1/message/text?wait=sent', { phone: customer.phone, data: { text: 'warm-up' } }, auth)
    expect(warm.body.status).toBe('sent')

    // The server stops handling anything from the device: stanzas written to the socket vanish, no acks come back.
    sim.faults.freeze(deviceJid)
    const accepted: { messageId: string; waId: string; text: string }[] = []
    // 16 requests in flight at a time; the queue order is the order the rows were committed (seq).
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < N) {
          const text = `crash ${next++}`
          const res = await d1.request('POST', '/api/v1/message/text', { phone: customer.phone, data: { text } }, auth)
          expect(res.status).toBe(200)
          accepted.push({ messageId: res.body.message_id, waId: res.body.wa_message_id, text })
        }
      }),
    )
    expect(accepted).toHaveLength(N)
    // Some rows were handed to the socket (send started, no ack recorded): exactly the window kill -9 must survive.
    const db = new BetterSqlite3(path.join(env.DATA_DIR ?? '', 'gateway.db'), { readonly: true })
    const queueOrder = (db.prepare(`SELECT wa_message_id AS id FROM messages WHERE text LIKE 'crash %' ORDER BY seq`).all() as { id: string }[]).map((r) => r.id)
    const started = await until('sends to start', () => {
      const row = db.prepare(`SELECT count(*) AS n FROM messages WHERE send_started_at IS NOT NULL AND status = 'queued'`).get() as { n: number }
      return row.n > 0 ? row.n : undefined
    })
    db.close()
    expect(started).toBeGreaterThan(0)
    expect(customer.received.filter((m) => textOf(m.message)?.startsWith('crash '))).toHaveLength(0)

    await d1.kill9()
    daemon = await spawnDaemon(env, sim.rootPublicKeyBase64)

    const ours = new Set(accepted.map((a) => a.waId))
    await until('every message at the customer', () => (customer.received.filter((m) => ours.has(m.id)).length >= N ? true : undefined), 25_000)
    const received = customer.received.filter((m) => ours.has(m.id))
    // Exactly once, by WhatsApp id and by text; on the wire in queue (seq) order (the customer decrypts
    // concurrently, so its own list may interleave).
    expect(received).toHaveLength(N)
    expect(new Set(received.map((m) => m.id)).size).toBe(N)
    const textById = new Map(received.map((m) => [m.id, textOf(m.message)]))
    expect(accepted.map((a) => textById.get(a.waId))).toEqual(accepted.map((a) => a.text))
    expect(sim.messagesSentBy(deviceJid).filter((m) => ours.has(m))).toEqual(queueOrder)
    // No second, different message carrying one of the texts.
    expect(customer.received.filter((m) => textOf(m.message)?.startsWith('crash '))).toHaveLength(N)
    const d2 = daemon
    const last = accepted.at(-1)
    const final = await until('the last status', async () => {
      const res = await d2.request('GET', `/api/v1/messages/${last?.messageId}`, undefined, auth)
      return res.body.data.status === 'sent' ? res.body.data : undefined
    })
    expect(final.error).toBeNull()
    // The queue is serial: once a later message went out, no earlier row can still be (re)sent. Count again.
    const marker = await d2.request('POST', '/api/v1/message/text?wait=sent', { phone: customer.phone, data: { text: 'after' } }, auth)
    expect(marker.body.status).toBe('sent')
    expect(sim.messagesSentBy(deviceJid).filter((m) => ours.has(m))).toHaveLength(N)
    expect(customer.received.filter((m) => ours.has(m.id))).toHaveLength(N)
  }, 60_000) // ≈ 15 s on an idle 2-core machine; the bound is for a loaded one (two daemon boots, 1,000 encryptions)
})
