import type { Database } from '../db/database.js'

interface Pending {
  write: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/**
 * Group commit: writes queued during one event-loop tick run in one SQLite transaction (performance.md: a commit
 * per request caps the send API at ≈ 10k req/s, batching per tick reaches 15–23k). A failing write (say a
 * constraint) is refused alone (see flush); every caller's promise settles only after the transaction committed,
 * so an answer is never sent for a write that could still be lost to a crash.
 */
export class TickBatcher {
  private pending: Pending[] = []

  constructor(private readonly db: Database) {}

  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject })
      if (this.pending.length === 1) setImmediate(() => this.flush())
    })
  }

  private flush(): void {
    const batch = this.pending
    this.pending = []
    let values: unknown[]
    try {
      values = this.db.tx(() => batch.map((item) => item.write()))
    } catch {
      // One write failed and took the batch with it: run each alone so only the failing one is refused. Writes
      // are plain inserts/updates with ids chosen beforehand, so running them again after the rollback is safe.
      for (const item of batch) {
        try {
          item.resolve(this.db.tx(item.write))
        } catch (error) {
          item.reject(error)
        }
      }
      return
    }
    batch.forEach((item, i) => item.resolve(values[i]))
  }
}
