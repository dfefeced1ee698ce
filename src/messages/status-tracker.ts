import { EventEmitter } from 'node:events'
import type { Database } from '../db/database.js'
import { ERRORS, type ErrorCode } from '../errors.js'
import type { Outbox } from '../events/outbox.js'
import type { Message, MessageRepository } from './repository.js'
import { canTransition } from './status.js'
import type { MessageStatus, StatusReport } from './types.js'
import { messageEventData } from './views.js'

export interface StatusChangeEvent {
  row: Message
  from: MessageStatus
}

/** WhatsApp ack errors that mean "slow down" (Cloud API 429; 463 reach-out time-lock / missing tctoken). */
export const RATE_ERROR_CODES: ReadonlySet<number> = new Set([429, 463])

/**
 * Moves outbound messages through their statuses: the row and its `message.status` event in one transaction,
 * never backwards. Emits `change` in-process once that is committed (for `?wait=sent` and the sender's rate pause).
 *
 * The changes of one event-loop turn share one commit (Database.groupCommit): every message sent brings its server ack and
 * at least one receipt, and a commit each made status changes the largest database cost of sending (bench/sends.ts).
 * Each change reads its row again inside the commit, so changes queued together still apply in order. Baileys has
 * answered a receipt before we see it, so a crash in between always lost it (the message keeps its last recorded
 * status); the shared commit widens that window by at most one event-loop turn.
 */
export class StatusTracker extends EventEmitter<{ change: [StatusChangeEvent] }> {
  constructor(
    private readonly deps: {
      db: Database
      repo: MessageRepository
      outbox: Outbox
      tenantOf: (instanceId: string) => string | null
      now?: () => Date
    },
  ) {
    super()
    this.setMaxListeners(0)
  }

  /**
   * A report from WhatsApp about one of our messages; unknown ids (not sent through the API) are ignored. Settles
   * once recorded: with the change, or undefined when there was none.
   */
  report(instanceId: string, report: StatusReport): Promise<StatusChangeEvent | undefined> {
    return this.record(() => {
      const row = this.deps.repo.findOutboundByWaId(instanceId, report.waMessageId)
      if (!row) return undefined
      if (report.status === 'failed') {
        const code: ErrorCode = report.waErrorCode !== undefined && RATE_ERROR_CODES.has(report.waErrorCode) ? 'WHATSAPP_RATE_LIMITED' : 'WHATSAPP_REJECTED'
        return this.transition(row, 'failed', failure(code, report.waErrorCode ?? null))
      }
      return this.transition(row, report.status)
    })
  }

  /** Marks a message failed with one of the registry's codes (and WhatsApp's own, when it gave one). */
  fail(row: Message, code: ErrorCode, waCode: number | null = null, message?: string): Promise<StatusChangeEvent | undefined> {
    return this.record(() => this.transition(row, 'failed', failure(code, waCode, message)))
  }

  /**
   * Notes that the message goes to the socket now (`send_started_at`, `attempts`), with the next commit of changes:
   * nothing waits on it, and it is queued before the message's own server ack can be.
   */
  sendStarted(id: string): Promise<void> {
    const at = (this.deps.now?.() ?? new Date()).toISOString()
    return this.deps.db.groupCommit(() => this.deps.repo.markSendStarted(id, at))
  }

  private async record(write: () => StatusChangeEvent | undefined): Promise<StatusChangeEvent | undefined> {
    const change = await this.deps.db.groupCommit(write)
    if (change) this.emit('change', change)
    return change
  }

  /** Inside the batch's transaction. */
  private transition(row: Message, to: MessageStatus, error?: { code: string; message: string; waCode: number | null }): StatusChangeEvent | undefined {
    const from = row.status as MessageStatus
    if (!canTransition(from, to)) return undefined
    const at = (this.deps.now?.() ?? new Date()).toISOString()
    if (!this.deps.repo.setStatus(row.id, from, to, at, error)) return undefined
    const fresh = this.deps.repo.get(row.id)
    if (!fresh) return undefined
    this.deps.outbox.append({
      type: 'message.status',
      instanceId: fresh.instance_id,
      tenantId: this.deps.tenantOf(fresh.instance_id),
      // The status it left too: a receipt can overtake the server ack (queued → delivered), and whoever counts
      // accepted messages (metrics, a consumer's own) needs to see that it left `queued`.
      data: { ...messageEventData(fresh), previous_status: from },
      dedupeKey: `message.status:${fresh.instance_id}:${fresh.wa_message_id}:${to}`,
      occurredAt: at,
    })
    return { row: fresh, from }
  }
}

function failure(code: ErrorCode, waCode: number | null, message?: string): { code: string; message: string; waCode: number | null } {
  return { code, message: message ?? (waCode !== null ? `${ERRORS[code].message} (WhatsApp error ${waCode})` : ERRORS[code].message), waCode }
}
