import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DeliveryClient } from '../../src/events/delivery-client.js'
import { EMPTY_CIDR_LIST, parseCidrList } from '../../src/net/cidr.js'

/** A receiver that counts the POSTs it got and answers `status`. */
async function receiver(status: number): Promise<{ url: string; posts: () => number; close: () => Promise<void> }> {
  let posts = 0
  const server: Server = createServer((req, res) => {
    req.resume().on('end', () => {
      posts++
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook?x=1`,
    posts: () => posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('DeliveryClient (one pool per origin)', () => {
  let a: Awaited<ReturnType<typeof receiver>>
  let b: Awaited<ReturnType<typeof receiver>>
  beforeAll(async () => {
    ;[a, b] = await Promise.all([receiver(204), receiver(410)])
  })
  afterAll(async () => {
    await Promise.all([a.close(), b.close()])
  })

  const body = Buffer.from('{"id":"evt_1"}')
  const post = (client: DeliveryClient, url: string) => client.post(url, body, { 'content-type': 'application/json' })

  it('posts to each origin, and an origin whose pool was retired past maxOrigins gets a new one', async () => {
    const client = new DeliveryClient({ allow: parseCidrList('127.0.0.0/8'), timeoutMs: 5_000, connections: 2, maxOrigins: 1 })
    try {
      expect((await post(client, a.url)).status).toBe(204)
      expect((await post(client, b.url)).status).toBe(410) // retires a's pool
      expect((await post(client, a.url)).status).toBe(204) // and a gets a new one
      expect([a.posts(), b.posts()]).toEqual([2, 1])
    } finally {
      await client.close()
    }
  })

  it('refuses an origin the allowlist does not open, at connect time', async () => {
    const client = new DeliveryClient({ allow: EMPTY_CIDR_LIST, timeoutMs: 5_000, connections: 2 })
    try {
      const before = a.posts()
      expect(await post(client, a.url)).toMatchObject({ error: 'forbidden' })
      expect(a.posts()).toBe(before)
    } finally {
      await client.close()
    }
  })
})

/** A receiver whose answers the test writes; counts the connections it accepted. */
async function scriptedReceiver(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  let connections = 0
  const server = createServer((req, res) => req.resume().on('end', () => handle(req, res)))
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    connections: () => connections,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('DeliveryClient answers', () => {
  const body = Buffer.from('{"id":"evt_1"}')
  const newClient = (timeoutMs = 5_000) =>
    new DeliveryClient({ allow: parseCidrList('127.0.0.0/8'), timeoutMs, connections: 1, maxResponseBytes: 1024 })

  it('drains a small body and reuses the connection; past the cap it keeps the status and closes the connection', async () => {
    const sizes = [10, 10, 100_000, 10]
    const rx = await scriptedReceiver((_req, res) => res.writeHead(200).end('x'.repeat(sizes.shift() ?? 0)))
    const client = newClient()
    try {
      for (let i = 0; i < 2; i++) expect(await client.post(rx.url, body, {})).toMatchObject({ status: 200 })
      expect(rx.connections()).toBe(1)
      expect(await client.post(rx.url, body, {})).toMatchObject({ status: 200 })
      expect(await client.post(rx.url, body, {})).toMatchObject({ status: 200 })
      expect(rx.connections()).toBe(2)
    } finally {
      await client.close()
      await rx.close()
    }
  })

  it('reads Retry-After, and answers a redirect as it is without following it', async () => {
    const seen: string[] = []
    const rx = await scriptedReceiver((req, res) => {
      seen.push(req.url ?? '')
      if (req.url === '/hook') res.writeHead(503, { 'Retry-After': '7' }).end()
      else res.writeHead(302, { Location: '/elsewhere' }).end()
    })
    const client = newClient()
    try {
      expect(await client.post(rx.url, body, {})).toMatchObject({ status: 503, retryAfterMs: 7000 })
      const redirected = await client.post(`${rx.url}/moved`, body, {})
      expect(redirected).toMatchObject({ status: 302 })
      expect(redirected.retryAfterMs).toBeUndefined()
      expect(seen).toEqual(['/hook', '/hook/moved'])
    } finally {
      await client.close()
      await rx.close()
    }
  })

  it('times out a receiver that never answers, but keeps the status of one whose body never ends', async () => {
    const rx = await scriptedReceiver((req, res) => {
      if (req.url === '/hook') return // never answers
      res.writeHead(200, { 'content-length': '100' }).write('partial')
    })
    const client = newClient(300)
    try {
      expect(await client.post(rx.url, body, {})).toMatchObject({ error: 'timeout' })
      expect(await client.post(`${rx.url}/drip`, body, {})).toMatchObject({ status: 200 })
    } finally {
      await client.close()
      await rx.close()
    }
  })
})

