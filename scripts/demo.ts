/**
 * `npm run demo`: the whole gateway end to end on one machine, no phone needed. Starts the WhatsApp simulator,
 * runs the real daemon (bundled, as `npm start` runs it) as a child process against it, pairs an instance with a simulated phone,
 * registers a local webhook receiver, sends a message each way, prints every step, then cleans up and exits 0.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import QRCode from 'qrcode'
import { ApiClient, ApiError } from '../src/cli/api.js'
import { connectedAs, type InstanceView } from '../src/cli/format.js'
import { spawnDaemon, type ChildDaemon } from '../test/helpers/child-daemon.js'
import { WaSimulator } from '../test/wasim/index.js'

const STEP_TIMEOUT_MS = 20_000
// The in-process simulator's libsignal talks on console.* (session notices with key material); the demo's own
// output goes straight to the streams, so muting console keeps the story readable.
const say = (text: string) => process.stdout.write(`${text}\n`)
for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) console[method] = () => {}
const color = process.stdout.isTTY && !process.env.NO_COLOR
const paint = (code: string) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text)
const bold = paint('1')
const dim = paint('2')
const green = paint('32')
const yellow = paint('33')
const cyan = paint('36')

let stepNo = 0
const TOTAL_STEPS = 7
function step(title: string): void {
  stepNo += 1
  say(`\n${bold(`[${stepNo}/${TOTAL_STEPS}]`)} ${bold(title)}`)
}
const ok = (text: string) => say(`  ${green('✔')} ${text}`)
const info = (text: string) => say(`  ${dim('·')} ${text}`)
const warn = (text: string) => say(`  ${yellow('!')} ${text}`)

interface ReceivedEvent {
  type: string
  data: Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- event payloads are free-form
  signatureValid: boolean
}

/** A webhook receiver on loopback that checks the Plixa signature of every delivery. */
class WebhookReceiver extends EventEmitter<{ event: [ReceivedEvent] }> {
  readonly received: ReceivedEvent[] = []
  secret = ''
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const expected = `sha256=${createHmac('sha256', this.secret).update(body).digest('hex')}`
      const given = String(req.headers['x-plixa-signature'] ?? '').split(' ')
      const parsed = JSON.parse(body.toString('utf8')) as { type: string; data: Record<string, unknown> }
      const event = { type: parsed.type, data: parsed.data, signatureValid: given.includes(expected) }
      this.received.push(event)
      res.writeHead(204).end()
      this.emit('event', event)
    })
  })

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/plixa`
  }

  waitFor(predicate: (e: ReceivedEvent) => boolean, what: string): Promise<ReceivedEvent> {
    const seen = this.received.find(predicate)
    if (seen) return Promise.resolve(seen)
    return withTimeout(
      new Promise((resolve) => {
        const listener = (e: ReceivedEvent) => {
          if (!predicate(e)) return
          this.off('event', listener)
          resolve(e)
        }
        this.on('event', listener)
      }),
      what,
    )
  }

  close(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-demo-'))
  const adminToken = `demo-admin-${randomBytes(12).toString('hex')}`
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => fs.rmSync(dir, { recursive: true, force: true })]
  const stream = new AbortController()
  cleanups.push(() => stream.abort())
  try {
    say(bold('Plixa WhatsApp gateway: a guided demo against the built-in WhatsApp simulator'))

    step('Starting the WhatsApp Web simulator')
    const sim = await WaSimulator.start({ port: 0 })
    cleanups.push(() => sim.stop())
    ok(`simulator listening at ${cyan(sim.wsUrl)}`)

    step('Starting the gateway daemon against it')
    const daemon: ChildDaemon = await withTimeout(spawnDaemon(
      {
        DATA_DIR: path.join(dir, 'data'),
        SESSIONS_DIR: path.join(dir, 'sessions'),
        GATEWAY_ADMIN_TOKEN: adminToken,
        GATEWAY_SECRET_KEY: randomBytes(32).toString('base64'),
        WA_WS_URL: sim.wsUrl,
        PORT: '0',
        HOST: '127.0.0.1',
        // JSON logs go to the spawner (it waits for "gateway listening"), not to this terminal.
        LOG_LEVEL: 'info',
        // The demo's webhook receiver listens on loopback, which webhooks refuse unless allowed.
        ALLOW_PRIVATE_WEBHOOK_CIDRS: '127.0.0.0/8',
      },
      sim.rootPublicKeyBase64,
    ), 'the daemon to listen')
    cleanups.push(() => daemon.stop())
    ok(`daemon listening at ${cyan(daemon.baseUrl)} (pid ${daemon.process.pid})`)
    info(`API reference: ${daemon.baseUrl}/docs · metrics: ${daemon.baseUrl}/metrics`)
    const admin = new ApiClient(daemon.baseUrl, { kind: 'bearer', token: adminToken })

    step('Creating an instance and pairing it with a simulated phone')
    const created = await admin.call<InstanceView & { token: string }>('POST', '/api/v1/instances', { name: 'Demo desk' })
    ok(`created ${bold(created.id)}, status ${created.status}; instance token ${dim(created.token)}`)
    const link = await admin.call<{ url: string }>('POST', `/api/v1/instances/${created.id}/pairing-link`)
    info(`pairing page (what a person would open): ${link.url}`)
    const phone = sim.createPhone({ phone: '5511999990001', pushName: 'Acme Support' })
    const connected = await withTimeout(
      (async () => {
        for await (const { event, data } of admin.events(`/api/v1/instances/${created.id}/events`, stream.signal)) {
          if (event === 'qr') {
            const qr = (data as { qr: string }).qr
            // qrcode's terminal renderer always emits colour codes: only worth it on a terminal.
            if (process.stdout.isTTY) say((await QRCode.toString(qr, { type: 'terminal', small: true })).replace(/^/gm, '    '))
            ok('QR received over the live event stream; the simulated phone scans it')
            void phone.scanQr(qr)
          }
          if (event === 'status') {
            const change = data as { to: string; reason: string; instance: InstanceView }
            info(`status → ${change.to} (${change.reason})`)
            if (change.to === 'connected') return change.instance
          }
        }
        throw new Error('event stream ended before the instance connected')
      })(),
      'the phone to link',
    )
    ok(green(connectedAs(connected)))

    step('Registering a local webhook receiver')
    const receiver = new WebhookReceiver()
    cleanups.push(() => receiver.close())
    const hookUrl = await receiver.start()
    let webhooks = false
    try {
      const hook = await admin.call<{ id: string; secret: string }>('POST', '/api/v1/webhooks', { url: hookUrl, events: ['*'] })
      receiver.secret = hook.secret
      webhooks = true
      ok(`webhook ${hook.id} → ${cyan(hookUrl)} for every event (signed with a secret shown once)`)
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err
      warn('this build has no webhook API yet (POST /api/v1/webhooks answered 404): events will be read from the message history instead')
    }

    step('Sending a message through the API to a simulated customer')
    const customer = sim.createCustomer({ phone: '5544998765432', pushName: 'Maria' })
    const instance = new ApiClient(daemon.baseUrl, { kind: 'basic', user: created.id, token: created.token })
    const text = 'Hello Maria, your order #1042 has shipped!'
    info(`POST /api/v1/message/text {"phone":"${customer.phone}","data":{"text":"${text}"}}  (Basic auth, instance token)`)
    const sent = await instance.call<{ message_id: string; status: string; wa_message_id: string }>('POST', '/api/v1/message/text', {
      phone: customer.phone,
      data: { text },
    })
    ok(`answered ${sent.status}: message_id ${bold(sent.message_id)}`)
    const got = await customer.waitForMessage((m) => m.id === sent.wa_message_id, STEP_TIMEOUT_MS)
    ok(`Maria's phone received: "${got.message?.conversation ?? got.message?.extendedTextMessage?.text}"`)
    if (webhooks) {
      const status = await receiver.waitFor((e) => e.type === 'message.status' && e.data.message_id === sent.message_id, 'a message.status webhook')
      ok(`webhook message.status: ${status.data.status}${status.signatureValid ? ' (signature verified)' : ' (SIGNATURE MISMATCH)'}`)
    }

    step('The customer answers: customer → WhatsApp → gateway → webhook')
    const reply = 'Great, thanks! Can I pick it up today?'
    await customer.sendText(phone.phone, reply)
    info(`Maria typed: "${reply}"`)
    if (webhooks) {
      const inbound = await receiver.waitFor((e) => e.type === 'message.inbound' && e.data.text === reply, 'a message.inbound webhook')
      ok(`webhook message.inbound from +${inbound.data.phone} (${inbound.data.push_name ?? 'unknown'}): "${inbound.data.text}"`)
      if (!inbound.signatureValid) throw new Error('the inbound webhook signature did not verify')
      ok('X-Plixa-Signature verified with the webhook secret')
    } else {
      const inbound = await withTimeout(pollInbound(admin, created.id, reply), 'the inbound message in the history')
      ok(`message history has it: ${inbound.message_id} from +${inbound.phone}`)
    }

    step('Cleaning up')
    const exitCode = await daemon.stop()
    ok(`daemon stopped gracefully (exit ${exitCode})`)
    say(`\n${green(bold('Demo complete.'))} Run it for real: ${bold('npm start')}, then ${bold('npx wagw instances create')} and ${bold('npx wagw qr <id>')}.`)
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup()
      } catch {
        // best effort: the demo is over either way
      }
    }
  }
}

/** Without webhooks the only window on inbound messages is the history: poll it briefly. */
async function pollInbound(admin: ApiClient, instanceId: string, text: string): Promise<{ message_id: string; phone: string }> {
  for (;;) {
    const page = await admin.call<{ message_id: string; phone: string; text: string | null }[]>('GET', `/api/v1/messages?direction=inbound&instance_id=${instanceId}`)
    const found = page.find((m) => m.text === text)
    if (found) return found
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`\n${bold('Demo failed:')} ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
