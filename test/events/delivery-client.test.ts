import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DeliveryClient } from '../../src/events/delivery-client.js'
import { EMPTY_CIDR_LIST, parseCidrList } from '../../src/net/cidr.js'
import { TestReceiver } from '../helpers/receiver.js'

describe('DeliveryClient (one pool per origin)', () => {
  let a: TestReceiver
  let b: TestReceiver
  beforeAll(async () => {
    ;[a, b] = await Promise.all([TestReceiver.start(), TestReceiver.start()])
    a.fallback = 204
    b.fallback = 410
  })
  afterAll(async () => {
    await Promise.all([a.close(), b.close()])
  })

  const body = Buffer.from('{"id":"evt_1"}')
  // A query string, so the path the client sends keeps it.
  const post = (client: DeliveryClient, url: string) => client.post(`${url}?x=1`, body, { 'content-type': 'application/json' })

  it('posts to each origin, and an origin whose pool was retired past maxOrigins gets a new one', async () => {
    const client = new DeliveryClient({ allow: parseCidrList('127.0.0.0/8'), timeoutMs: 5_000, connections: 2, maxOrigins: 1 })
    try {
      expect((await post(client, a.url)).status).toBe(204)
      expect((await post(client, b.url)).status).toBe(410) // retires a's pool
      expect((await post(client, a.url)).status).toBe(204) // and a gets a new one
      expect([a.requests.length, b.requests.length]).toEqual([2, 1])
    } finally {
      await client.close()
    }
  })

  it('refuses an origin the allowlist does not open, at connect time', async () => {
    const client = new DeliveryClient({ allow: EMPTY_CIDR_LIST, timeoutMs: 5_000, connections: 2 })
    try {
      const before = a.requests.length
      expect(await post(client, a.url)).toMatchObject({ error: 'forbidden' })
      expect(a.requests.length).toBe(before)
    } finally {
      await client.close()
    }
  })
})

describe('DeliveryClient answers', () => {
  const body = Buffer.from('{"id":"evt_1"}')
  const newClient = (timeoutMs = 5_000) =>
    new DeliveryClient({ allow: parseCidrList('127.0.0.0/8'), timeoutMs, connections: 1, maxResponseBytes: 1024 })
  let rx: TestReceiver
  let client: DeliveryClient
  afterEach(async () => {
    await client.close()
    await rx.close()
  })

  it('drains a small body and reuses the connection; past the cap it keeps the status and closes the connection', async () => {
    rx = (await TestReceiver.start()).respondWith(
      { status: 200, body: 'x'.repeat(10) },
      { status: 200, body: 'x'.repeat(10) },
      { status: 200, body: 'x'.repeat(100_000) },
      { status: 200, body: 'x'.repeat(10) },
    )
    client = newClient()
    for (let i = 0; i < 2; i++) expect(await client.post(rx.url, body, {})).toMatchObject({ status: 200 })
    expect(rx.connections).toBe(1)
    expect(await client.post(rx.url, body, {})).toMatchObject({ status: 200 })
    expect(await client.post(rx.url, body, {})).toMatchObject({ status: 200 })
    expect(rx.connections).toBe(2)
  })

  it('reads Retry-After, and answers a redirect as it is without following it', async () => {
    rx = (await TestReceiver.start()).respondWith({ status: 503, headers: { 'Retry-After': '7' } }, { status: 302, headers: { Location: '/elsewhere' } })
    client = newClient()
    expect(await client.post(rx.url, body, {})).toMatchObject({ status: 503, retryAfterMs: 7000 })
    const redirected = await client.post(`${rx.url}/moved`, body, {})
    expect(redirected).toMatchObject({ status: 302 })
    expect(redirected.retryAfterMs).toBeUndefined()
    expect(rx.requests.map((r) => r.path)).toEqual(['/hook', '/hook/moved'])
  })

  it('times out a receiver that never answers, but keeps the status of one whose body never ends', async () => {
    rx = (await TestReceiver.start()).respondWith('hang', { status: 200, headers: { 'content-length': '100' }, body: 'partial', hold: true })
    client = newClient(300)
    expect(await client.post(rx.url, body, {})).toMatchObject({ error: 'timeout' })
    expect(await client.post(rx.url, body, {})).toMatchObject({ status: 200 })
  })
})
