/**
 * HTTPS media host (doc §6): `media_conn` points clients here; uploads are POSTed to MEDIA_PATH_MAP paths
 * (Utils/messages-media.js:643-705) and stored as the encrypted bytes they are; GET of the returned
 * direct path serves the same bytes. The server never sees plaintext, as on the real service.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { BinaryNode } from '@whiskeysockets/baileys'

const CERT_DIR = fileURLToPath(new URL('./certs/', import.meta.url))
export const MEDIA_CA_PATH = `${CERT_DIR}ca.pem`
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024

export interface MediaServerHooks {
  /** true = refuse this upload with HTTP 500 (the failUploads fault). */
  shouldFailUpload(): boolean
  onUpload(path: string, bytes: number, ok: boolean): void
}

export class MediaServer {
  private readonly blobs = new Map<string, Buffer>()
  private readonly auth = randomBytes(16).toString('base64url')
  private server?: Server
  host = ''

  constructor(private readonly hooks: MediaServerHooks) {}

  async start(): Promise<void> {
    const server = createServer(
      { key: readFileSync(`${CERT_DIR}server-key.pem`), cert: readFileSync(`${CERT_DIR}server.pem`) },
      (req, res) => void this.handle(req, res)
    )
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    this.server = server
    this.host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }

  /** `<media_conn>` answer for `iq xmlns="w:m"` (messages-send.js:38-70); the hostname may carry a port. */
  mediaConnNode(): BinaryNode {
    return {
      tag: 'media_conn',
      attrs: { auth: this.auth, ttl: '300', auth_ttl: '3600', max_buckets: '12' },
      content: [{ tag: 'host', attrs: { hostname: this.host, maxContentLengthBytes: `${MAX_UPLOAD_BYTES}` } }]
    }
  }

  /** Stores encrypted bytes directly (for virtual senders) and returns what an upload would have. */
  put(bytes: Buffer): { url: string; directPath: string } {
    const directPath = `/v/t62.7118-24/wasim-${randomBytes(12).toString('hex')}.enc?ccb=11-4`
    this.blobs.set(pathOnly(directPath), bytes)
    return { url: `https://${this.host}${directPath}`, directPath }
  }

  get(directPath: string): Buffer | undefined {
    return this.blobs.get(pathOnly(directPath))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `https://${this.host}`)
    if (req.method === 'POST' && url.pathname.startsWith('/mms/')) return this.upload(req, res, url)
    if (req.method === 'GET') {
      const blob = this.blobs.get(url.pathname)
      if (!blob) return reply(res, 404, { error: 'not found' })
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length })
      res.end(blob)
      return
    }
    reply(res, 405, { error: 'method not allowed' })
  }

  private async upload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req)
    if (url.searchParams.get('auth') !== this.auth || this.hooks.shouldFailUpload()) {
      this.hooks.onUpload(url.pathname, body.length, false)
      return reply(res, 500, { error: 'upload refused' })
    }
    const { url: mediaUrl, directPath } = this.put(body)
    this.hooks.onUpload(url.pathname, body.length, true)
    reply(res, 200, { url: mediaUrl, direct_path: directPath })
  }
}

function pathOnly(directPath: string): string {
  return directPath.split('?')[0] ?? directPath
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}
