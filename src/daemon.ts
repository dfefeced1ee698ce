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
import { routeLibsignalConsole } from './whatsapp/libsignal-console.js'
import { shareOneAsyncLocalStorage } from './whatsapp/single-async-local-storage.js'
import { Outbox } from './events/outbox.js'
import { createEventDelivery, type EventDelivery } from './events/index.js'
import { SinkDirectory } from './events/sinks.js'
import { EventRetention } from './events/retention.js'
import { MessageRetention } from './messages/retention.js'
import { createMessaging, type Messaging } from './messages/index.js'
import { prepareMedia } from './media/index.js'
import { sweepStaleFfmpegDirs } from './media/ffmpeg.js'
import { createGuardedAgent } from './net/index.js'
import { GatewayMetrics } from './metrics/metrics.js'
import { recordEvents } from './metrics/from-events.js'
import { PairingLinks } from './security/pairing-links.js'
import { SentMessages } from './whatsapp/sent-messages.js'
import { WhatsAppLoader } from './whatsapp/loader.js'

export interface Daemon {
  app: Awaited<ReturnType<typeof buildApp>>
  db: Database
  manager: InstanceManager
  messaging: Messaging
  /** Prometheus metrics; modules record into it (see src/metrics/metrics.ts). */
  metrics: GatewayMetrics
  /** inbound events, webhooks, tenants' cores, delivery worker, inbound media */
  events: EventDelivery
  /** deletes delivered events past EVENTS_RETENTION_DAYS, at listen and hourly */
  eventRetention: EventRetention
  /** deletes finished messages past MESSAGES_RETENTION_DAYS, at listen and hourly */
  messageRetention: MessageRetention
  /** Set only on the first start without GATEWAY_ADMIN_TOKEN: print it once. */
  generatedAdminToken: string | undefined
  /** Listens, then restores sessions in the background; resolves with the bound address. */
  listen(): Promise<string>
  close(): Promise<void>
}

/** The composition root: wires config, storage, WhatsApp sessions and HTTP together. */
export async function createDaemon(config: Config, logger: Logger): Promise<Daemon> {
  routeLibsignalConsole(logger)
  shareOneAsyncLocalStorage()
  const whatsapp = new WhatsAppLoader(logger)
  const db = openDatabase({ file: path.join(config.dataDir, 'gateway.db'), migrations })
  const secretKey = resolveSecretKey(config.secretKey, config.dataDir)
  const admin = resolveAdminToken(config.adminToken, db)
  const instances = new InstanceRepository(db)
  const sentMessages = new SentMessages(db, logger.child({ module: 'sent-messages' }))
  const manager = new InstanceManager({ repo: instances, config, sealer: new Sealer(secretKey, 'sessions'), sentMessages, whatsapp, logger })
  // One outbox for every producer: sending, inbound recording, lifecycle events and event delivery share it.
  const webhookSealer = new Sealer(secretKey, 'webhooks')
  const sinks = new SinkDirectory({
    db,
    sealer: webhookSealer,
    ...(config.plixaCoreUrl && config.plixaCoreSecret ? { envCore: { url: config.plixaCoreUrl, secret: config.plixaCoreSecret } } : {}),
  })
  const outbox = new Outbox(db, sinks)
  const mediaAgent = createGuardedAgent({ allow: config.allowPrivateCidrs })
  const mediaLimits = {
    mediaMaxBytes: config.limits.mediaMaxBytes,
    documentMaxBytes: config.limits.documentMaxBytes,
    fetchTimeoutMs: config.limits.mediaFetchTimeoutMs,
    agent: mediaAgent,
  }
  const messaging = createMessaging({
    config,
    db,
    outbox,
    instances,
    logger,
    instanceStatus: (id) => manager.statusOf(id),
    prepareMedia: (kind, input) => prepareMedia(kind, input, mediaLimits),
  })
  manager.on('open', (id, connection) => messaging.dispatcher.attach(id, new whatsapp.runtime.BaileysMessenger(connection), connection))
  manager.on('closed', (id, connection) => messaging.dispatcher.detach(id, connection))
  manager.on('deleting', (id) => messaging.forgetInstanceMedia(id))
  manager.on('deleted', (id) => messaging.dispatcher.forget(id))
  messaging.service.start()
  sweepStaleFfmpegDirs() // what a kill -9 left in the middle of a conversion
  const events = createEventDelivery({ config, db, manager, outbox, sinks, sealer: webhookSealer, secretKey, mediaAgent, whatsapp, logger })
  const metrics = new GatewayMetrics({ instanceStatusCounts: () => countStatuses(manager) })
  outbox.onAppended((appended) => recordEvents(metrics, appended))
  events.worker.on('settled', (s) =>
    metrics.deliveryAttempt(s.disabled ? 'disabled' : s.status === 'succeeded' ? 'success' : s.status === 'pending' ? 'retry' : 'failed', s.durationMs / 1000),
  )
  const countRows = (sql: string) => () => (db.sqlite.prepare(sql).get() as { n: number }).n
  metrics.queueDepth('outbound', countRows("SELECT COUNT(*) AS n FROM messages WHERE direction = 'outbound' AND status = 'queued'"))
  metrics.queueDepth('deliveries', countRows("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'"))
  const pairingLinks = new PairingLinks(secretKey, config.publicUrl, config.pairing.linkTtlSeconds)
  const app = await buildApp({ config, logger, db, instances, manager, adminTokenHash: admin.hash, messages: messaging.service, events, metrics, pairingLinks })
  let restoring: Promise<void> = Promise.resolve()
  const eventRetention = new EventRetention({ db, retentionDays: config.events.retentionDays, logger: logger.child({ module: 'events' }) })
  const messageRetention = new MessageRetention({ db, retentionDays: config.messages.retentionDays, logger: logger.child({ module: 'messages' }) })
  // Old rows out: sent content for retry receipts, recipient lookups past their TTL, finished events with their
  // deliveries, and finished messages (the last two in chunks, async).
  const prune = () => {
    eventRetention.sweepInBackground()
    messageRetention.sweepInBackground()
    try {
      sentMessages.prune()
      messaging.recipients.prune()
    } catch (err) {
      // A timer has no caller to throw to: an error here would end the process. The next hour tries again.
      logger.warn({ err }, 'pruning sent content and recipient lookups failed')
    }
  }
  const pruneTimer = setInterval(prune, 3600_000)
  pruneTimer.unref()
  return {
    app,
    db,
    manager,
    messaging,
    metrics,
    events,
    eventRetention,
    messageRetention,
    generatedAdminToken: admin.generated,
    async listen() {
      // With instances to restore, their supervisors (which need Baileys) must exist before the first request asks
      // for them. With none, the server answers first and Baileys loads behind it, for the first instance created.
      const restore = !instances.isEmpty()
      if (restore) await whatsapp.load()
      const address = await app.listen({ port: config.port, host: config.host })
      events.start()
      prune()
      restoring = manager.restoreAll().catch((err: unknown) => logger.error({ err }, 'restoring instances failed'))
      if (!restore) whatsapp.load().catch((err: unknown) => logger.error({ err }, 'loading the WhatsApp runtime failed'))
      return address
    },
    async close() {
      clearInterval(pruneTimer)
      await app.close()
      messaging.service.stop()
      await messaging.dispatcher.stop()
      manager.shutdown()
      await events.stop()
      await Promise.all([eventRetention.stop(), messageRetention.stop()])
      await restoring
      await db.close()
    },
  }
}

function countStatuses(manager: InstanceManager): Partial<Record<string, number>> {
  const counts: Partial<Record<string, number>> = {}
  for (const instance of manager.list()) counts[instance.status] = (counts[instance.status] ?? 0) + 1
  return counts
}
