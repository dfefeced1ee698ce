import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import QRCode from 'qrcode'
import type { InstanceManager } from '../../instances/manager.js'
import type { Authenticator } from '../auth.js'
import { ok } from '../envelope.js'
import { envelopeOf, ErrorResponse, IdParams, InstanceSchema, PhoneString, TenantId } from '../schemas.js'
import { openEventStream } from '../sse.js'
import { instanceView } from '../views.js'
import { subscribeToInstance } from '../../instances/subscribe.js'
import type { QrIssued } from '../../instances/status.js'

export interface InstanceRoutesDeps {
  manager: InstanceManager
  auth: Authenticator
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 429: ErrorResponse }

/** Admin routes of contract.md "Instances". */
export const instanceRoutes =
  ({ manager, auth }: InstanceRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.addHook('onRequest', auth.admin)

    app.post(
      '/api/v1/instances',
      {
        // No body at all is an instance with defaults (every field is optional): a bare `curl -X POST` works.
        preValidation: async (request) => void (request.body ??= {}),
        schema: {
          tags: ['instances'],
          summary: 'Create an instance; its QR cycle starts at once',
          body: Type.Object(
            {
              name: Type.Optional(Type.String({ maxLength: 200 })),
              tenant_id: Type.Optional(TenantId),
            },
            { additionalProperties: false },
          ),
          response: { 201: envelopeOf(Type.Intersect([InstanceSchema, Type.Object({ token: Type.String() })])), ...errors },
        },
      },
      async (request, reply) => {
        const { name, tenant_id: tenantId } = request.body
        const { instance, token } = await manager.create({ name, tenantId })
        return reply.status(201).send(ok({ ...instanceView(manager.get(instance.id)), token }))
      },
    )

    app.get(
      '/api/v1/instances',
      {
        schema: {
          tags: ['instances'],
          summary: 'List instances',
          querystring: Type.Object({ tenant_id: Type.Optional(Type.String()) }),
          response: { 200: envelopeOf(Type.Array(InstanceSchema)), ...errors },
        },
      },
      async (request) => ok(manager.list({ tenantId: request.query.tenant_id }).map(instanceView)),
    )

    app.get(
      '/api/v1/instances/:id',
      { schema: { tags: ['instances'], summary: 'Get an instance', params: IdParams, response: { 200: envelopeOf(InstanceSchema), ...errors } } },
      async (request) => ok(instanceView(manager.get(request.params.id))),
    )

    app.get(
      '/api/v1/instances/:id/qr',
      {
        schema: {
          tags: ['instances'],
          summary: 'The pending QR: PNG with Accept: image/png, else JSON',
          params: IdParams,
          response: {
            200: envelopeOf(
              Type.Object({ qr: Type.String(), png_data_url: Type.String(), expires_at: Type.String(), attempt: Type.Integer() }),
            ),
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const qr = manager.qr(request.params.id)
        if ((request.headers.accept ?? '').includes('image/png')) {
          const png = await QRCode.toBuffer(qr.qr, { type: 'png', margin: 2, width: 320 })
          // The typed response schema describes the JSON form; the PNG bypasses serialisation as a Buffer.
          return reply.type('image/png').header('cache-control', 'no-store').send(png as never)
        }
        const pngDataUrl = await QRCode.toDataURL(qr.qr, { margin: 2, width: 320 })
        return ok({ qr: qr.qr, png_data_url: pngDataUrl, expires_at: qr.expiresAt, attempt: qr.attempt })
      },
    )

    app.get(
      '/api/v1/instances/:id/events',
      {
        schema: {
          tags: ['instances'],
          summary: 'Server-Sent Events: status changes and each new QR',
          description: 'Events: `instance` (snapshot on connect and on profile changes), `status` (each change, with reason), `qr` (each new QR).',
          params: IdParams,
          response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: Type.String() } } }, ...errors },
        },
      },
      async (request, reply) => {
        const id = request.params.id
        const initial = manager.get(id)
        let unsubscribe = () => {}
        const stream = openEventStream(request, reply, () => unsubscribe())
        // Field names as everywhere else in the API (snake_case), not the domain's.
        const sendQr = (q: QrIssued) => stream.send('qr', { instance_id: q.instanceId, qr: q.qr, attempt: q.attempt, expires_at: q.expiresAt })
        unsubscribe = subscribeToInstance(manager, id, {
          status: (c) =>
            stream.send('status', { instance_id: c.instanceId, from: c.from, to: c.to, reason: c.reason, code: c.code ?? null, at: c.at, instance: instanceView(manager.get(id)) }),
          qr: sendQr,
          profile: () => stream.send('instance', instanceView(manager.get(id))),
          deleted: () => stream.end(),
        })
        stream.send('instance', instanceView(initial))
        const pending = manager.supervisor(id).currentQr
        if (pending) sendQr(pending)
      },
    )

    app.post(
      '/api/v1/instances/:id/pairing-code',
      {
        schema: {
          tags: ['instances'],
          summary: 'An 8-character code to type on the phone instead of scanning',
          params: IdParams,
          body: Type.Object({ phone: PhoneString }, { additionalProperties: false }),
          response: { 200: envelopeOf(Type.Object({ code: Type.String() })), ...errors },
        },
      },
      async (request) => ok({ code: await manager.pairingCode(request.params.id, request.body.phone.replace(/^\+/, '')) }),
    )

    app.post(
      '/api/v1/instances/:id/restart',
      { schema: { tags: ['instances'], summary: 'Bounce the connection without unpairing', params: IdParams, response: { 200: envelopeOf(InstanceSchema), ...errors } } },
      async (request) => {
        manager.restart(request.params.id)
        return ok(instanceView(manager.get(request.params.id)))
      },
    )

    app.post(
      '/api/v1/instances/:id/disconnect',
      { schema: { tags: ['instances'], summary: 'Log out: unlink the device and wipe credentials', params: IdParams, response: { 200: envelopeOf(InstanceSchema), ...errors } } },
      async (request) => {
        await manager.disconnect(request.params.id)
        return ok(instanceView(manager.get(request.params.id)))
      },
    )

    app.delete(
      '/api/v1/instances/:id',
      { schema: { tags: ['instances'], summary: 'Disconnect if needed, then remove the instance, its session and data', params: IdParams, response: { 200: envelopeOf(Type.Object({ id: Type.String(), deleted: Type.Boolean() })), ...errors } } },
      async (request) => {
        await manager.delete(request.params.id)
        return ok({ id: request.params.id, deleted: true })
      },
    )

    app.post(
      '/api/v1/instances/:id/token',
      { schema: { tags: ['instances'], summary: 'Rotate the instance token (shown once)', params: IdParams, response: { 200: envelopeOf(Type.Object({ id: Type.String(), token: Type.String() })), ...errors } } },
      async (request) => {
        const token = manager.rotateToken(request.params.id)
        auth.forgetInstance(request.params.id)
        return ok({ id: request.params.id, token })
      },
    )
  }
