import { performance } from 'node:perf_hooks'
import type { Database } from './database.js'
import type { Logger } from '../logger.js'

const DAY_MS = 86_400_000

/**
 * A transaction ends after this many rows or this long, whichever comes first; between two the sweep yields to the
 * event loop. Measured for events on a busy 2-core machine (events with 3 deliveries and 3 attempts each, 100–440 MiB
 * database): 1,000 events per transaction held the loop 30–70 ms (median), up to 0.5 s; with the 10 ms bound the
 * median was 11 ms. A row that cascades less (a message) only makes a chunk cheaper; the time bound holds either way.
 */
const CHUNK_ROWS = 1000
const CHUNK_MS = 10

/** One row of a table's window: its `seq` (rowid) and its creation time (ISO-8601 UTC, aliased `at`). */
export interface SweptRow {
  seq: number
  at: string
}

/** What one table contributes to the sweep; every call runs inside the sweep's transaction. */
export interface SweptTable<Row extends SweptRow> {
  /** The next `limit` rows after `afterSeq`, in `seq` order. */
  window(afterSeq: number, limit: number): Row[]
  /** An expired row that must stay anyway (work still pending on it); the walk goes on past it. */
  keep(row: Row, cutoff: string): boolean
  /** Deletes the row (and whatever cascades); answers the rows deleted (0 or 1). */
  delete(row: Row): number
}

export interface RetentionSweepDeps<Row extends SweptRow> {
  db: Database
  /** 0 keeps rows forever */
  retentionDays: number
  logger: Logger
  table: SweptTable<Row>
  /** What goes, for the log: "deleted <what>", "deleting <what> failed". */
  what: string
  now?: () => number
  /** rows per transaction (tests use small chunks) */
  chunkSize?: number
}

/**
 * Deletes a table's rows older than the retention, except those the table says to keep.
 *
 * The sweep walks the table in `seq` (rowid) order, oldest first, a chunk per transaction, and stops at the first row
 * inside the retention: the time column has no index, but every producer stamps it with the clock at insert time, so
 * `seq` order is time order. An older row inserted after a newer one (clock steps) waits for a later sweep; the walk
 * never reads the part of the table still inside the retention. Kept rows are read again by every sweep.
 */
export class RetentionSweep<Row extends SweptRow> {
  private readonly now: () => number
  private readonly chunkSize: number
  private running: Promise<number> | undefined
  private stopped = false

  constructor(private readonly deps: RetentionSweepDeps<Row>) {
    this.now = deps.now ?? Date.now
    this.chunkSize = deps.chunkSize ?? CHUNK_ROWS
  }

  /** For timers: starts a sweep (or joins the running one) and logs its failure instead of throwing. */
  sweepInBackground(): void {
    this.sweep().catch((err: unknown) => this.deps.logger.error({ err }, `deleting ${this.deps.what} failed`))
  }

  /** Runs one sweep, or joins the one already running; answers how many rows it deleted. */
  sweep(): Promise<number> {
    this.running ??= this.run().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  /** Waits for a running sweep to finish its current chunk; no chunk starts afterwards (the database may close). */
  async stop(): Promise<void> {
    this.stopped = true
    await this.running?.catch(() => undefined) // its failure was reported to whoever started it
  }

  private async run(): Promise<number> {
    if (this.deps.retentionDays === 0 || this.stopped) return 0
    const cutoff = new Date(this.now() - this.deps.retentionDays * DAY_MS).toISOString()
    let afterSeq = 0
    let deleted = 0
    for (;;) {
      const chunk = this.deps.db.tx(() => this.sweepChunk(afterSeq, cutoff))
      deleted += chunk.deleted
      afterSeq = chunk.lastSeq
      if (chunk.done) break
      // Let requests and WhatsApp traffic through between two transactions.
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (this.stopped) break
    }
    if (deleted > 0) this.deps.logger.info({ deleted, retentionDays: this.deps.retentionDays }, `deleted ${this.deps.what}`)
    return deleted
  }

  /**
   * Inside one transaction, so nothing can change a row's "keep" answer between the check and the delete: deletes
   * the expired rows the table does not keep among the next chunk after `afterSeq`.
   */
  private sweepChunk(afterSeq: number, cutoff: string): { deleted: number; lastSeq: number; done: boolean } {
    const deadline = performance.now() + CHUNK_MS
    const { table } = this.deps
    const rows = table.window(afterSeq, this.chunkSize)
    let deleted = 0
    let lastSeq = afterSeq
    for (const row of rows) {
      // ISO-8601 UTC strings of one format compare in time order.
      if (row.at >= cutoff) return { deleted, lastSeq, done: true }
      // At least one row per transaction, so a slow disk cannot stall the walk.
      if (lastSeq !== afterSeq && performance.now() > deadline) return { deleted, lastSeq, done: false }
      lastSeq = row.seq
      if (!table.keep(row, cutoff)) deleted += table.delete(row)
    }
    return { deleted, lastSeq, done: rows.length < this.chunkSize }
  }
}
