import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { WebhookRow } from '../../db/schema.js'
import { AppError } from '../../errors.js'
import { webhookView, type WebhookService } from '../../events/webhooks.js'
import { assertInstanceScope, type Authenticator } from '../auth.js'
import { ok } from '../envelope.js'
import { security } from '../openapi.js'
import { envelopeOf, ErrorResponse, IdParams, Nullable, TenantId } from '../schemas.js'

export interface WebhookRoutesDeps {
  webhooks: WebhookService
  auth: Authenticator
}

const EventList = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 16 })
const Url = Type.String({ minLength: 8, maxLength: 2048 })

/** `webhookView` (src/events/webhooks.ts): a webhook as every route answers it, never with its secret. */
const WebhookSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String(), { description: 'event types, or "*" for all' }),
  instance_id: Nullable(Type.String()),
  tenant_id: Nullable(Type.String()),
  enabled: Type.Boolean(),
  disabled_reason: Nullable(Type.String({ description: 'why it was disabled: `disabled_by_user`, or the delivery failure that did it (e.g. `http_410`)' })),
  include_media_base64: Type.Boolean(),
  previous_secret_valid_until: Nullable(
    Type.String({ format: 'date-time', description: 'after a rotation, until when the previous secret still signs (as a second signature)' }),
  ),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})

/** Create and rotate-secret only: the signing secret, shown this once. */
const WebhookWithSecretSchema = Type.Composite([
  WebhookSchema,
  Type.Object({ secret: Type.String({ description: 'the HMAC signing secret; shown only at create and rotate-secret' }) }),
])

/** One entry of the delivery log (`WebhookService.deliveries`, without its internal cursor). */
const DeliverySchema = Type.Object({
  id: Type.String(),
  event_id: Type.String(),
  event_type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  next_attempt_at: Nullable(Type.String({ format: 'date-time', description: 'set while pending' })),
  last_status: Nullable(Type.Integer({ description: 'HTTP status of the last attempt' })),
  last_error: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  attempt_log: Type.Array(
    Type.Object({
      at: Type.String(),
      status_code: Nullable(Type.Integer()),
      error: Nullable(Type.String()),
      duration_ms: Type.Number(),
    }),
  ),
})

// Every route: 401 (credentials), 429 (too many failed authentications). With an :id, 400 (id shape), 403 (an
// instance touching an instance-scoped webhook of another instance) and 404 (no such webhook, or not the caller's).
const authErrors = { 401: ErrorResponse, 429: ErrorResponse }
const idErrors = { 400: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, ...authErrors }

/**
 * contract.md "Webhooks". The admin manages every webhook; an instance (Basic auth) manages only webhooks scoped to
 * itself: it cannot create a global or tenant-wide one, nor see or touch another instance's.
 */
export const webhookRoutes =
  ({ webhooks, auth }: WebhookRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.addHook('onRequest', auth.any)

    const owned = (request: FastifyRequest, id: string): WebhookRow => {
      const row = webhooks.get(id)
      scope(request, row)
      return row
    }

    app.post(
      '/api/v1/webhooks',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Create a webhook; the answer carries its secret (shown only here and at rotation)',
          body: Type.Object(
            {
              url: Url,
              events: EventList,
              instance_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
              tenant_id: Type.Optional(TenantId),
              include_media_base64: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
          security: security.any,
          response: {
            201: envelopeOf(WebhookWithSecretSchema),
            400: ErrorResponse,
            403: ErrorResponse,
            404: ErrorResponse,
            422: ErrorResponse,
            ...authErrors,
          },
        },
      },
      async (request, reply) => {
        const body = request.body
        const principal = request.principal
        let instanceId = body.instance_id ?? null
        if (principal?.kind === 'instance') {
          if (body.tenant_id !== undefined || (instanceId !== null && instanceId !== principal.instanceId)) throw new AppError('FORBIDDEN')
          instanceId = principal.instanceId
        }
        if (instanceId !== null && body.tenant_id !== undefined) {
          throw new AppError('VALIDATION_FAILED', 'give instance_id or tenant_id, not both')
        }
        const { webhook, secret } = await webhooks.create({
          url: body.url,
          events: body.events,
          instanceId,
          tenantId: body.tenant_id ?? null,
          includeMediaBase64: body.include_media_base64 ?? false,
        })
        return reply.status(201).send(ok({ ...webhookView(webhook), secret }))
      },
    )

    app.get(
      '/api/v1/webhooks',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'List webhooks (an instance sees only its own)',
          security: security.any,
          querystring: Type.Object({ instance_id: Type.Optional(Type.String({ description: 'admin only: webhooks of one instance' })) }),
          response: { 200: envelopeOf(Type.Array(WebhookSchema)), ...authErrors },
        },
      },
      async (request) => {
        const principal = request.principal
        const instanceId = principal?.kind === 'instance' ? principal.instanceId : request.query.instance_id
        return ok(webhooks.list(instanceId === undefined ? {} : { instanceId }).map(webhookView))
      },
    )

    app.get(
      '/api/v1/webhooks/:id',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Get a webhook',
          security: security.any,
          params: IdParams,
          response: { 200: envelopeOf(WebhookSchema), ...idErrors },
        },
      },
      async (request) => ok(webhookView(owned(request, request.params.id))),
    )

    app.put(
      '/api/v1/webhooks/:id',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Update a webhook (url, events, enabled, include_media_base64)',
          params: IdParams,
          body: Type.Object(
            {
              url: Type.Optional(Url),
              events: Type.Optional(EventList),
              enabled: Type.Optional(Type.Boolean()),
              include_media_base64: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
          security: security.any,
          response: { 200: envelopeOf(WebhookSchema), ...idErrors, 422: ErrorResponse },
        },
      },
      async (request) => {
        owned(request, request.params.id)
        const b = request.body
        const row = await webhooks.update(request.params.id, {
          ...(b.url !== undefined ? { url: b.url } : {}),
          ...(b.events !== undefined ? { events: b.events } : {}),
          ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
          ...(b.include_media_base64 !== undefined ? { includeMediaBase64: b.include_media_base64 } : {}),
        })
        return ok(webhookView(row))
      },
    )

    app.delete(
      '/api/v1/webhooks/:id',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Delete a webhook and its delivery log',
          security: security.any,
          params: IdParams,
          response: { 204: Type.Null({ description: 'Deleted; no body' }), ...idErrors },
        },
      },
      async (request, reply) => {
        owned(request, request.params.id)
        webhooks.delete(request.params.id)
        return reply.status(204).send()
      },
    )

    app.post(
      '/api/v1/webhooks/:id/test',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Send a webhook.test event to this webhook',
          security: security.any,
          params: IdParams,
          response: { 202: envelopeOf(Type.Object({ event_id: Type.String() })), ...idErrors },
        },
      },
      async (request, reply) => {
        owned(request, request.params.id)
        const { eventId } = webhooks.test(request.params.id)
        return reply.status(202).send(ok({ event_id: eventId }))
      },
    )

    app.post(
      '/api/v1/webhooks/:id/rotate-secret',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'New secret; the old one also signs during the grace period',
          security: security.any,
          params: IdParams,
          response: { 200: envelopeOf(WebhookWithSecretSchema), ...idErrors },
        },
      },
      async (request) => {
        owned(request, request.params.id)
        const { webhook, secret } = webhooks.rotateSecret(request.params.id)
        return ok({ ...webhookView(webhook), secret })
      },
    )

    app.get(
      '/api/v1/webhooks/:id/deliveries',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Delivery log, newest first, with every attempt',
          params: IdParams,
          querystring: Type.Object({
            limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
          }),
          security: security.any,
          response: {
            200: envelopeOf(
              Type.Array(DeliverySchema),
              Type.Object({ next_cursor: Nullable(Type.String({ description: 'pass as `cursor` for the next (older) page' })) }),
            ),
            ...idErrors,
          },
        },
      },
      async (request) => {
        owned(request, request.params.id)
        const limit = Math.min(Math.max(Number(request.query.limit ?? 50), 1), 200)
        const rows = webhooks.deliveries(request.params.id, {
          limit,
          ...(request.query.cursor !== undefined ? { before: Number(request.query.cursor) } : {}),
        })
        const last = rows[rows.length - 1]
        return ok(
          rows.map(({ cursor: _c, ...r }) => r),
          { next_cursor: rows.length === limit && last ? String(last.cursor) : null },
        )
      },
    )

    app.post(
      '/api/v1/webhook-deliveries/:id/retry',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Re-fire a terminally failed delivery (same event id)',
          security: security.any,
          params: IdParams,
          response: {
            202: envelopeOf(Type.Object({ id: Type.String(), status: Type.Literal('pending') })),
            ...idErrors,
            409: ErrorResponse,
          },
        },
      },
      async (request, reply) => {
        scope(request, webhooks.webhookOfDelivery(request.params.id))
        webhooks.retryDelivery(request.params.id)
        return reply.status(202).send(ok({ id: request.params.id, status: 'pending' }))
      },
    )
  }

/** Instances see only webhooks scoped to themselves; to them anything else does not exist. */
function scope(request: FastifyRequest, row: WebhookRow): void {
  const principal = request.principal
  if (principal?.kind !== 'instance') return
  if (row.instance_id === null) throw new AppError('WEBHOOK_NOT_FOUND')
  assertInstanceScope(principal, row.instance_id)
}
