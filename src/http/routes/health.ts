import type { FastifyPluginAsync } from 'fastify'
import type { Database } from '../../db/database.js'
import type { InstanceManager } from '../../instances/manager.js'
import { errorBody, ok } from '../envelope.js'

/** Liveness answers while the process runs; readiness needs a writable database and restored instances. */
export const healthRoutes =
  ({ db, manager }: { db: Database; manager: InstanceManager }): FastifyPluginAsync =>
  async (app) => {
    app.get('/health/live', async () => ok({ status: 'live' }))
    app.get('/health/ready', async (_request, reply) => {
      const checks = { database: databaseWritable(db), instances_restored: manager.isRestored }
      if (checks.database && checks.instances_restored) return ok({ status: 'ready', checks })
      return reply.status(503).send({ ...errorBody('SERVICE_UNAVAILABLE'), meta: { checks } })
    })
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
