import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, testEnv } from '../helpers/harness.js'
import { TestReceiver } from '../helpers/receiver.js'
import { WaSimulator, type Customer, type Phone } from '../wasim/index.js'

const TOTAL = 1000
const KILL_AFTER = 250

/** A daemon as a child process (pino test/exit.test.js style), so SIGKILL is a real crash. */
class DaemonProcess {
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()

  constructor(
    private readonly env: Record<string, string>,
    readonly base: string,
  ) {}

  /** Resolves when the daemon logs that it listens (stdout is JSON lines at LOG_LEVEL=info). */
  start(): Promise<void> {
    // tsx runs the script in a child node process and cannot relay SIGKILL: the daemon gets its own process group
    // and the signal goes to the whole group.
    const child = spawn('node_modules/.bin/tsx', ['--import', './test/wasim/trust-preload.ts', 'src/main.ts'], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    this.child = child
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    return new Promise((resolve, reject) => {
      let buffered = ''
      child.stdout?.on('data', (d: Buffer) => {
        buffered += d.toString()
        if (buffered.includes('"gateway listening"')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`daemon exited (${code}) before listening: ${stderr.slice(-2000)}`)))
    })
  }

  async kill9(): Promise<void> {
    await this.signal('SIGKILL')
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM')
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const pid = this.child?.pid
    if (pid === undefined || this.child?.exitCode !== null || this.child?.signalCode !== null) return
    try {
      process.kill(-pid, signal)
    } catch {
      // already gone
    }
    await this.exited
  }

  async api(method: string, url: string, body?: unknown): Promise<any> {
    const res = await fetch(`${this.base}${url}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    const json = (await res.json()) as { data: unknown }
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`)
    return json.data
  }

  /** Reads the instance's SSE stream until `predicate` accepts an event. */
  async waitForSse(instanceId: string, predicate: (event: string, data: any) => boolean, timeoutMs = 20_000): Promise<any> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), timeoutMs)
    try {
      const res = await fetch(`${this.base}/api/v1/instances/${instanceId}/events`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        signal: controller.signal,
      })
      const decoder = new TextDecoder()
      let text = ''
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end)
          text = text.slice(end + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event && data && predicate(event, JSON.parse(data))) return JSON.parse(data)
        }
      }
      throw new Error('event stream ended')
    } finally {
      clearTimeout(timer)
      controller.abort()
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

describe('kill -9 while 1,000 inbound messages stream in', () => {
  let sim: WaSimulator
  let daemon: DaemonProcess
  let receiver: TestReceiver
  let phone: Phone
  let customers: Customer[]
  let dir: string

  beforeAll(async () => {
    sim = await WaSimulator.start()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-crash-'))
    const port = await freePort()
    daemon = new DaemonProcess(
      {
        ...testEnv(sim, dir, { PORT: String(port), LOG_LEVEL: 'info', WEBHOOK_RETRY_SCHEDULE_MS: '50,100,200,400', WEBHOOK_TIMEOUT_MS: '2000' }),
        WASIM_ROOT_PUBLIC_KEY: sim.rootPublicKeyBase64,
        NODE_EXTRA_CA_CERTS: sim.mediaCaPath,
      },
      `http://127.0.0.1:${port}`,
    )
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
    await daemon.start()
    const instance = await daemon.api('POST', '/api/v1/instances', { name: 'crash' })
    const qr = await daemon.waitForSse(instance.id, (event) => event === 'qr')
    const connected = daemon.waitForSse(instance.id, (event, data) => event === 'status' && data.to === 'connected')
    await phone.scanQr(qr.qr)
    await connected
    await daemon.api('POST', '/api/v1/webhooks', { url: receiver.url, events: ['message.inbound'], instance_id: instance.id })

    const sent: string[] = []
    let deliveredAtKill = -1
    const killing = receiver.waitForCount(KILL_AFTER, () => true, 25_000).then(async () => {
      await daemon.kill9()
      deliveredAtKill = new Set(receiver.requests.map((r) => r.json?.data?.wa_message_id)).size
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
    await daemon.start()

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
