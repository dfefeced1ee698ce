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
