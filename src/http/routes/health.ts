import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Database } from '../../db/database.js'
import type { InstanceManager } from '../../instances/manager.js'
import { errorBody, ok } from '../envelope.js'
import { envelopeOf, ErrorResponse } from '../schemas.js'

/** Liveness answers while the process runs; readiness needs a writable database and restored instances. */
export const healthRoutes =
  ({ db, manager }: { db: Database; manager: InstanceManager }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/health/live',
      { schema: { tags: ['operations'], summary: 'Liveness: answers while the process runs', response: { 200: envelopeOf(Type.Object({ status: Type.Literal('live') })) } } },
      async () => ok({ status: 'live' as const }),
    )
    const Checks = Type.Object({ database: Type.Boolean(), instances_restored: Type.Boolean() })
    app.get(
      '/health/ready',
      {
        schema: {
          tags: ['operations'],
          summary: 'Readiness: database writable and instances restored',
          response: {
            200: envelopeOf(Type.Object({ status: Type.Literal('ready'), checks: Checks })),
            // The error envelope of every route (meta null); which checks failed is in the error's details.
            503: ErrorResponse,
          },
        },
      },
      async (_request, reply) => {
        const checks = { database: databaseWritable(db), instances_restored: manager.isRestored }
        if (checks.database && checks.instances_restored) return ok({ status: 'ready' as const, checks })
        return reply.status(503).send(errorBody('SERVICE_UNAVAILABLE', undefined, { checks }))
      },
    )
  }

function databaseWritable(db: Database): boolean {
  try {
    db.sqlite.prepare("INSERT INTO settings (key, value) VALUES ('health_probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(
      new Date().toISOString(),
    )
    return true
  } catch {
    return false
  }
}
