import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'

// A caller's id is kept only when it is short and plain, so it can't smuggle newlines or megabytes into the logs.
const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/

/** Fastify's genReqId: the caller's `x-request-id` when acceptable, else a fresh UUID. */
export function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && ACCEPTABLE.test(given) ? given : randomUUID()
}

/** Echoes the request id on every answer, errors included, so a client can quote it when reporting a problem. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any server/provider flavour
export function echoRequestId(app: FastifyInstance<any, any, any, any, any>): void {
  // Callback style: an async hook would cost a promise on every request.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id)
    done()
  })
}
