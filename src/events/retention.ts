import type { Database } from '../db/database.js'
import { RetentionSweep, type SweptRow } from '../db/retention-sweep.js'
import type { Logger } from '../logger.js'

export interface EventRetentionDeps {
  db: Database
  /** 0 keeps events forever */
  retentionDays: number
  logger: Logger
  now?: () => number
  /** events per transaction (tests use small chunks) */
  chunkSize?: number
}

interface EventRow extends SweptRow {
  id: string
}

/**
 * Deletes events older than the retention (`occurred_at`) whose deliveries are all over (succeeded or failed), and
 * with them their deliveries and the attempt logs these carry (ON DELETE CASCADE, through the deliveries_event
 * index: no index added). An event with a pending delivery stays, however old: delivery
 * is at least once. The walk (seq order, chunks, stop at the first recent event) is RetentionSweep's.
 */
export class EventRetention extends RetentionSweep<EventRow> {
  constructor(deps: EventRetentionDeps) {
    const window = deps.db.sqlite.prepare(`SELECT seq, id, occurred_at AS at FROM events WHERE seq > ? ORDER BY seq LIMIT ?`)
    // Anything but the two final states keeps the event, so a state added later is safe by default.
    const unfinished = deps.db.sqlite
      .prepare(`SELECT 1 FROM deliveries WHERE event_id = ? AND status NOT IN ('succeeded', 'failed') LIMIT 1`)
      .pluck()
    const remove = deps.db.sqlite.prepare(`DELETE FROM events WHERE seq = ?`)
    super({
      ...deps,
      what: 'old events and their deliveries',
      table: {
        window: (afterSeq, limit) => window.all(afterSeq, limit) as EventRow[],
        keep: (row) => unfinished.get(row.id) !== undefined,
        delete: (row) => remove.run(row.seq).changes,
      },
    })
  }
}
