import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchMediaUrl } from '../../src/media/fetch-url.js'
import { EMPTY_CIDR_LIST, parseCidrList } from '../../src/net/cidr.js'
import { createGuardedAgent } from '../../src/net/guarded-agent.js'

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')
let server: Server
let base: string
let allowed: Agent
let guarded: Agent

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    switch (path) {
      case '/files/photo.png':
        res.writeHead(200, { 'content-type': 'image/png' }).end(PNG)
        return
      case '/download':
        res.writeHead(200, { 'content-disposition': `attachment; filename="x.bin"; filename*=UTF-8''relat%C3%B3rio.pdf` }).end('%PDF-')
        return
      case '/files/two%20words.txt':
        res.end('hi')
        return
      case '/declared-too-large':
        // Says 1 MB, sends a little, then stalls: only the header can have refused it.
        res.writeHead(200, { 'content-length': String(1_000_000) }).write(Buffer.alloc(10))
        return
      case '/streamed-too-large': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        const pump = () => {
          while (!res.destroyed && res.write(Buffer.alloc(4096))) {
            /* keep writing until back-pressure */
          }
          if (!res.destroyed) res.once('drain', pump)
        }
        pump()
        return
      }
      case '/missing':
        res.writeHead(404).end('nope')
        return
      case '/moved':
        res.writeHead(302, { location: '/files/photo.png' }).end()
        return
      case '/hang':
        return // never answers
      default:
        res.writeHead(500).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  allowed = createGuardedAgent({ allow: parseCidrList('127.0.0.0/8') })
  guarded = createGuardedAgent({ allow: EMPTY_CIDR_LIST })
})

afterAll(async () => {
  await Promise.all([allowed.destroy(), guarded.destroy()])
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const opts = (over: Partial<{ maxBytes: number; timeoutMs: number }> = {}) => ({ maxBytes: 1024, timeoutMs: 5000, agent: allowed, ...over })

describe('fetchMediaUrl', () => {
  it('downloads, with the content type and a filename from the URL path', async () => {
    const res = await fetchMediaUrl(`${base}/files/photo.png`, opts())
    expect(res.bytes.equals(PNG)).toBe(true)
    expect(res.contentType).toBe('image/png')
    expect(res.filename).toBe('photo.png')
  })

  it('takes the filename from Content-Disposition, preferring filename*', async () => {
    expect((await fetchMediaUrl(`${base}/download`, opts())).filename).toBe('relatório.pdf')
  })

  it('decodes the URL path filename', async () => {
    expect((await fetchMediaUrl(`${base}/files/two%20words.txt`, opts())).filename).toBe('two words.txt')
  })

  it('refuses early when Content-Length exceeds the limit', async () => {
    await expect(fetchMediaUrl(`${base}/declared-too-large`, opts())).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE', status: 413 })
  })

  it('aborts a body without Content-Length once it passes the limit', async () => {
    await expect(fetchMediaUrl(`${base}/streamed-too-large`, opts({ maxBytes: 10_000 }))).rejects.toMatchObject({
      code: 'MEDIA_TOO_LARGE',
    })
  })

  it('maps 404 to MEDIA_URL_UNREACHABLE', async () => {
    await expect(fetchMediaUrl(`${base}/missing`, opts())).rejects.toMatchObject({
      code: 'MEDIA_URL_UNREACHABLE',
      status: 422,
      details: { status: 404 },
    })
  })

  it('does not follow redirects, and says so', async () => {
    await expect(fetchMediaUrl(`${base}/moved`, opts())).rejects.toMatchObject({
      code: 'MEDIA_URL_UNREACHABLE',
      message: expect.stringMatching(/redirects are not followed/),
    })
  })

  it('gives up after timeoutMs on a server that never answers', async () => {
    await expect(fetchMediaUrl(`${base}/hang`, opts({ timeoutMs: 150 }))).rejects.toMatchObject({
      code: 'MEDIA_URL_UNREACHABLE',
      message: expect.stringMatching(/150 ms/),
    })
  })

  it('refuses loopback without an allowlist: MEDIA_URL_FORBIDDEN', async () => {
    await expect(fetchMediaUrl(`${base}/files/photo.png`, { ...opts(), agent: guarded })).rejects.toMatchObject({
      code: 'MEDIA_URL_FORBIDDEN',
    })
    const byName = base.replace('127.0.0.1', 'localhost')
    await expect(fetchMediaUrl(`${byName}/files/photo.png`, { ...opts(), agent: guarded })).rejects.toMatchObject({
      code: 'MEDIA_URL_FORBIDDEN',
    })
  })

  it('maps a refused connection to MEDIA_URL_UNREACHABLE', async () => {
    await expect(fetchMediaUrl('http://127.0.0.1:1/x', opts())).rejects.toMatchObject({ code: 'MEDIA_URL_UNREACHABLE' })
  })

  it.each(['ftp://example.com/a.png', 'file:///etc/passwd', 'javascript:alert(1)', 'not a url', '//example.com/a', 'http://user:pw@example.com/'])(
    'rejects %s with URL_INVALID',
    async (url) => {
      await expect(fetchMediaUrl(url, opts())).rejects.toMatchObject({ code: 'URL_INVALID', status: 400 })
    },
  )
})
