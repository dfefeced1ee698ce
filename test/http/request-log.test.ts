import { Writable } from 'node:stream'
import Fastify from 'fastify'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { requestId } from '../../src/http/request-id.js'
import { installRequestLogging } from '../../src/http/request-log.js'

function loggedApp() {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) }))
  let children = 0
  const child = logger.child.bind(logger)
  logger.child = ((...args: Parameters<typeof child>) => (children++, child(...args))) as typeof logger.child
  const app = Fastify({ loggerInstance: logger, disableRequestLogging: true, genReqId: requestId })
  installRequestLogging(app, logger)
  app.get('/quiet', async () => ({ ok: true }))
  app.get('/noisy', async (request) => {
    request.log.warn('careful')
    return { ok: true }
  })
  return { app, lines, children: () => children }
}

describe('request logging', () => {
  it('writes one line per request with its id, and builds no per-request logger for a request that logs nothing', async () => {
    const { app, lines, children } = loggedApp()
    await app.ready()
    const before = children()
    const res = await app.inject({ method: 'GET', url: '/quiet?sig=secret' })
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'request completed', reqId: res.headers['x-request-id'] ?? expect.any(String), method: 'GET', url: '/quiet', statusCode: 200 }),
    ])
    expect(JSON.stringify(lines)).not.toContain('secret')
    expect(children()).toBe(before)
    await app.close()
  })

  it('a request that logs does so through a logger bound to its id', async () => {
    const { app, lines } = loggedApp()
    await app.inject({ method: 'GET', url: '/noisy', headers: { 'x-request-id': 'req-42' } })
    expect(lines.map((l) => [l.msg, l.reqId])).toEqual([
      ['careful', 'req-42'],
      ['request completed', 'req-42'],
    ])
    await app.close()
  })
})
