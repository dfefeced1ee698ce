import Fastify, { type FastifyBaseLogger } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from '../config.js'
import type { Database } from '../db/database.js'
import type { InstanceManager } from '../instances/manager.js'
import type { InstanceRepository } from '../instances/repository.js'
import type { Logger } from '../logger.js'
import { AuthFailureLimiter, Authenticator } from './auth.js'
import { installErrorHandling } from './error-handler.js'
import { healthRoutes } from './routes/health.js'
import { instanceRoutes } from './routes/instances.js'
import { messageRoutes } from './routes/messages.js'
import type { MessageService } from '../messages/service.js'

export interface AppDeps {
  config: Config
  logger: Logger
  db: Database
  instances: InstanceRepository
  manager: InstanceManager
  adminTokenHash: string
  messages: MessageService
}

/** The HTTP face of the daemon. Routes translate between HTTP and the domain modules, nothing more. */
export async function buildApp(deps: AppDeps) {
  const app = Fastify({
    loggerInstance: deps.logger.child({ module: 'http' }) as FastifyBaseLogger,
    bodyLimit: deps.config.limits.bodyMaxBytes,
    disableRequestLogging: false,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>()
  installErrorHandling(app)
  const auth = new Authenticator({
    adminTokenHash: deps.adminTokenHash,
    instances: deps.instances,
    limiter: new AuthFailureLimiter(deps.config.authFailures.max, deps.config.authFailures.windowMs),
  })
  await app.register(healthRoutes({ db: deps.db, manager: deps.manager }))
  await app.register(instanceRoutes({ manager: deps.manager, auth }))
  await app.register(messageRoutes({ messages: deps.messages, auth }))
  return app
}
