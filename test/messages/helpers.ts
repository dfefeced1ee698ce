import net from 'node:net'
import { basicAuth, uniquePhone, type Harness, type PairedInstance } from '../helpers/harness.js'
import type { Customer } from '../wasim/index.js'

export interface SendFixture {
  inst: PairedInstance
  auth: { authorization: string }
  customer: Customer
  /** POST /api/v1/message/:type as the instance. */
  send(type: string, body: unknown, headers?: Record<string, string>, query?: string): ReturnType<Harness['request']>
  /** Polls GET /messages/:id until `predicate` holds (the API, not the DB). */
  waitForMessage(id: string, predicate: (m: any) => boolean, timeoutMs?: number): Promise<any>
}

export async function sendFixture(h: Harness, opts: { customerPhone?: string } = {}): Promise<SendFixture> {
  const inst = await h.pairNewInstance()
  const auth = basicAuth(inst.id, inst.token)
  const customer = h.sim.createCustomer({ phone: opts.customerPhone ?? uniquePhone('55449'), pushName: 'Maria' })
  const fixture: SendFixture = {
    inst,
    auth,
    customer,
    send: (type, body, headers = {}, query = '') =>
      h.request('POST', `/api/v1/message/${type}${query}`, body, { ...auth, 'content-type': 'application/json', ...headers }),
    async waitForMessage(id, predicate, timeoutMs = 10_000) {
      const tracker = h.daemon.messaging.tracker
      const deadline = Date.now() + timeoutMs
      for (;;) {
        // Subscribe before reading, so a change between the read and the wait is not missed. No sleeps.
        let wake = () => {}
        const changed = new Promise<void>((resolve) => (wake = resolve))
        tracker.on('change', wake)
        const timer = setTimeout(wake, Math.max(1, deadline - Date.now()))
        try {
          const res = await h.request('GET', `/api/v1/messages/${id}`, undefined, auth)
          if (res.status === 200 && predicate(res.body.data)) return res.body.data
          if (Date.now() >= deadline) throw new Error(`message ${id} never matched; last: ${JSON.stringify(res.body)}`)
          await changed
        } finally {
          clearTimeout(timer)
          tracker.off('change', wake)
        }
      }
    },
  }
  return fixture
}

/** The text of a decrypted message, whichever form the sender used. */
export function textOf(message: { conversation?: string | null; extendedTextMessage?: { text?: string | null } | null }): string | undefined {
  return message.conversation ?? message.extendedTextMessage?.text ?? undefined
}

/** Polls `probe` until it yields a value: for effects no event announces (a file removed). Bounded in time. */
export async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export interface WsGate {
  /** The simulator's WebSocket URL, through the gate: give it to the daemon as WA_WS_URL. */
  url: string
  /** Cuts every connection through the gate and refuses new ones: the daemon's instances stay `connecting`. */
  shut(): void
  open(): void
  stop(): Promise<void>
}

/**
 * A TCP relay between the daemon and the simulator that a test can shut and reopen, to hold an instance in
 * `connecting` for as long as it needs (the daemon keeps reconnecting and failing) without touching the simulator.
 */
export async function wsGate(target: string): Promise<WsGate> {
  const upstream = new URL(target)
  const sockets = new Set<net.Socket>()
  let refusing = false
  const track = (socket: net.Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
  }
  const server = net.createServer((client) => {
    if (refusing) return void client.destroy()
    const sim = net.connect(Number(upstream.port), upstream.hostname)
    track(client)
    track(sim)
    client.pipe(sim).pipe(client)
    client.on('close', () => sim.destroy())
    sim.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = new URL(target)
  url.port = String((server.address() as net.AddressInfo).port)
  const shut = () => {
    refusing = true
    for (const socket of sockets) socket.destroy()
  }
  return {
    url: url.toString(),
    shut,
    open: () => void (refusing = false),
    stop: async () => {
      shut()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
