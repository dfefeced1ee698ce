import { readFile } from 'node:fs/promises'
import type { Agent } from 'undici'
import type { Config } from '../config.js'
import type { Database } from '../db/database.js'
import { InboundMediaStore } from '../inbound/media-store.js'
import { MediaLinks } from '../inbound/media-links.js'
import { InboundRecording } from '../inbound/recorder.js'
import type { InstanceManager } from '../instances/manager.js'
import type { Logger } from '../logger.js'
import type { Sealer } from '../security/sealing.js'
import type { WhatsAppLoader } from '../whatsapp/loader.js'
import { DeliveryClient, type DeliveryPoster } from './delivery-client.js'
import { DeliveryWorker } from './delivery-worker.js'
import { publishLifecycleEvents } from './lifecycle.js'
import { LiveEventStream } from './live-stream.js'
import type { Outbox } from './outbox.js'
import type { SinkDirectory, SinkTarget } from './sinks.js'
import { TenantService } from './tenants.js'
import { WebhookService } from './webhooks.js'

export interface EventDeliveryDeps {
  config: Config
  db: Database
  manager: InstanceManager
  outbox: Outbox
  sinks: SinkDirectory
  /** purpose 'webhooks' */
  sealer: Sealer
  /** the daemon secret (media links are signed with a key derived from it) */
  secretKey: string
  /** SSRF-guarded: inbound media hosts come from messages anyone can send */
  mediaAgent: Agent
  /** inbound handling and media downloads run on sockets, hence only once it is loaded */
  whatsapp: WhatsAppLoader
  logger: Logger
  /** tests and benchmarks inject a clock or an HTTP client */
  now?: () => number
  client?: DeliveryPoster
}

export type EventDelivery = ReturnType<typeof createEventDelivery>

/**
 * Inbound messages, lifecycle events and their delivery, wired together: the composition root calls this once,
 * `start()` on listen and `stop()` on close.
 */
export function createEventDelivery(deps: EventDeliveryDeps) {
  const { config, db, manager, outbox, sinks, logger } = deps
  const log = logger.child({ module: 'events' })
  // Several sinks can share an origin (tenants' cores on one host): the worker bounds each sink's attempts, and the
  // origin's pool must not bound them again, or one hanging sink would hold the connections its neighbours need.
  const maxInFlight = 512
  const client =
    deps.client ?? new DeliveryClient({ allow: config.allowPrivateCidrs, timeoutMs: config.webhooks.timeoutMs, connections: maxInFlight })
  const links = new MediaLinks(deps.secretKey, config.publicUrl, config.media.linkTtlSeconds, deps.now)
  const media = new InboundMediaStore({
    db,
    dataDir: config.dataDir,
    logger: log,
    retentionDays: config.media.retentionDays,
    maxBytes: (type) => (type === 'document' ? config.limits.documentMaxBytes : config.limits.mediaMaxBytes),
    fetch: (source, maxBytes) =>
      deps.whatsapp.runtime.downloadInboundMedia(source, { maxBytes, timeoutMs: config.limits.mediaFetchTimeoutMs, agent: deps.mediaAgent, anyHost: config.waWsUrl !== undefined }),
    ...(deps.now ? { now: deps.now } : {}),
  })
  const worker = new DeliveryWorker({
    db,
    sinks,
    client,
    schedule: config.webhooks.retryScheduleMs,
    perEndpointConcurrency: config.webhooks.perEndpointConcurrency,
    maxInFlight,
    logger: log,
    takeBody: (eventId) => outbox.takeBody(eventId),
    renderBody: (body, target) => renderBody(body, target, media, config.media.inlineMaxBytes),
    ...(deps.now ? { now: deps.now } : {}),
  })
  const webhooks = new WebhookService({
    db,
    sealer: deps.sealer,
    sinks,
    outbox,
    allow: config.allowPrivateCidrs,
    secretGraceMs: config.webhooks.secretGraceMs,
    instanceExists: (id) => manager.list().some((i) => i.id === id),
    wake: (sink) => worker.wake(sink ? [sink] : undefined),
    ...(deps.now ? { now: deps.now } : {}),
  })
  const tenants = new TenantService({ db, sealer: deps.sealer, sinks, allow: config.allowPrivateCidrs })
  const stream = new LiveEventStream(outbox)
  const recording = new InboundRecording({ db, outbox, media, links, ...(deps.now ? { now: deps.now } : {}) })

  outbox.setDeliveryQueue(worker)
  const unpublish = publishLifecycleEvents(manager, outbox, log)
  // Attach on socket creation, not on `open`: the offline backlog can be flushed before `open` fires.
  const onSocket: Parameters<typeof manager.on<'socket'>>[1] = (instanceId, connection) =>
    deps.whatsapp.runtime.attachInbound(connection, recording.forInstance(instanceId), log.child({ instanceId }), { sweepMs: config.events.journalSweepMs })
  manager.on('socket', onSocket)
  let sweepTimer: NodeJS.Timeout | undefined
  const sweep = () => {
    try {
      media.sweep()
    } catch (err) {
      log.warn({ err }, 'media sweep failed')
    }
  }
  // A deleted instance's media rows went with it (ON DELETE CASCADE); the sweep removes their files.
  manager.on('deleted', sweep)

  return {
    webhooks,
    tenants,
    worker,
    media,
    links,
    recording,
    stream,
    start(): void {
      worker.start()
      media.resumePending()
      sweep()
      sweepTimer = setInterval(sweep, 3600_000)
      sweepTimer.unref()
    },
    async stop(): Promise<void> {
      manager.off('socket', onSocket)
      manager.off('deleted', sweep)
      unpublish()
      outbox.setDeliveryQueue(undefined)
      if (sweepTimer) clearInterval(sweepTimer)
      // The upserts still queued commit now, while the worker can still take their deliveries.
      db.flushGroupCommit()
      await worker.stop()
      await client.close()
    },
  }
}

/**
 * A webhook with `include_media_base64` gets small inbound media inline (`data.media.base64`), downloading it first
 * when needed (bounded by the download timeout). Anything else is sent exactly as stored.
 */
function renderBody(stored: Buffer, target: SinkTarget, media: InboundMediaStore, inlineMaxBytes: number): Buffer | Promise<Buffer> {
  if (!target.includeMediaBase64 || !stored.includes('"media":{"id":"med_')) return stored
  return inlineMedia(stored, media, inlineMaxBytes)
}

async function inlineMedia(stored: Buffer, media: InboundMediaStore, inlineMaxBytes: number): Promise<Buffer> {
  const envelope = JSON.parse(stored.toString('utf8')) as { data: { media?: { id: string; size: number | null; base64?: string } } }
  const m = envelope.data.media
  if (!m || (m.size ?? 0) > inlineMaxBytes) return stored
  try {
    const row = await media.ensure(m.id)
    if (row.size <= inlineMaxBytes) {
      m.base64 = (await readFile(row.path)).toString('base64')
    }
  } catch {
    // the link still works later; deliver without the inline copy rather than not at all
  }
  return Buffer.from(JSON.stringify(envelope), 'utf8')
}
