import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

export interface ReceivedRequest {
  n: number
  path: string
  headers: Record<string, string>
  raw: Buffer
  json: any
  at: number
}

/**
 * What the receiver answers, in order; after the queue runs out, `fallback`. `hang` never answers; `body` replaces
 * the default `ok`; `hold` sends the status line and the body but never ends the response.
 */
export type Behaviour = number | { status: number; headers?: Record<string, string>; body?: string; hold?: boolean } | 'hang'

/**
 * A local webhook receiver in the style of svix's TestReceiver: records every request with its raw body, answers from
 * a programmable queue (fail N times, then recover; hang; 410 …), and lets tests wait for requests instead of
 * sleeping.
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = []
  url = ''
  fallback: Behaviour = 200
  private queue: Behaviour[] = []
  private readonly waiters = new Set<() => void>()
  private readonly hanging = new Set<ServerResponse>()

  private accepted = 0

  private constructor(private readonly server: Server) {
    server.on('connection', () => this.accepted++)
  }

  /** TCP connections accepted so far (a client that reuses its connection opens one). */
  get connections(): number {
    return this.accepted
  }

  static async start(): Promise<TestReceiver> {
    let receiver!: TestReceiver
    const server = createServer((req, res) => receiver.handle(req, res))
    receiver = new TestReceiver(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    return receiver
  }

  respondWith(...behaviours: Behaviour[]): this {
    this.queue.push(...behaviours)
    return this
  }

  /** Resolves with the first recorded request matching `predicate` (past or future). */
  waitFor(predicate: (r: ReceivedRequest) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedRequest> {
    return this.waitUntil(() => this.requests.find(predicate), timeoutMs, 'a matching request')
  }

  /** Resolves once at least `count` recorded requests match `predicate`. */
  async waitForCount(count: number, predicate: (r: ReceivedRequest) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    return this.waitUntil(
      () => {
        const matching = this.requests.filter(predicate)
        return matching.length >= count ? matching : undefined
      },
      timeoutMs,
      `${count} matching requests`,
    )
  }

  /** Resolves with every request once the requests' keys cover all of `wanted`. */
  waitUntilDistinct(key: (r: ReceivedRequest) => string | undefined, wanted: ReadonlySet<string>, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    return this.waitUntil(
      () => {
        const seen = new Set(this.requests.map(key))
        for (const w of wanted) if (!seen.has(w)) return undefined
        return [...this.requests]
      },
      timeoutMs,
      `requests covering ${wanted.size} keys`,
    )
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private waitUntil<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const found = probe()
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = probe()
        if (value === undefined) return
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve(value)
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`receiver: no ${what} within ${timeoutMs} ms (got ${this.requests.length} requests)`))
      }, timeoutMs)
      this.waiters.add(check)
    })
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      let json: unknown
      try {
        json = JSON.parse(raw.toString('utf8'))
      } catch {
        json = undefined
      }
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v
      const behaviour = this.queue.shift() ?? this.fallback
      this.requests.push({ n: this.requests.length + 1, path: req.url ?? '', headers, raw, json, at: Date.now() })
      const answer = behaviour === 'hang' ? undefined : typeof behaviour === 'number' ? { status: behaviour } : behaviour
      if (answer) res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers })
      if (!answer || answer.hold) {
        if (answer) res.write(answer.body ?? 'ok')
        this.hanging.add(res)
        res.on('close', () => this.hanging.delete(res))
      } else {
        res.end(answer.body ?? 'ok')
      }
      for (const check of [...this.waiters]) check()
    })
  }
}

/** Plixa's receiver recipe: HMAC-SHA256 of the raw body with the secret, hex, compared in constant time. */
export function verifyPlixaSignature(req: ReceivedRequest, secret: string): boolean {
  const header = req.headers['x-plixa-signature'] ?? ''
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(req.raw).digest('hex')}`)
  return header.split(' ').some((candidate) => {
    const given = Buffer.from(candidate)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

/**
 * The published Standard Webhooks verifier; throws when the signature does not verify. A `whsec_` secret is given
 * as is; any other secret (a tenant's core secret) is used as its UTF-8 bytes, which is how the gateway signs
 * (the library takes such a key as base64).
 */
export function verifyStandardWebhook(req: ReceivedRequest, secret: string): unknown {
  return new Webhook(secret.startsWith('whsec_') ? secret : Buffer.from(secret, 'utf8').toString('base64')).verify(req.raw, {
    'webhook-id': req.headers['webhook-id'] ?? '',
    'webhook-timestamp': req.headers['webhook-timestamp'] ?? '',
    'webhook-signature': req.headers['webhook-signature'] ?? '',
  })
}
