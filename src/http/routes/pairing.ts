import { randomBytes } from 'node:crypto'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import QRCode from 'qrcode'
import { AppError, ERRORS } from '../../errors.js'
import type { InstanceManager } from '../../instances/manager.js'
import type { Instance } from '../../instances/repository.js'
import type { QrIssued } from '../../instances/status.js'
import { subscribeToInstance } from '../../instances/subscribe.js'
import type { PairingLinks } from '../../security/pairing-links.js'
import type { Authenticator } from '../auth.js'
import { errorBody, ok } from '../envelope.js'
import { security } from '../openapi.js'
import { renderPairingPage, type PairingQr, type PairingState } from '../pairing-page.js'
import { envelopeOf, ErrorResponse, IdParams, PhoneString } from '../schemas.js'
import { openEventStream } from '../sse.js'

export interface PairingRoutesDeps {
  manager: InstanceManager
  auth: Authenticator
  links: PairingLinks
}

const LinkQuery = Type.Object({
  exp: Type.Optional(Type.String({ description: 'expiry, unix seconds (from the signed link)' })),
  sig: Type.Optional(Type.String({ description: 'signature (from the signed link)' })),
})

const PageInstance = Type.Object({
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  status_reason: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String(), Type.Null()]),
  push_name: Type.Union([Type.String(), Type.Null()]),
})

const linkErrors = { 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse }

/**
 * The pairing page (contract.md "Operations"): an admin asks for a short-lived signed link, and whoever holds it
 * sees the live QR, can ask for a pairing code, and watches the page turn green when the phone links. The link's
 * signature authorises exactly one instance's page, stream and pairing actions, and nothing else.
 */
export const pairingRoutes =
  ({ manager, auth, links }: PairingRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const verify = (request: { params: { id: string }; query: { exp?: string; sig?: string } }) => {
      if (!links.verify(request.params.id, request.query.exp, request.query.sig)) throw new AppError('PAIRING_LINK_INVALID')
      return manager.get(request.params.id)
    }
    // The POSTs take no credentials but the link: checked before the body is read (and only there), and the body is
    // small. Without this anyone could make the daemon read and parse a body of the API's whole limit (sized for
    // base64 media).
    const linkFirst = {
      bodyLimit: 1024,
      onRequest: async (request: FastifyRequest) => void verify(request as unknown as Parameters<typeof verify>[0]),
    }

    app.post(
      '/api/v1/instances/:id/pairing-link',
      {
        onRequest: auth.admin,
        schema: {
          tags: ['instances'],
          summary: 'A short-lived signed link to the pairing page (the admin token never goes in a URL)',
          security: security.admin,
          params: IdParams,
          response: {
            200: envelopeOf(
              Type.Object(
                { url: Type.String({ format: 'uri' }), expires_at: Type.String({ format: 'date-time' }) },
                { examples: [{ url: 'http://localhost:8080/pair/inst_abc?exp=1767225600&sig=3q2-7w…', expires_at: '2026-01-01T00:00:00.000Z' }] },
              ),
            ),
            401: ErrorResponse,
            404: ErrorResponse,
            429: ErrorResponse,
          },
        },
      },
      async (request) => {
        manager.get(request.params.id)
        const link = links.issue(request.params.id)
        return ok({ url: link.url, expires_at: link.expiresAt })
      },
    )

    app.get(
      '/pair/:id',
      {
        schema: {
          tags: ['pairing page'],
          summary: 'The pairing page (HTML): live QR, pairing-code form, turns green when the phone links',
          security: security.none,
          params: IdParams,
          querystring: LinkQuery,
          response: { 200: { description: 'HTML page', content: { 'text/html': { schema: Type.String() } } }, ...linkErrors },
        },
      },
      async (request, reply) => {
        let instance: Instance
        try {
          instance = verify(request)
        } catch (err) {
          if (err instanceof AppError && prefersHtml(request)) return sendHtmlError(reply, err)
          throw err
        }
        const nonce = randomBytes(16).toString('base64')
        const html = renderPairingPage({
          state: await pageState(manager, instance),
          linkExpiresAt: new Date(Number(request.query.exp) * 1000).toISOString(),
          nonce,
        })
        return securePage(reply, nonce).type('text/html; charset=utf-8').send(html)
      },
    )

    app.get(
      '/pair/:id/events',
      {
        schema: {
          tags: ['pairing page'],
          summary: 'Server-Sent Events for the pairing page: `state`, then `qr`, `instance`, and `expired` when the link runs out',
          security: security.none,
          params: IdParams,
          querystring: LinkQuery,
          response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: Type.String() } } }, ...linkErrors },
        },
      },
      async (request, reply) => {
        const initial = verify(request)
        const id = initial.id
        const state = await pageState(manager, initial)
        const sendInstance = () => stream.send('instance', pageInstance(manager.get(id)))
        const sendQr = (qr: QrIssued) => void pageQr(qr).then((q) => stream.send('qr', q))
        // The stream lives no longer than the link that opened it.
        const expiry = setTimeout(() => {
          stream.send('expired', { reason: 'link_expired' })
          stream.end()
        }, links.remainingMs(request.query.exp ?? '0'))
        expiry.unref()
        let unsubscribe = () => {}
        const stream = openEventStream(request, reply, () => {
          clearTimeout(expiry)
          unsubscribe()
        })
        unsubscribe = subscribeToInstance(manager, id, { status: sendInstance, profile: sendInstance, qr: sendQr, deleted: () => stream.end() })
        stream.send('state', state)
        // Whatever changed while the first state was rendered follows at once.
        const now = manager.get(id)
        if (now.status !== state.instance.status) sendInstance()
        const pending = currentQr(manager, id)
        if (pending && pending.qr !== state.qr?.qr) sendQr(pending)
      },
    )

    app.post(
      '/pair/:id/pairing-code',
      {
        ...linkFirst,
        schema: {
          tags: ['pairing page'],
          summary: 'An 8-character pairing code for the page’s “use phone number” option',
          security: security.none,
          params: IdParams,
          querystring: LinkQuery,
          body: Type.Object({ phone: PhoneString }, { additionalProperties: false, examples: [{ phone: '5511999990001' }] }),
          response: { 200: envelopeOf(Type.Object({ code: Type.String({ examples: ['ABCD1234'] }) })), 400: ErrorResponse, 502: ErrorResponse, ...linkErrors },
        },
      },
      async (request) => ok({ code: await manager.pairingCode(request.params.id, request.body.phone.replace(/^\+/, '')) }),
    )

    app.post(
      '/pair/:id/restart',
      {
        ...linkFirst,
        schema: {
          tags: ['pairing page'],
          summary: 'Start a fresh QR cycle after pairing stopped (only while the instance is disconnected)',
          security: security.none,
          params: IdParams,
          querystring: LinkQuery,
          response: { 200: envelopeOf(PageInstance), ...linkErrors },
        },
      },
      async (request) => {
        const instance = manager.get(request.params.id)
        // A link holder may revive a stopped pairing, never bounce a working connection.
        if (instance.status !== 'disconnected') throw new AppError('INSTANCE_ALREADY_PAIRED', 'Pairing is not stopped')
        manager.restart(instance.id)
        return ok(pageInstance(manager.get(instance.id)))
      },
    )
  }

function pageInstance(row: Instance): PairingState['instance'] {
  return { id: row.id, name: row.name, status: row.status, status_reason: row.status_reason, phone: row.phone, push_name: row.push_name }
}

async function pageQr(qr: QrIssued): Promise<PairingQr> {
  const svg = await QRCode.toString(qr.qr, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' })
  return { qr: qr.qr, image: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, attempt: qr.attempt, expires_at: qr.expiresAt }
}

async function pageState(manager: InstanceManager, instance: Instance): Promise<PairingState> {
  const pending = instance.status === 'pending_qr' ? currentQr(manager, instance.id) : undefined
  return { instance: pageInstance(instance), qr: pending ? await pageQr(pending) : null }
}

/** The QR waiting to be scanned; none while boot has not yet restored the instance's supervisor. */
function currentQr(manager: InstanceManager, id: string): QrIssued | undefined {
  try {
    return manager.supervisor(id).currentQr
  } catch {
    return undefined
  }
}

/** The page carries a signature in its URL: no referrer leaves it, nothing caches it, nothing frames it. */
function securePage(reply: FastifyReply, nonce: string): FastifyReply {
  return reply.headers({
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': `default-src 'none'; img-src data:; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  })
}

function prefersHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/html')
}

/** A person who opened an old link in a browser gets a readable page; programs get the JSON envelope. */
function sendHtmlError(reply: FastifyReply, err: AppError): FastifyReply {
  const body = errorBody(err.code, err.message)
  const nonce = randomBytes(16).toString('base64')
  const heading = err.code === 'PAIRING_LINK_INVALID' ? 'This pairing link is invalid or has expired' : ERRORS[err.code].message
  return securePage(reply, nonce)
    .status(err.status)
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Link WhatsApp</title>` +
        `<style nonce="${nonce}">body{font:15px/1.5 system-ui,sans-serif;background:#f3f5f7;color:#1d2430;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}` +
        `main{background:#fff;border:1px solid #e4e7ec;border-radius:16px;padding:28px;max-width:420px}h1{font-size:18px;color:#b54708}code{color:#667085}</style></head>` +
        `<body><main><h1>${heading}</h1><p>Ask your administrator for a new pairing link.</p><p><code>${body.errors[0]?.code ?? ''}</code></p></main></body></html>`,
    )
}
