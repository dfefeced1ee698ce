import type { Database } from './database.js'
import { databaseWideFailure } from './sqlite-errors.js'

interface Pending {
  write: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/**
 * Group commit: writes queued while a commit is not yet due run together in one SQLite transaction, and every
 * caller's promise settles only after that transaction committed, so an answer is never sent for a write that
 * could still be lost to a crash. A failing write (say a constraint) is refused alone (see flush).
 *
 * When a commit is due: at the end of the current event-loop turn, but no sooner than `minIntervalMs` after the
 * previous commit started. A commit's cost is mostly per transaction, not per row (every index touched writes a
 * whole page to the WAL: ≈ 120 µs for one send, ≈ 50 µs per send in a batch of 32, measured), and at a steady
 * 2,000 req/s the requests of one turn are one or two. Spacing commits lets a batch collect the requests of a
 * millisecond instead; an isolated request still commits at the end of its turn, without waiting.
 */
export class TickBatcher {
  private pending: Pending[] = []
  /** Cancels the scheduled commit of the pending writes. */
  private cancelScheduled: (() => void) | undefined
  private lastCommitAt = -Infinity
  /** Built once (Database.transaction). */
  private readonly commitAll: (batch: Pending[]) => unknown[]
  private readonly commitOne: (item: Pending) => unknown

  constructor(
    private readonly db: Database,
    private readonly minIntervalMs = 1,
  ) {
    this.commitAll = db.transaction((batch: Pending[]) => batch.map((item) => item.write()))
    this.commitOne = db.transaction((item: Pending) => item.write())
  }

  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject })
      if (this.pending.length > 1) return
      const wait = this.lastCommitAt + this.minIntervalMs - performance.now()
      if (wait > 0) {
        const timer = setTimeout(() => this.commitPending(), wait)
        this.cancelScheduled = () => clearTimeout(timer)
      } else {
        const immediate = setImmediate(() => this.commitPending())
        this.cancelScheduled = () => clearImmediate(immediate)
      }
    })
  }

  /** Commits what is queued now, without waiting for its turn (at shutdown, before the database closes). */
  flush(): void {
    this.cancelScheduled?.()
    this.commitPending()
  }

  private commitPending(): void {
    this.cancelScheduled = undefined
    const batch = this.pending
    if (batch.length === 0) return
    this.pending = []
    this.lastCommitAt = performance.now()
    let values: unknown[]
    try {
      values = this.commitAll(batch)
    } catch (err) {
      // The database itself failed (locked past busy_timeout, I/O, full): each write alone would wait or fail the
      // same way, one after another, with the event loop blocked. Refuse them all; their callers keep them.
      if (databaseWideFailure(err)) {
        for (const item of batch) item.reject(err)
        return
      }
      // One write failed and took the batch with it: run each alone so only the failing one is refused. A write
      // must therefore be safe to run again after a rollback: the send's inserts use ids chosen beforehand, the
      // inbound recorder's re-read what exists and choose their ids afresh.
      for (const item of batch) {
        try {
          item.resolve(this.commitOne(item))
        } catch (error) {
          item.reject(error)
        }
      }
      return
    }
    batch.forEach((item, i) => item.resolve(values[i]))
  }
}
