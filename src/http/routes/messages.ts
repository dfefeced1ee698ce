import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AppError } from '../../errors.js'
import { MESSAGE_TYPES } from '../../messages/types.js'
import type { MessageService } from '../../messages/service.js'
import { normalizePhone } from '../../messages/phone.js'
import type { Authenticator, Principal } from '../auth.js'
import { ok } from '../envelope.js'
import { envelopeOf, ErrorResponse, Nullable, PhoneString } from '../schemas.js'

export interface MessageRoutesDeps {
  messages: MessageService
  auth: Authenticator
}


const MessageSchema = Type.Object({
  message_id: Type.String(),
  wa_message_id: Type.String(),
  instance_id: Type.String(),
  direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]),
  source: Nullable(Type.Union([Type.Literal('api'), Type.Literal('phone')])),
  phone: Type.String({ description: 'digits, no +' }),
  push_name: Nullable(Type.String({ description: "the customer's WhatsApp name, on inbound messages" })),
  type: Type.String(),
  text: Nullable(Type.String()),
  quoted: Nullable(Type.Object({ wa_message_id: Type.String() })),
  media: Nullable(
    Type.Object({
      mimetype: Type.String(),
      // null: the sender of an inbound message did not announce it
      size: Nullable(Type.Integer()),
      filename: Nullable(Type.String()),
      sha256: Nullable(Type.String()),
      duration_seconds: Nullable(Type.Integer()),
    }),
  ),
  // Outbound: queued → sent → delivered → read → played, or failed. Inbound rows are `received`.
  status: Type.Union(['queued', 'sent', 'delivered', 'read', 'played', 'failed', 'received'].map((s) => Type.Literal(s))),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String(), wa_code: Nullable(Type.Integer()) })),
  timestamp: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})

/** For the OpenAPI document only: the domain validator (src/messages/validate.ts) gives the precise error codes. */
export const SendBody = Type.Object(
  {
    phone: PhoneString,
    data: Type.Object({
      text: Type.Optional(Type.String({ description: 'text; caption for image, video, document' })),
      base64: Type.Optional(Type.String({ description: 'media as raw base64 or a data: URL' })),
      url: Type.Optional(Type.String({ format: 'uri', description: 'media to fetch (public http/https only)' })),
      filename: Type.Optional(Type.String()),
      mimetype: Type.Optional(Type.String()),
      ptt: Type.Optional(Type.Boolean({ description: 'audio only: send as a voice note (same as type voice)' })),
      quoted_message_id: Type.Optional(Type.String({ description: 'reply to this message (our msg_… id or the WhatsApp id)' })),
      latitude: Type.Optional(Type.Number()),
      longitude: Type.Optional(Type.Number()),
      name: Type.Optional(Type.String()),
      address: Type.Optional(Type.String()),
      message_id: Type.Optional(Type.String({ description: 'reaction: the message reacted to' })),
      emoji: Type.Optional(Type.String({ description: 'reaction: one emoji, "" removes it' })),
      contact_name: Type.Optional(Type.String()),
      contact_phone: Type.Optional(Type.String()),
    }),
  },
  { description: 'Connexa-compatible send body' },
)

/** Connexa's answer: `message_id` and `status` at the top level, the Plixa envelope beside them. */
export const SendAnswerSchema = Type.Object({
  message_id: Type.String(),
  status: Type.String(),
  wa_message_id: Type.String(),
  data: MessageSchema,
  meta: Type.Null(),
  errors: Type.Null(),
})

const errors = {
  400: ErrorResponse,
  401: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  413: ErrorResponse,
  415: ErrorResponse,
  422: ErrorResponse,
  429: ErrorResponse,
}

/** Skips Fastify's schema validation: the schema documents, the domain validates. */
const documentOnly = () => () => true

/** Routes of contract.md "Sending". */
export const messageRoutes =
  ({ messages, auth }: MessageRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/api/v1/message/:message_type',
      {
        onRequest: [auth.instance, requireJson],
        validatorCompiler: documentOnly,
        schema: {
          tags: ['messages'],
          summary: 'Send a message (Connexa-compatible); answered once it is durably queued',
          description:
            `Types: ${MESSAGE_TYPES.join(', ')}. Basic auth <tenant or instance id>:<instance token>. ` +
            'Optional Idempotency-Key header (24 h). ?wait=sent answers after the WhatsApp server ack (bounded).',
          params: Type.Object({ message_type: Type.String() }),
          querystring: Type.Object({ wait: Type.Optional(Type.Literal('sent')) }),
          headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 255 })) }),
          body: SendBody,
          response: { 200: SendAnswerSchema, ...errors },
        },
      },
      async (request, reply) => {
        const instanceId = instanceOf(request.principal)
        const query = request.query as Record<string, unknown>
        const wait = query.wait
        if (wait !== undefined && wait !== 'sent') throw new AppError('VALIDATION_FAILED', 'wait must be "sent"', { field: 'wait' })
        const key = request.headers['idempotency-key']
        if (Array.isArray(key)) throw new AppError('IDEMPOTENCY_KEY_INVALID')
        const result = await messages.send({
          instanceId,
          type: (request.params as { message_type: string }).message_type,
          body: request.body as unknown,
          ...(key !== undefined ? { idempotencyKey: key } : {}),
          waitSent: wait === 'sent',
        })
        if (result.replayed) void reply.header('idempotent-replayed', 'true')
        if (typeof result.body === 'string') {
          // The stored answer, byte for byte.
          return reply.status(result.status).type('application/json; charset=utf-8').serializer((s: unknown) => s as string).send(result.body as never)
        }
        return reply.status(result.status).send(result.body)
      },
    )

    app.get(
      '/api/v1/messages/:message_id',
      {
        onRequest: auth.any,
        schema: {
          tags: ['messages'],
          summary: 'A message with its status (queued, sent, delivered, read, played, failed + error)',
          params: Type.Object({ message_id: Type.String({ minLength: 1, maxLength: 128 }) }),
          response: { 200: envelopeOf(MessageSchema), ...errors },
        },
      },
      async (request) => {
        const principal = request.principal
        const scope = principal?.kind === 'instance' ? principal.instanceId : undefined
        return ok(messages.get(request.params.message_id, scope))
      },
    )

    app.get(
      '/api/v1/messages',
      {
        onRequest: auth.any,
        schema: {
          tags: ['messages'],
          summary: 'Message history, newest first, cursor-paginated (meta.next_cursor)',
          querystring: Type.Object({
            phone: Type.Optional(Type.String({ pattern: '^\\+?\\d{8,18}$' })),
            direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound')])),
            cursor: Type.Optional(Type.String({ maxLength: 64 })),
            limit: Type.Optional(Type.String({ pattern: '^\\d{1,3}$' })),
            instance_id: Type.Optional(Type.String({ maxLength: 128, description: 'admin only: one instance' })),
          }),
          response: {
            200: envelopeOf(Type.Array(MessageSchema), Type.Object({ next_cursor: Nullable(Type.String()), limit: Type.Integer() })),
            ...errors,
          },
        },
      },
      async (request) => {
        const principal = request.principal
        const q = request.query
        const limit = Math.min(200, Math.max(1, Number(q.limit ?? 50)))
        let instanceId = q.instance_id
        if (principal?.kind === 'instance') {
          if (instanceId !== undefined && instanceId !== principal.instanceId) throw new AppError('FORBIDDEN')
          instanceId = principal.instanceId
        }
        const page = messages.list({
          limit,
          ...(instanceId !== undefined ? { instanceId } : {}),
          ...(q.phone !== undefined ? { phone: normalizePhone(q.phone) } : {}),
          ...(q.direction !== undefined ? { direction: q.direction } : {}),
          ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        })
        return ok(page.items, { next_cursor: page.nextCursor, limit })
      },
    )
  }

function instanceOf(principal: Principal | undefined): string {
  if (principal?.kind !== 'instance') throw new AppError('UNAUTHORIZED')
  return principal.instanceId
}

/** 415 before the body is read: only JSON is parsed for sends (Fastify would also parse text/plain). */
function requireJson(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const type = (request.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? ''
  done(type === 'application/json' ? undefined : new AppError('UNSUPPORTED_MEDIA_TYPE'))
}
