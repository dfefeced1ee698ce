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
import type { MediaMessageType } from './types.js'

export { MessageService } from './service.js'
export { OutboundDispatcher } from './sender.js'
export type { Messenger } from './ports.js'

export interface MessagingDeps {
  config: Pick<Config, 'dataDir' | 'sending'>
  db: Database
  outbox: Outbox
  instances: InstanceRepository
  logger: Logger
  instanceStatus(instanceId: string): InstanceStatus
  prepareMedia(kind: MediaMessageType, input: MediaInput): Promise<PreparedMedia>
  newWaMessageId(ownPhone: string | undefined): string
}

/** Builds the sending capability; the composition root attaches sockets to `dispatcher` and routes to `service`. */
export function createMessaging(deps: MessagingDeps) {
  const { db, config } = deps
  const repo = new MessageRepository(db)
  const tenantOf = (id: string) => deps.instances.get(id)?.tenant_id ?? null
  const tracker = new StatusTracker({ db, repo, outbox: deps.outbox, tenantOf })
  const recipients = new RecipientResolver(db)
  const media = new OutboundMediaStore(config.dataDir)
  const infoCache = new Map<string, { info: { tenantId: string | null; phone: string | undefined }; until: number }>()
  const dispatcher = new OutboundDispatcher({
    repo,
    tracker,
    recipients,
    media,
    logger: deps.logger.child({ module: 'sender' }),
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
    instanceInfo: (id) => {
      // Read on every send; the tenant never changes and the phone only at pairing, so a few seconds' cache is exact
      // enough (the phone only seeds the id generator) and saves a query per request.
      const now = Date.now()
      const hit = infoCache.get(id)
      if (hit && hit.until > now) return hit.info
      const row = deps.instances.get(id)
      const info = { tenantId: row?.tenant_id ?? null, phone: row?.phone ?? undefined }
      if (infoCache.size > 10_000) infoCache.clear()
      infoCache.set(id, { info, until: now + 5_000 })
      return info
    },
    prepareMedia: deps.prepareMedia,
    newWaMessageId: deps.newWaMessageId,
    waitSentTimeoutMs: config.sending.waitSentTimeoutMs,
  })
  return { repo, tracker, dispatcher, service }
}

export type Messaging = ReturnType<typeof createMessaging>
