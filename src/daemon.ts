import path from 'node:path'
import type { Config } from './config.js'
import { openDatabase, type Database } from './db/database.js'
import { migrations } from './db/migrations/index.js'
import { buildApp } from './http/app.js'
import { InstanceManager } from './instances/manager.js'
import { InstanceRepository } from './instances/repository.js'
import type { Logger } from './logger.js'
import { resolveAdminToken, resolveSecretKey } from './security/secrets.js'
import { Sealer } from './security/sealing.js'
import { ensureStrictCurveVerify } from './whatsapp/curve-verify.js'

export interface Daemon {
  app: Awaited<ReturnType<typeof buildApp>>
  db: Database
  manager: InstanceManager
  /** Set only on the first start without GATEWAY_ADMIN_TOKEN: print it once. */
  generatedAdminToken: string | undefined
  /** Listens, then restores sessions in the background; resolves with the bound address. */
  listen(): Promise<string>
  close(): Promise<void>
}

/** The composition root: wires config, storage, WhatsApp sessions and HTTP together. */
export async function createDaemon(config: Config, logger: Logger): Promise<Daemon> {
  const { patched } = ensureStrictCurveVerify()
  if (patched) logger.warn('Baileys accepted a forged signature (libsignal 6 verify bug); a strict Curve.verify is installed')
  const db = openDatabase({ file: path.join(config.dataDir, 'gateway.db'), migrations })
  const secretKey = resolveSecretKey(config.secretKey, config.dataDir)
  const admin = resolveAdminToken(config.adminToken, db)
  const instances = new InstanceRepository(db)
  const manager = new InstanceManager({ repo: instances, config, sealer: new Sealer(secretKey, 'sessions'), logger })
  const app = await buildApp({ config, logger, db, instances, manager, adminTokenHash: admin.hash })
  let restoring: Promise<void> = Promise.resolve()
  return {
    app,
    db,
    manager,
    generatedAdminToken: admin.generated,
    async listen() {
      const address = await app.listen({ port: config.port, host: config.host })
      restoring = manager.restoreAll().catch((err: unknown) => logger.error({ err }, 'restoring instances failed'))
      return address
    },
    async close() {
      await app.close()
      manager.shutdown()
      await restoring
      db.close()
    },
  }
}
