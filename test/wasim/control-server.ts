/**
 * Loopback HTTP/JSON control API over a running simulator (used by `npm run sim`). Routes:
 *   GET  /status                         ws URL, root key, media host, connected devices
 *   POST /phones        {phone,pushName}  create an account played by its phone
 *   GET  /phones/:phone                   linked devices
 *   POST /phones/:phone/scan {qr}         scan a QR shown by a client → {deviceJid}
 *   POST /phones/:phone/pairing-code {code}
 *   POST /phones/:phone/unlink {deviceJid}
 *   POST /phones/:phone/messages {to, text | message}
 *   POST /customers     {phone,pushName,autoReceipt?}
 *   POST /customers/:phone/messages {to, text | message}
 *   POST /customers/:phone/receipts {to, ids, type?}
 *   GET  /customers/:phone/messages       what the customer received (decrypted)
 *   POST /faults        {name, args}      call sim.faults[name](...args)
 *   GET  /devices                         connected devices and every phone's linked devices
 *   GET  /events?since=N                  the event log from index N
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { proto } from '@whiskeysockets/baileys'
import type { AutoReceipt, VirtualUser } from './virtual-user.js'
import type { WaSimulator } from './simulator.js'

type Handler = (sim: WaSimulator, params: string[], body: Record<string, unknown>, query: URLSearchParams) => Promise<unknown> | unknown

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

const FAULTS = new Set([
  'freeze', 'unfreeze', 'freezeNextLogin', 'streamError', 'streamEnd', 'failureNextLogin', 'dropAcks', 'ackError', 'delayReceipts',
  'dropReceipts', 'duplicateNextDelivery', 'corruptNextFrom', 'corruptNextTo', 'failUploads', 'expireQr'
])

const routes: Array<[method: string, pattern: RegExp, handler: Handler]> = [
  ['GET', /^\/status$/, sim => ({ wsUrl: sim.wsUrl, rootPublicKey: sim.rootPublicKeyBase64, mediaHost: sim.mediaHost, connectedDevices: sim.connectedDevices() })],
  ['POST', /^\/phones$/, (sim, _p, body) => describeUser(sim.createPhone({ phone: str(body.phone), pushName: optStr(body.pushName) }))],
  ['GET', /^\/phones\/(\d+)$/, (sim, [n]) => ({ ...describeUser(phoneOf(sim, n)), linkedDevices: phoneOf(sim, n).linkedDevices() })],
  ['POST', /^\/phones\/(\d+)\/scan$/, (sim, [n], body) => phoneOf(sim, n).scanQr(str(body.qr))],
  ['POST', /^\/phones\/(\d+)\/pairing-code$/, (sim, [n], body) => phoneOf(sim, n).enterPairingCode(str(body.code))],
  ['POST', /^\/phones\/(\d+)\/unlink$/, async (sim, [n], body) => (await phoneOf(sim, n).unlink(str(body.deviceJid)), { ok: true })],
  ['POST', /^\/phones\/(\d+)\/messages$/, (sim, [n], body) => send(phoneOf(sim, n), body)],
  ['POST', /^\/customers$/, (sim, _p, body) => {
    const customer = sim.createCustomer({ phone: str(body.phone), pushName: optStr(body.pushName) })
    if (body.autoReceipt) customer.autoReceipt = str(body.autoReceipt) as AutoReceipt
    return describeUser(customer)
  }],
  ['POST', /^\/customers\/(\d+)\/messages$/, (sim, [n], body) => send(customerOf(sim, n), body)],
  ['GET', /^\/customers\/(\d+)\/messages$/, (sim, [n]) => customerOf(sim, n).received.map(m => ({ ...m, message: proto.Message.toObject(proto.Message.fromObject(m.message), { longs: Number, bytes: String }) }))],
  ['POST', /^\/customers\/(\d+)\/receipts$/, async (sim, [n], body) => {
    await customerOf(sim, n).sendReceipt(str(body.to), (body.ids as string[]) ?? [], optStr(body.type) as 'read' | 'played' | undefined)
    return { ok: true }
  }],
  ['POST', /^\/faults$/, (sim, _p, body) => {
    const name = str(body.name)
    if (!FAULTS.has(name)) throw new HttpError(400, `unknown fault ${name}`)
    const args = Array.isArray(body.args) ? body.args : []
    ;(sim.faults[name as keyof typeof sim.faults] as (...a: unknown[]) => void)(...args)
    return { ok: true }
  }],
  ['GET', /^\/devices$/, sim => ({ connected: sim.connectedDevices(), linked: Object.fromEntries(sim.listPhones().map(p => [p.phone, p.linkedDevices()])) })],
  ['GET', /^\/events$/, (sim, _p, _b, query) => sim.eventLog.slice(Number(query.get('since') ?? 0))]
]

export class ControlServer {
  private server?: Server
  url = ''

  constructor(private readonly sim: WaSimulator) {}

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    this.server = server
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url)
    try {
      const route = routes.find(([method, pattern]) => method === req.method && pattern.test(url.pathname))
      if (!route) throw new HttpError(404, `no route ${req.method} ${url.pathname}`)
      const params = route[1].exec(url.pathname)?.slice(1) ?? []
      const body = req.method === 'POST' ? await readJson(req) : {}
      reply(res, 200, (await route[2](this.sim, params, body, url.searchParams)) ?? { ok: true })
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 400
      reply(res, status, { error: error instanceof Error ? error.message : String(error) })
    }
  }
}

function describeUser(user: VirtualUser): { phone: string; lid: string; jid: string } {
  return { phone: user.phone, lid: user.lid, jid: user.jid }
}

function phoneOf(sim: WaSimulator, n: string | undefined) {
  const phone = sim.phone(n ?? '')
  if (!phone) throw new HttpError(404, `no phone ${n}`)
  return phone
}

function customerOf(sim: WaSimulator, n: string | undefined) {
  const customer = sim.customer(n ?? '')
  if (!customer) throw new HttpError(404, `no customer ${n}`)
  return customer
}

function send(user: VirtualUser, body: Record<string, unknown>): Promise<{ id: string }> {
  const to = str(body.to)
  if (typeof body.text === 'string') return user.sendText(to, body.text)
  if (body.message && typeof body.message === 'object') return user.sendMessage(to, proto.Message.fromObject(body.message))
  throw new HttpError(400, 'need text or message')
}

function str(value: unknown): string {
  if (typeof value !== 'string' || !value) throw new HttpError(400, 'missing string field')
  return value
}

function optStr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString()
  if (!text) return {}
  const parsed: unknown = JSON.parse(text)
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'body must be a JSON object')
  return parsed as Record<string, unknown>
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}
