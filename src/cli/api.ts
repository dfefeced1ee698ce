import { request } from 'undici'

/** An error answer of the daemon's API, with the stable code from its envelope. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export type Credentials = { kind: 'bearer'; token: string } | { kind: 'basic'; user: string; token: string }

export interface SseEvent {
  event: string
  data: unknown
}

/** A thin client of the daemon's REST API: JSON in, the envelope's `data` out, ApiError on any error answer. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly credentials: Credentials | undefined,
  ) {}

  async call<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let res
    try {
      res = await request(`${this.baseUrl}${path}`, {
        method,
        headers: { ...this.authHeader(), accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
    } catch (err) {
      throw new ApiError(0, 'CONNECTION_FAILED', `cannot reach ${this.baseUrl}: ${(err as Error).message}`)
    }
    const text = await res.body.text()
    const json = parseJson(text) as { data?: unknown; errors?: { code: string; message: string }[] | null } | undefined
    if (res.statusCode >= 400) {
      const first = json?.errors?.[0]
      throw new ApiError(res.statusCode, first?.code ?? `HTTP_${res.statusCode}`, first?.message ?? (text.slice(0, 200) || `HTTP ${res.statusCode}`))
    }
    // Send answers carry message_id/status at the top level (Connexa); everything else is in the envelope's data.
    return (json && 'message_id' in json ? json : json?.data) as T
  }

  /** Reads a Server-Sent Events stream until the server ends it or `signal` aborts. */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<SseEvent> {
    let res
    try {
      res = await request(`${this.baseUrl}${path}`, { method: 'GET', headers: { ...this.authHeader(), accept: 'text/event-stream' }, ...(signal ? { signal } : {}) })
    } catch (err) {
      if (signal?.aborted) return
      throw new ApiError(0, 'CONNECTION_FAILED', `cannot reach ${this.baseUrl}: ${(err as Error).message}`)
    }
    if (res.statusCode >= 400) {
      const json = parseJson(await res.body.text()) as { errors?: { code: string; message: string }[] } | undefined
      const first = json?.errors?.[0]
      throw new ApiError(res.statusCode, first?.code ?? `HTTP_${res.statusCode}`, first?.message ?? `HTTP ${res.statusCode}`)
    }
    let buffer = ''
    try {
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString('utf8')
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: ?(.*)$/m.exec(block)?.[1]
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.replace(/^data: ?/, ''))
            .join('\n')
          if (event && data) yield { event, data: parseJson(data) ?? data }
        }
      }
    } catch (err) {
      if (signal?.aborted) return
      throw err
    }
  }

  private authHeader(): Record<string, string> {
    const c = this.credentials
    if (!c) return {}
    if (c.kind === 'bearer') return { authorization: `Bearer ${c.token}` }
    return { authorization: `Basic ${Buffer.from(`${c.user}:${c.token}`).toString('base64')}` }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
