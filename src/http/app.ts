import Fastify, { type FastifyBaseLogger } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from '../config.js'
import type { Database } from '../db/database.js'
import type { InstanceManager } from '../instances/manager.js'
import type { InstanceRepository } from '../instances/repository.js'
import type { Logger } from '../logger.js'
import { AuthFailureLimiter, Authenticator } from './auth.js'
import { installErrorHandling } from './error-handler.js'
import { lazySchemaCompilers } from './lazy-schema-compilers.js'
import { healthRoutes } from './routes/health.js'
import { instanceRoutes } from './routes/instances.js'
import { messageRoutes } from './routes/messages.js'
import type { MessageService } from '../messages/service.js'
import type { GatewayMetrics } from '../metrics/metrics.js'
import type { PairingLinks } from '../security/pairing-links.js'
import { registerOpenApi } from './openapi.js'
import { echoRequestId, requestId } from './request-id.js'
import { closeEventStreams } from './sse.js'
import { installRequestLogging } from './request-log.js'
import { installMetrics } from './routes/metrics.js'
import { pairingRoutes } from './routes/pairing.js'
import type { EventDelivery } from '../events/index.js'
import { webhookRoutes } from './routes/webhooks.js'
import { tenantRoutes } from './routes/tenants.js'
import { mediaRoutes } from './routes/media.js'
import { eventStreamRoutes } from './routes/event-stream.js'

export interface AppDeps {
  config: Config
  logger: Logger
  db: Database
  instances: InstanceRepository
  manager: InstanceManager
  adminTokenHash: string
  messages: MessageService
  metrics: GatewayMetrics
  pairingLinks: PairingLinks
  /** inbound events, sinks and delivery (webhooks, tenants' cores, media links, live stream) */
  events: EventDelivery
}

/** The HTTP face of the daemon. Routes translate between HTTP and the domain modules, nothing more. */
export async function buildApp(deps: AppDeps) {
  const logger = deps.logger.child({ module: 'http' })
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: deps.config.limits.bodyMaxBytes,
    // Ids go up to 128 characters, percent-encoded perhaps (find-my-way's default stops at 100: a 404 for a valid id).
    routerOptions: { maxParamLength: 512 },
    // Behind a reverse proxy every client has the proxy's address; the failed-auth limit and the logs need the client's.
    trustProxy: deps.config.trustedProxies.cidrs.length > 0 ? [...deps.config.trustedProxies.cidrs] : false,
    // One access line per request, written by installRequestLogging.
    disableRequestLogging: true,
    // requestId() reads x-request-id itself, so a malformed one is replaced rather than trusted.
    requestIdHeader: false,
    genReqId: requestId,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    schemaController: lazySchemaCompilers(),
  }).withTypeProvider<TypeBoxTypeProvider>()
  installErrorHandling(app)
  // Before the server waits for its connections to end: event streams would never end by themselves.
  app.addHook('preClose', async () => closeEventStreams(app.server))
  echoRequestId(app)
  installRequestLogging(app, logger)
  // Before every route: @fastify/swagger collects routes as they are added.
  await registerOpenApi(app, { publicUrl: deps.config.publicUrl })
  const auth = new Authenticator({
    adminTokenHash: deps.adminTokenHash,
    instances: deps.instances,
    limiter: new AuthFailureLimiter(deps.config.authFailures.max, deps.config.authFailures.windowMs),
  })
  // Token rotation drops cached credentials in its route; a deletion may come from anywhere the manager is used.
  deps.manager.on('deleted', (id) => auth.forgetInstance(id))
  installMetrics(app, { metrics: deps.metrics, auth, public: deps.config.metricsPublic })
  await app.register(pairingRoutes({ manager: deps.manager, auth, links: deps.pairingLinks }))
  await app.register(healthRoutes({ db: deps.db, manager: deps.manager }))
  await app.register(instanceRoutes({ manager: deps.manager, auth }))
  await app.register(messageRoutes({ messages: deps.messages, auth }))
  await app.register(webhookRoutes({ webhooks: deps.events.webhooks, auth }))
  await app.register(tenantRoutes({ tenants: deps.events.tenants, auth }))
  await app.register(mediaRoutes({ media: deps.events.media, links: deps.events.links, inlineMaxBytes: deps.config.media.inlineMaxBytes }))
  await app.register(eventStreamRoutes({ stream: deps.events.stream, auth }))
  return app
}
