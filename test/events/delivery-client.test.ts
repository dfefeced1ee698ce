import { createServer, type Server } from 'node:http'
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
