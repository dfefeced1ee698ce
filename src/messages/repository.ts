import type { Statement } from 'better-sqlite3'
import type { Selectable } from 'kysely'
import type { Database } from '../db/database.js'
import type { MessageRow } from '../db/schema.js'
import type { MessageStatus, OutboundPayload, StoredMedia } from './types.js'

export type Message = Selectable<MessageRow>

export interface NewOutbound {
  id: string
  instanceId: string
  waMessageId: string
  phone: string
  jid: string | null
  type: string
  text: string | null
  payload: OutboundPayload
  media: StoredMedia | null
  quotedWaId: string | null
  at: string
}

export interface ListFilter {
  instanceId?: string
  phone?: string
  direction?: 'inbound' | 'outbound'
  /** Rows older than this seq (the page goes newest first). */
  beforeSeq?: number
  limit: number
}

/** Rows of the `messages` table: the outbound queue and the history. Synchronous; callers group writes in db.tx. */
export class MessageRepository {
  private insertStatement: Statement | undefined

  constructor(private readonly db: Database) {}

  /**
   * Inserts a queued outbound row and answers it (RETURNING: no second statement to read it back). The hot path
   * of the send API, so the statement is prepared once instead of compiled by Kysely on every request.
   */
  insertOutbound(m: NewOutbound): Message {
    this.insertStatement ??= this.db.sqlite.prepare(
      `INSERT INTO messages (id, instance_id, direction, source, wa_message_id, phone, jid, type, text, payload, media,
         quoted_wa_id, status, attempts, created_at, updated_at)
       VALUES (?, ?, 'outbound', 'api', ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?) RETURNING *`,
    )
    const row = this.insertStatement.get(
      m.id,
      m.instanceId,
      m.waMessageId,
      m.phone,
      m.jid,
      m.type,
      m.text,
      JSON.stringify(m.payload),
      m.media ? JSON.stringify(m.media) : null,
      m.quotedWaId,
      m.at,
      m.at,
    ) as Message | undefined
    if (!row) throw new Error('insert returned no row')
    return row
  }

  get(id: string): Message | undefined {
    return this.db.first(this.db.qb.selectFrom('messages').selectAll().where('id', '=', id))
  }

  /** By our id (`msg_…`) or WhatsApp's, within one instance. */
  findByAnyId(instanceId: string, id: string): Message | undefined {
    const q = this.db.qb.selectFrom('messages').selectAll().where('instance_id', '=', instanceId)
    return this.db.first(q.where('id', '=', id)) ?? this.db.first(q.where('wa_message_id', '=', id).orderBy('seq', 'desc'))
  }

  findOutboundByWaId(instanceId: string, waMessageId: string): Message | undefined {
    return this.db.first(
      this.db.qb
        .selectFrom('messages')
        .selectAll()
        .where('instance_id', '=', instanceId)
        .where('wa_message_id', '=', waMessageId)
        .where('direction', '=', 'outbound'),
    )
  }

  /** The oldest queued outbound row after `afterSeq`: the send queue is the table, in seq order. */
  nextQueued(instanceId: string, afterSeq: number): Message | undefined {
    return this.db.first(
      this.db.qb
        .selectFrom('messages')
        .selectAll()
        .where('instance_id', '=', instanceId)
        .where('status', '=', 'queued')
        .where('direction', '=', 'outbound')
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(1),
    )
  }

  /** Instances with queued outbound rows (boot: who has work). */
  instancesWithQueued(): string[] {
    return this.db
      .all(this.db.qb.selectFrom('messages').select('instance_id').where('status', '=', 'queued').where('direction', '=', 'outbound').distinct())
      .map((r) => r.instance_id)
  }

  setJid(id: string, jid: string, at: string): void {
    this.db.run(this.db.qb.updateTable('messages').set({ jid, updated_at: at }).where('id', '=', id))
  }

  /** Recorded before the socket sees the message: a row with this set and no ack was (maybe) sent. */
  markSendStarted(id: string, at: string): void {
    this.db.run(
      this.db.qb
        .updateTable('messages')
        .set((eb) => ({ send_started_at: at, attempts: eb('attempts', '+', 1), updated_at: at }))
        .where('id', '=', id)
        .where('status', '=', 'queued'),
    )
  }

  /** Compare-and-set on the status, so a stale reader cannot overwrite a newer status. */
  setStatus(
    id: string,
    from: MessageStatus,
    to: MessageStatus,
    at: string,
    error?: { code: string; message: string; waCode: number | null },
  ): boolean {
    return (
      this.db.run(
        this.db.qb
          .updateTable('messages')
          .set({
            status: to,
            updated_at: at,
            ...(error ? { error_code: error.code, error_message: error.message, error_wa_code: error.waCode } : {}),
          })
          .where('id', '=', id)
          .where('status', '=', from),
      ) === 1
    )
  }

  list(filter: ListFilter): Message[] {
    let q = this.db.qb.selectFrom('messages').selectAll()
    if (filter.instanceId !== undefined) q = q.where('instance_id', '=', filter.instanceId)
    if (filter.phone !== undefined) q = q.where('phone', '=', filter.phone)
    if (filter.direction !== undefined) q = q.where('direction', '=', filter.direction)
    if (filter.beforeSeq !== undefined) q = q.where('seq', '<', filter.beforeSeq)
    return this.db.all(q.orderBy('seq', 'desc').limit(filter.limit))
  }

  countOutbound(instanceId?: string): number {
    let q = this.db.qb.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('direction', '=', 'outbound')
    if (instanceId !== undefined) q = q.where('instance_id', '=', instanceId)
    return Number(this.db.first(q)?.n ?? 0)
  }
}
