import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request, type Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EMPTY_CIDR_LIST, parseCidrList } from '../../src/net/cidr.js'
import { createGuardedAgent } from '../../src/net/guarded-agent.js'
import { isSsrfForbidden } from '../../src/net/ssrf-error.js'

let server: Server
let port: number
const agents: Agent[] = []

function agent(allow: string): Agent {
  const a = createGuardedAgent({ allow: allow ? parseCidrList(allow) : EMPTY_CIDR_LIST, connectTimeoutMs: 2000 })
  agents.push(a)
  return a
}

async function get(url: string, dispatcher: Agent): Promise<{ status: number; body: string }> {
  const res = await request(url, { dispatcher })
  return { status: res.statusCode, body: await res.body.text() }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/hello' }).end()
      return
    }
    res.end('hello')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()))
  await new Promise((resolve) => server.close(resolve))
})

describe('createGuardedAgent', () => {
  it('refuses an IP-literal loopback host', async () => {
    const err = await get(`http://127.0.0.1:${port}/`, agent('')).catch((e: unknown) => e)
    expect(isSsrfForbidden(err)).toBe(true)
  })

  it('refuses a name that resolves to loopback (checked at connect time)', async () => {
    const err = await get(`http://localhost:${port}/`, agent('')).catch((e: unknown) => e)
    expect(isSsrfForbidden(err)).toBe(true)
    expect(String(err)).toMatch(/localhost/)
  })

  it('refuses IPv6 and mapped literals', async () => {
    const a = agent('')
    for (const host of ['[::1]', '[::ffff:127.0.0.1]', '169.254.169.254', '0.0.0.0']) {
      const err = await get(`http://${host}:${port}/`, a).catch((e: unknown) => e)
      expect(isSsrfForbidden(err), host).toBe(true)
    }
  })

  it('connects when 127.0.0.0/8 is allowlisted, by address and by name', async () => {
    const a = agent('127.0.0.0/8, ::1/128')
    expect(await get(`http://127.0.0.1:${port}/`, a)).toEqual({ status: 200, body: 'hello' })
    expect(await get(`http://localhost:${port}/`, a)).toEqual({ status: 200, body: 'hello' })
  })

  it('an allowlist for another range does not open loopback', async () => {
    const err = await get(`http://127.0.0.1:${port}/`, agent('10.0.0.0/8')).catch((e: unknown) => e)
    expect(isSsrfForbidden(err)).toBe(true)
  })

  it('caps the response size when asked (webhook deliveries)', async () => {
    const a = createGuardedAgent({ allow: parseCidrList('127.0.0.0/8'), maxResponseSize: 2 })
    agents.push(a)
    await expect(get(`http://127.0.0.1:${port}/`, a)).rejects.toMatchObject({ code: 'UND_ERR_RES_EXCEEDED_MAX_SIZE' })
  })

  it('does not follow redirects', async () => {
    expect(await get(`http://127.0.0.1:${port}/redirect`, agent('127.0.0.0/8'))).toEqual({ status: 302, body: '' })
  })
})
