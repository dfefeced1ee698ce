import type { Database } from '../db/database.js'
import { RetentionSweep, type SweptRow } from '../db/retention-sweep.js'
import type { Logger } from '../logger.js'
import type { MessageStatus } from './types.js'

/**
 * Outbound statuses in which the sender is done with a message: it never sends it again (only `queued` rows are
 * sent, in flight or not). Receipts may still move a `sent` row forward; one for a deleted row is ignored, like any
 * receipt of a message not sent through the API. Every other status keeps the row, so a status added later (a new
 * state the sender acts on) is safe by default until it is listed here.
 */
export const FINISHED_OUTBOUND_STATUSES: readonly MessageStatus[] = ['sent', 'delivered', 'read', 'played', 'failed']

export interface MessageRetentionDeps {
  db: Database
  /** 0 keeps messages forever */
  retentionDays: number
  logger: Logger
  now?: () => number
  /** messages per transaction (tests use small chunks) */
  chunkSize?: number
}

interface MessageRow extends SweptRow {
  direction: string
  status: string
  updated_at: string
}

/**
 * Deletes messages (inbound and outbound, with their text) created before the retention whose status is final: every
 * inbound row (received, nothing left to do), and outbound rows in FINISHED_OUTBOUND_STATUSES. A message whose status
 * changed inside the retention stays until that change is itself older (e.g. one sent today after sitting queued for
 * months while its instance was disconnected). The walk (seq order, chunks, stop at the first recent message) is
 * RetentionSweep's; each delete is a rowid delete plus the table's own indexes, nothing cascades.
 *
 * Inbound media rows (`media_files.message_id`) are left alone: nothing reads that column (no foreign key, no index),
 * and the files and rows go with their own retention (MEDIA_RETENTION_DAYS, expires_at).
 */
export class MessageRetention extends RetentionSweep<MessageRow> {
  constructor(deps: MessageRetentionDeps) {
    const window = deps.db.sqlite.prepare(
      `SELECT seq, created_at AS at, direction, status, updated_at FROM messages WHERE seq > ? ORDER BY seq LIMIT ?`,
    )
    const remove = deps.db.sqlite.prepare(`DELETE FROM messages WHERE seq = ?`)
    const finished = new Set<string>(FINISHED_OUTBOUND_STATUSES)
    super({
      ...deps,
      what: 'old messages',
      table: {
        window: (afterSeq, limit) => window.all(afterSeq, limit) as MessageRow[],
        keep: (row, cutoff) => (row.direction !== 'inbound' && !finished.has(row.status)) || row.updated_at >= cutoff,
        delete: (row) => remove.run(row.seq).changes,
      },
    })
  }
}
