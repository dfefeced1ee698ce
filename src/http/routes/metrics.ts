import type { FastifyInstance } from 'fastify'
import type { GatewayMetrics } from '../../metrics/metrics.js'
import type { Authenticator } from '../auth.js'
import { security } from '../openapi.js'
import { ErrorResponse } from '../schemas.js'
import { Type } from '@sinclair/typebox'

export interface MetricsRoutesDeps {
  metrics: GatewayMetrics
  auth: Authenticator
  /** METRICS_PUBLIC: scrapers on a trusted network without a token. Default: admin bearer. */
  public: boolean
}

/**
 * `GET /metrics` (Prometheus text format) and the HTTP request counters behind it. Installed on the root
 * instance, not as an encapsulated plugin, so its onResponse hook sees every route.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any server/provider flavour
export function installMetrics(app: FastifyInstance<any, any, any, any, any>, deps: MetricsRoutesDeps): void {
  // Callback style: an async hook would cost a promise on every request.
  app.addHook('onResponse', (request, reply, done) => {
    // The route template, never the raw URL: ids in paths would explode the label set.
    const route = request.routeOptions.url ?? 'unmatched'
    deps.metrics.httpRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
  app.get(
    '/metrics',
    {
      ...(deps.public ? {} : { onRequest: deps.auth.admin }),
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        description: 'Admin bearer unless the daemon runs with METRICS_PUBLIC=true.',
        security: deps.public ? security.none : security.admin,
        response: {
          200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: Type.String() } } },
          401: ErrorResponse,
          429: ErrorResponse,
        },
      },
    },
    async (_request, reply) => {
      const body = await deps.metrics.render()
      return reply.type(deps.metrics.contentType).header('cache-control', 'no-store').send(body)
    },
  )
}
