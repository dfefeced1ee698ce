import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { LiveEventStream } from '../../events/live-stream.js'
import { AppError } from '../../errors.js'
import type { Authenticator } from '../auth.js'
import { security } from '../openapi.js'
import { ErrorResponse } from '../schemas.js'
import { openEventStream } from '../sse.js'

/**
 * `GET /api/v1/events/stream`: Server-Sent Events with every new event (the same envelope the sinks get). The admin
 * may narrow it with `instance_id` or `tenant_id`; an instance (Basic auth) always gets only its own events.
 */
export const eventStreamRoutes =
  ({ stream, auth }: { stream: LiveEventStream; auth: Authenticator }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.addHook('onRequest', auth.any)
    app.get(
      '/api/v1/events/stream',
      {
        schema: {
          tags: ['events'],
          summary: 'Live event stream (SSE), scoped to an instance or tenant',
          description:
            'Each event is an SSE message whose `event:` is the event type, `id:` the event id and `data:` the JSON event envelope the sinks get. ' +
            'A `: keep-alive` comment every 15 s. An instance (Basic auth) always gets only its own events; the filters are for the admin.',
          security: security.any,
          querystring: Type.Object({
            instance_id: Type.Optional(Type.String({ description: 'admin only: events of one instance' })),
            tenant_id: Type.Optional(Type.String({ description: "admin only: events of one tenant's instances" })),
          }),
          response: {
            200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: Type.String() } } },
            401: ErrorResponse,
            429: ErrorResponse,
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal
        if (!principal) throw new AppError('UNAUTHORIZED')
        const filter =
          principal.kind === 'instance'
            ? { instanceId: principal.instanceId }
            : {
                ...(request.query.instance_id !== undefined ? { instanceId: request.query.instance_id } : {}),
                ...(request.query.tenant_id !== undefined ? { tenantId: request.query.tenant_id } : {}),
              }
        const sse = openEventStream(request, reply, () => unsubscribe())
        const unsubscribe = stream.subscribe(filter, (event) => sse.send(event.type, event, event.id))
      },
    )
  }
