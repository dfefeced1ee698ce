import type { Config } from '../config.js'
import type { Database } from '../db/database.js'
import type { Outbox } from '../events/outbox.js'
import type { InstanceRepository } from '../instances/repository.js'
import type { InstanceStatus } from '../instances/status.js'
import type { Logger } from '../logger.js'
import type { MediaInput, PreparedMedia } from '../media/index.js'
import { IdempotencyStore } from './idempotency.js'
import { OutboundMediaStore } from './media-store.js'
import { RecipientResolver } from './recipients.js'
import { MessageRepository } from './repository.js'
import { OutboundDispatcher } from './sender.js'
import { MessageService } from './service.js'
import { StatusTracker } from './status-tracker.js'
import type { MediaMessageType, StoredMedia } from './types.js'

export interface MessagingDeps {
  config: Pick<Config, 'dataDir' | 'sending'>
  db: Database
  outbox: Outbox
  instances: InstanceRepository
  logger: Logger
  instanceStatus(instanceId: string): InstanceStatus
  prepareMedia(kind: MediaMessageType, input: MediaInput): Promise<PreparedMedia>
}

/** Builds the sending capability; the composition root attaches sockets to `dispatcher` and routes to `service`. */
export function createMessaging(deps: MessagingDeps) {
  const { db, config } = deps
  const repo = new MessageRepository(db)
  // Read for every event (each send, each status change). An instance's tenant is set at creation and never
  // changes, so a remembered answer stays exact; the map is only bounded.
  const tenants = new Map<string, string | null>()
  const tenantOf = (id: string): string | null => {
    const known = tenants.get(id)
    if (known !== undefined) return known
    const row = deps.instances.get(id)
    if (!row) return null
    if (tenants.size >= 10_000) tenants.clear()
    tenants.set(id, row.tenant_id)
    return row.tenant_id
  }
  const tracker = new StatusTracker({ db, repo, outbox: deps.outbox, tenantOf })
  const recipients = new RecipientResolver(db)
  const media = new OutboundMediaStore(config.dataDir)
  const senderLog = deps.logger.child({ module: 'sender' })
  // A message that left `queued` (sent, or finally failed) is never sent again: its media file has done its job.
  tracker.on('change', ({ row, from }) => {
    if (from !== 'queued' || !row.media) return
    media.remove(JSON.parse(row.media) as StoredMedia).catch((err: unknown) => senderLog.warn({ err, messageId: row.id }, 'removing a sent media file failed'))
  })
  const dispatcher = new OutboundDispatcher({
    repo,
    tracker,
    recipients,
    media,
    logger: senderLog,
    pacingMs: (id) => deps.instances.get(id)?.pacing_ms ?? config.sending.pacingMs,
    ratePauseMs: config.sending.ratePauseMs,
  })
  const service = new MessageService({
    db,
    repo,
    idempotency: new IdempotencyStore(db, config.sending.idempotencyTtlMs),
    recipients,
    tracker,
    dispatcher,
    media,
    outbox: deps.outbox,
    instanceStatus: deps.instanceStatus,
    tenantOf,
    prepareMedia: deps.prepareMedia,
    waitSentTimeoutMs: config.sending.waitSentTimeoutMs,
    logger: deps.logger.child({ module: 'messages' }),
  })
  /**
   * An instance is being deleted: the files of its unsent media go with its rows, before its DELETE answers (the
   * boot sweep would only find them at the next start). Synchronous: it runs inside the manager's event.
   */
  const forgetInstanceMedia = (instanceId: string): void => {
    for (const stored of repo.queuedMedia(instanceId)) media.removeNow(JSON.parse(stored) as StoredMedia)
  }
  return { repo, tracker, dispatcher, service, recipients, forgetInstanceMedia }
}

export type Messaging = ReturnType<typeof createMessaging>
