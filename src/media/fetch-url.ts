import { request, type Agent, type Dispatcher } from 'undici'
import { AppError } from '../errors.js'
import { isSsrfForbidden } from '../net/ssrf-error.js'
import { filenameFromContentDisposition, filenameFromUrl } from './filename.js'

export interface FetchMediaOptions {
  maxBytes: number
  timeoutMs: number
  /** Must be a guarded agent (src/net/guarded-agent.ts): the URL is user input. */
  agent: Agent
  /** Extra request headers. */
  headers?: Record<string, string>
}

export interface FetchedMedia {
  bytes: Buffer
  contentType?: string
  filename?: string
}

/**
 * Downloads a user-supplied media URL: http(s) only, through the SSRF guard, no redirects, bounded by size
 * (Content-Length and a running count) and by one deadline covering headers and body.
 */
export async function fetchMediaUrl(url: string, opts: FetchMediaOptions): Promise<FetchedMedia> {
  const target = parseHttpUrl(url)
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs)
  let response: Dispatcher.ResponseData | undefined
  try {
    response = await request(target, {
      method: 'GET',
      dispatcher: opts.agent,
      signal: controller.signal,
      headers: { accept: '*/*', 'user-agent': 'wagw-media-fetch', ...opts.headers },
    })
    const { statusCode, headers } = response
    if (statusCode >= 300 && statusCode < 400) {
      throw new AppError('MEDIA_URL_UNREACHABLE', `The media URL answered ${statusCode}; redirects are not followed`, {
        status: statusCode,
      })
    }
    if (statusCode < 200 || statusCode >= 300) {
      throw new AppError('MEDIA_URL_UNREACHABLE', `The media URL answered ${statusCode}`, { status: statusCode })
    }
    const declaredLength = Number(header(headers, 'content-length'))
    if (Number.isFinite(declaredLength) && declaredLength > opts.maxBytes) throw tooLarge(declaredLength, opts.maxBytes)

    const chunks: Buffer[] = []
    let received = 0
    for await (const chunk of response.body) {
      received += (chunk as Buffer).length
      if (received > opts.maxBytes) throw tooLarge(received, opts.maxBytes, 'at least ')
      chunks.push(chunk as Buffer)
    }

    const result: FetchedMedia = { bytes: Buffer.concat(chunks, received) }
    const contentType = header(headers, 'content-type')?.trim().toLowerCase()
    if (contentType) result.contentType = contentType
    const filename = filenameFromContentDisposition(header(headers, 'content-disposition')) ?? filenameFromUrl(target)
    if (filename) result.filename = filename
    return result
  } catch (err) {
    if (err instanceof AppError) throw err
    throw mapFetchError(err, controller.signal.aborted, opts.timeoutMs)
  } finally {
    clearTimeout(timer)
    // Destroying (not draining) frees the connection without reading an oversized or unwanted body; undici then
    // emits an abort error on the body, which nobody else is listening to any more.
    if (response && !response.body.destroyed) response.body.on('error', () => {}).destroy()
  }
}

function parseHttpUrl(url: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new AppError('URL_INVALID', 'data.url is not a valid URL')
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new AppError('URL_INVALID', `data.url must be http(s), not ${parsed.protocol.replace(/:$/, '')}`)
  }
  if (parsed.username || parsed.password) throw new AppError('URL_INVALID', 'data.url must not carry credentials')
  return parsed
}

function mapFetchError(err: unknown, timedOut: boolean, timeoutMs: number): AppError {
  if (isSsrfForbidden(err)) {
    return new AppError('MEDIA_URL_FORBIDDEN', undefined, { reason: (err as Error).message })
  }
  if (timedOut) return new AppError('MEDIA_URL_UNREACHABLE', `The media URL did not answer within ${timeoutMs} ms`)
  const code = (err as { code?: unknown } | null)?.code
  return new AppError('MEDIA_URL_UNREACHABLE', `The media URL could not be fetched: ${(err as Error)?.message ?? String(err)}`, {
    ...(typeof code === 'string' ? { cause: code } : {}),
  })
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

function tooLarge(size: number, limit: number, qualifier = ''): AppError {
  return new AppError('MEDIA_TOO_LARGE', `The media is ${qualifier}${size} bytes; the limit is ${limit}`, { limit })
}
