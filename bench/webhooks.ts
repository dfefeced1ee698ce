/**
 * Webhook benchmarks (performance.md targets), loopback only, bounded in time and size:
 *  1. inbound message → webhook 2xx latency (p50/p99) with customers of the simulator sending 1,000 messages/s
 *     to a paired in-process daemon;
 *  2. signed, durable deliveries per second (outbox append → claim → sign → POST → mark done) against a bare undici
 *     POST loop to the same receiver, same concurrency, same body size, in the same run.
 * Run alone: `npx tsx bench/webhooks.ts`.
 */
import fs from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Pool } from 'undici'
import { openDatabase } from '../src/db/database.js'
import { migrations } from '../src/db/migrations/index.js'
import { DeliveryClient } from '../src/events/delivery-client.js'
import { DeliveryWorker } from '../src/events/delivery-worker.js'
import { Outbox } from '../src/events/outbox.js'
import { SinkDirectory } from '../src/events/sinks.js'
import { silentLogger } from '../src/logger.js'
import { parseCidrList } from '../src/net/cidr.js'
import { Sealer } from '../src/security/sealing.js'
import { startHarness } from '../test/helpers/harness.js'

const RATE = Number(process.env.BENCH_RATE ?? 1000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3)
const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 20_000)
const CONCURRENCY = 16

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

async function sink(onRequest?: (body: Buffer) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      onRequest?.(Buffer.concat(chunks))
      res.writeHead(204).end()
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` }
}

async function inboundLatency(): Promise<void> {
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  let expected = RATE * SECONDS
  let resolveDone!: () => void
  const done = new Promise<void>((r) => (resolveDone = r))
  const receiver = await sink((body) => {
    const waId = (JSON.parse(body.toString()) as { data?: { wa_message_id?: string } }).data?.wa_message_id
    const at = waId ? sentAt.get(waId) : undefined
    if (at === undefined) return
    latencies.push(performance.now() - at)
    if (latencies.length >= expected) resolveDone()
  })
  const h = await startHarness({ env: { WEBHOOK_RETRY_SCHEDULE_MS: '100,200' } })
  try {
    const inst = await h.pairNewInstance()
    await h.request('POST', '/api/v1/webhooks', { url: receiver.url, events: ['message.inbound'], instance_id: inst.id })
    const customers = Array.from({ length: 8 }, (_, i) => h.sim.createCustomer({ phone: `55449900020${i}`, pushName: `B${i}` }))
    // warm up sessions (first message per customer carries the pkmsg)
    for (const c of customers) await c.sendText(inst.phone.phone, 'warm-up')
    const lagStart = performance.now()
    let sent = 0
    const tickMs = 10
    const perTick = Math.max(1, Math.round((RATE * tickMs) / 1000))
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (let i = 0; i < perTick && sent < RATE * SECONDS; i++, sent++) {
          const c = customers[sent % customers.length]!
          const id = `BENCH${String(sent).padStart(8, '0')}`
          sentAt.set(id, performance.now())
          void c.sendText(inst.phone.phone, `bench ${sent}`, { id })
        }
        if (sent >= RATE * SECONDS) {
          clearInterval(timer)
          resolve()
        }
      }, tickMs)
    })
    const offered = (sent / (performance.now() - lagStart)) * 1000
    await Promise.race([done, new Promise((r) => setTimeout(r, 20_000))])
    expected = latencies.length
    latencies.sort((a, b) => a - b)
    console.log(
      `inbound → webhook 2xx: ${latencies.length}/${sent} delivered at ${offered.toFixed(0)} msg/s offered; ` +
        `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (target p99 ≤ 50 ms)`,
    )
  } finally {
    await h.close()
    receiver.server.closeAllConnections()
    receiver.server.close()
  }
}

async function deliveryThroughput(): Promise<void> {
  const receiver = await sink()
  const body = Buffer.from(JSON.stringify({ id: 'evt_x', type: 'message.inbound', data: { text: 'x'.repeat(900) } }))

  // bare undici loop: same receiver, concurrency, body size; no signing, no database
  const pool = new Pool(new URL(receiver.url).origin, { connections: CONCURRENCY })
  let next = 0
  const bareStart = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < DELIVERIES) {
        const res = await pool.request({ path: '/hook', method: 'POST', body, headers: { 'content-type': 'application/json' } })
        await res.body.dump()
      }
    }),
  )
  const bare = DELIVERIES / ((performance.now() - bareStart) / 1000)
  await pool.close()

  // ours: append (durable, one transaction per event) → claim → sign → POST → mark done
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-bench-'))
  const db = openDatabase({ file: path.join(dir, 'gateway.db'), migrations })
  const sealer = new Sealer('bench-secret-0123456789-0123456789', 'webhooks')
  const sinks = new SinkDirectory({ db, sealer })
  const outbox = new Outbox(db, sinks)
  const { WebhookService } = await import('../src/events/webhooks.js')
  const allow = parseCidrList('127.0.0.0/8')
  const client = new DeliveryClient({ allow, timeoutMs: 10_000, connections: CONCURRENCY })
  const worker = new DeliveryWorker({ db, sinks, client, schedule: [1000], perEndpointConcurrency: CONCURRENCY, logger: silentLogger, maxInFlight: 256 })
  const webhooks = new WebhookService({ db, sealer, sinks, outbox, allow, secretGraceMs: 0, instanceExists: () => true, wake: (sink) => worker.wake(sink ? [sink] : undefined) })
  await webhooks.create({ url: receiver.url, events: ['message.inbound'] })
  outbox.onAppended((_e, sinks) => worker.wake(sinks))
  let settled = 0
  let resolveDone!: () => void
  const done = new Promise<void>((r) => (resolveDone = r))
  worker.on('settled', (s) => {
    if (s.status === 'succeeded' && ++settled === DELIVERIES) resolveDone()
  })
  worker.start()
  const data = { text: 'x'.repeat(900) }
  const start = performance.now()
  let appended = 0
  await new Promise<void>((resolve) => {
    // Producers batch the writes of one event-loop tick into one transaction (performance.md); each append is
    // still its own savepoint with its own event and delivery rows.
    const produce = () => {
      db.tx(() => {
        for (let i = 0; i < 200 && appended < DELIVERIES; i++, appended++) {
          outbox.append({ type: 'message.inbound', instanceId: 'inst_bench', tenantId: null, data })
        }
      })
      if (appended < DELIVERIES) setImmediate(produce)
      else resolve()
    }
    produce()
  })
  await done
  const ours = DELIVERIES / ((performance.now() - start) / 1000)
  await worker.stop()
  await client.close()
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  receiver.server.closeAllConnections()
  receiver.server.close()
  console.log(
    `signed durable deliveries: ${ours.toFixed(0)}/s vs bare undici POST loop ${bare.toFixed(0)}/s = ` +
      `${((ours / bare) * 100).toFixed(0)} % (targets ≥ 5,000/s and ≥ 50 %), ${DELIVERIES} deliveries, ${CONCURRENCY} connections`,
  )
}

if (process.env.BENCH_SKIP_THROUGHPUT !== "1") await deliveryThroughput()
await inboundLatency()
process.exit(0)
