import { phoneCandidates } from './phone.js'
import type { Logger } from '../logger.js'
import type { Database } from '../db/database.js'
import { AppError } from '../errors.js'
import type { Outbox } from '../events/outbox.js'
import type { InstanceStatus } from '../instances/status.js'
import type { MediaInput, PreparedMedia } from '../media/index.js'
import { IdempotencyStore, requestFingerprint } from './idempotency.js'
import type { OutboundMediaStore } from './media-store.js'
import type { RecipientResolver, Resolution } from './recipients.js'
import type { Message, MessageRepository } from './repository.js'
import type { OutboundDispatcher } from './sender.js'
import type { StatusTracker } from './status-tracker.js'
import { MEDIA_MESSAGE_TYPES, type MediaMessageType, type MessageRef, type OutboundPayload, type SendCommand, type StoredMedia } from './types.js'
import { parseSendRequest } from './validate.js'
import { eventDataOf, messageView, type MessageView } from './views.js'
import { newId } from '../ids.js'
import { newWaMessageId } from './wa-message-id.js'

export interface MessageServiceDeps {
  db: Database
  repo: MessageRepository
  idempotency: IdempotencyStore
  recipients: RecipientResolver
  tracker: StatusTracker
  dispatcher: OutboundDispatcher
  media: OutboundMediaStore
  outbox: Outbox
  instanceStatus(instanceId: string): InstanceStatus
  /** The instance's tenant, for the event envelope. */
  tenantOf(instanceId: string): string | null
  prepareMedia(kind: MediaMessageType, input: MediaInput): Promise<PreparedMedia>
  waitSentTimeoutMs: number
  logger: Logger
  now?: () => Date
}

export interface SendRequest {
  instanceId: string
  type: string
  body: unknown
  idempotencyKey?: string
  /** `?wait=sent`: answer after the server ack, or with the current status at the timeout. */
  waitSent?: boolean
}

/** The send answer: Connexa's top-level `message_id` and `status`, plus the Plixa envelope around the message. */
export interface SendAnswer {
  message_id: string
  status: string
  wa_message_id: string
  data: MessageView
  meta: null
  errors: null
}

export interface SendResult {
  status: number
  /** The JSON body; a replay answers the stored text byte for byte. */
  body: SendAnswer | string
  replayed: boolean
}

/**
 * The send use case: validate → claim the idempotency key → look up what the message refers to, prepare media,
 * resolve the recipient → persist row + event + stored answer in one transaction → wake the instance's sender.
 *
 * When the recipient is resolved: while the instance is `connected` at request time, so an unknown number is a
 * synchronous 422 PHONE_NOT_ON_WHATSAPP; while it is `connecting` only the cache is consulted and the lookup
 * happens at send time, where an unknown number marks the message failed with the same code (a message.status
 * event tells the client). A lookup that times out also defers to send time.
 */
export class MessageService {
  private sweepTimer: NodeJS.Timeout | undefined

  constructor(private readonly deps: MessageServiceDeps) {}

  /**
   * Boot: claims a crashed process left behind are void, and so are media files of messages no longer queued;
   * then expired answers are swept every hour.
   */
  start(): void {
    this.deps.idempotency.sweep({ includeInProgress: true })
    this.deps.media.sweep((id) => this.deps.repo.get(id)?.status === 'queued')
    this.sweepTimer = setInterval(() => {
      try {
        this.deps.idempotency.sweep()
      } catch (err) {
        // A timer has no caller to throw to: an error here would end the process. The next hour tries again.
        this.deps.logger.warn({ err }, 'sweeping expired idempotency keys failed')
      }
    }, 3600_000)
    this.sweepTimer.unref()
  }

  stop(): void {
    clearInterval(this.sweepTimer)
  }

  async send(req: SendRequest): Promise<SendResult> {
    const { instanceId } = req
    const cmd = parseSendRequest(req.type, req.body)
    // The stored answer first: a retried request gets it even once the instance has gone down since.
    const key = req.idempotencyKey
    if (key !== undefined) {
      IdempotencyStore.assertValidKey(key)
      const claim = this.deps.idempotency.claim(instanceId, key, requestFingerprint(req.type, req.body))
      if (claim.kind === 'replay') return { status: claim.status, body: claim.body, replayed: true }
    }
    let stored: StoredMedia | undefined
    try {
      const instanceStatus = this.deps.instanceStatus(instanceId)
      if (instanceStatus === 'pending_qr' || instanceStatus === 'disconnected') throw new AppError('INSTANCE_NOT_CONNECTED')
      const id = newId('msg')
      const payload = this.payloadOf(instanceId, cmd)
      const found = this.deps.recipients.cached(instanceId, cmd.phone)
      const jid = jidOf(found.kind === 'unknown' ? await this.lookUp(instanceId, cmd.phone, instanceStatus) : found)
      if ('media' in cmd) stored = await this.deps.media.write(id, await this.deps.prepareMedia(cmd.type as MediaMessageType, cmd.media))
      const answer = await this.commit(instanceId, {
        id,
        cmd,
        payload,
        jid,
        media: stored ?? null,
        key,
      })
      this.deps.dispatcher.notify(instanceId)
      return { status: 200, body: req.waitSent ? answerOf(messageView(await this.waitSent(id))) : answer, replayed: false }
    } catch (err) {
      if (key !== undefined) this.deps.idempotency.release(instanceId, key)
      await this.deps.media.remove(stored).catch(() => undefined)
      throw err
    }
  }

  /** A message of the instance (or any, for the admin). Other instances' messages do not exist for the caller. */
  get(id: string, instanceId?: string): MessageView {
    const row = this.deps.repo.get(id)
    if (!row || (instanceId !== undefined && row.instance_id !== instanceId)) throw new AppError('MESSAGE_NOT_FOUND')
    return messageView(row)
  }

  list(filter: { instanceId?: string; phone?: string; direction?: 'inbound' | 'outbound'; cursor?: string; limit: number }): {
    items: MessageView[]
    nextCursor: string | null
  } {
    const beforeSeq = filter.cursor !== undefined ? decodeCursor(filter.cursor) : undefined
    const rows = this.deps.repo.list({
      limit: filter.limit,
      ...(filter.instanceId !== undefined ? { instanceId: filter.instanceId } : {}),
      ...(filter.phone !== undefined ? { phone: filter.phone } : {}),
      ...(filter.direction !== undefined ? { direction: filter.direction } : {}),
      ...(beforeSeq !== undefined ? { beforeSeq } : {}),
    })
    const last = rows.at(-1)
    return { items: rows.map(messageView), nextCursor: rows.length === filter.limit && last ? encodeCursor(last.seq) : null }
  }

  private payloadOf(instanceId: string, cmd: SendCommand): OutboundPayload {
    const payload: OutboundPayload = {}
    if ('quotedId' in cmd && cmd.quotedId !== undefined) {
      const quoted = this.deps.repo.findByAnyId(instanceId, cmd.quotedId)
      if (!quoted || !sameChat(quoted.phone, cmd.phone)) throw new AppError('QUOTED_MESSAGE_NOT_FOUND', undefined, { field: 'data.quoted_message_id' })
      payload.quoted = refOf(quoted)
    }
    switch (cmd.type) {
      case 'location':
        payload.location = {
          latitude: cmd.latitude,
          longitude: cmd.longitude,
          ...(cmd.name ? { name: cmd.name } : {}),
          ...(cmd.address ? { address: cmd.address } : {}),
        }
        break
      case 'contact':
        payload.contact = { name: cmd.contactName, phone: cmd.contactPhone }
        break
      case 'reaction': {
        const target = this.deps.repo.findByAnyId(instanceId, cmd.targetId)
        if (!target || !sameChat(target.phone, cmd.phone)) throw new AppError('TARGET_MESSAGE_NOT_FOUND', undefined, { field: 'data.message_id' })
        payload.reaction = { emoji: cmd.emoji, target: refOf(target) }
        break
      }
      default:
        if ((MEDIA_MESSAGE_TYPES as readonly string[]).includes(cmd.type) && 'caption' in cmd && cmd.caption) payload.caption = cmd.caption
    }
    return payload
  }

  /** Not in the cache: ask WhatsApp now while connected; otherwise the sender asks at send time. */
  private async lookUp(instanceId: string, phone: string, status: InstanceStatus): Promise<Resolution> {
    const messenger = status === 'connected' ? this.deps.dispatcher.messenger(instanceId) : undefined
    return messenger ? this.deps.recipients.lookUp(instanceId, phone, messenger) : { kind: 'unknown' }
  }

  /**
   * One transaction: the queued row, its message.outbound event and the idempotency answer commit together (grouped
   * with the other requests of this tick, see Database.groupCommit); resolves after the commit.
   */
  private commit(
    instanceId: string,
    m: { id: string; cmd: SendCommand; payload: OutboundPayload; jid: string | null; media: StoredMedia | null; key: string | undefined },
  ): Promise<SendAnswer> {
    const { repo } = this.deps
    const at = (this.deps.now?.() ?? new Date()).toISOString()
    const tenantId = this.deps.tenantOf(instanceId)
    const waMessageId = newWaMessageId()
    const text = m.cmd.type === 'text' ? m.cmd.text : (m.payload.caption ?? null)
    return this.deps.db.groupCommit(() => {
      const row = repo.insertOutbound({
        id: m.id,
        instanceId,
        waMessageId,
        phone: m.cmd.phone,
        jid: m.jid,
        type: m.cmd.type,
        text,
        payload: m.payload,
        media: m.media,
        quotedWaId: m.payload.quoted?.waMessageId ?? null,
        at,
      })
      const view = messageView(row)
      // No dedupe key: the WhatsApp id was generated a moment ago and the row's UNIQUE constraint, in this same
      // transaction, already makes a second event for it impossible (and the dedupe lookup would cost a query).
      this.deps.outbox.append({ type: 'message.outbound', instanceId, tenantId, data: eventDataOf(view), occurredAt: at })
      const answer = answerOf(view)
      if (m.key !== undefined) this.deps.idempotency.complete(instanceId, m.key, 200, JSON.stringify(answer))
      return answer
    })
  }

  private waitSent(id: string): Promise<Message> {
    const row = this.deps.repo.get(id)
    if (!row || row.status !== 'queued') return Promise.resolve(row as Message)
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.deps.tracker.off('change', onChange)
        resolve(this.deps.repo.get(id) ?? row)
      }
      const onChange = ({ row: changed }: { row: Message }) => {
        if (changed.id === id) done()
      }
      const timer = setTimeout(done, this.deps.waitSentTimeoutMs)
      this.deps.tracker.on('change', onChange)
    })
  }
}

function answerOf(view: MessageView): SendAnswer {
  return { message_id: view.message_id, status: view.status, wa_message_id: view.wa_message_id, data: view, meta: null, errors: null }
}

function jidOf(found: Resolution): string | null {
  if (found.kind === 'not_on_whatsapp') throw new AppError('PHONE_NOT_ON_WHATSAPP', undefined, { field: 'phone' })
  return found.kind === 'jid' ? found.jid : null
}

function refOf(row: Message): MessageRef {
  return { waMessageId: row.wa_message_id, fromMe: row.direction === 'outbound', text: row.text, type: row.type }
}

function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString('base64url')
}

function decodeCursor(cursor: string): number {
  const match = /^s:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!match?.[1]) throw new AppError('VALIDATION_FAILED', 'cursor is not one this API handed out', { field: 'cursor' })
  return Number(match[1])
}

/**
 * A quote or a reaction names a message of the chat it is sent to: WhatsApp ignores one that points into another
 * chat, so the API would answer 200 for nothing. Either form of a Brazilian mobile is the same chat.
 */
function sameChat(messagePhone: string, recipientPhone: string): boolean {
  return phoneCandidates(recipientPhone).includes(messagePhone)
}
