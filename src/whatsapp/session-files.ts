import fs from 'node:fs'
import path from 'node:path'

/**
 * Where instances' session files live, and the bound on how many are open at once. Apart from the session store
 * (auth-store.ts) because none of this needs Baileys: deleting an instance, or starting with none, loads no WhatsApp
 * code (src/whatsapp/runtime.ts).
 */

export function sessionFileFor(sessionsDir: string, instanceId: string): string {
  return path.join(sessionsDir, `${instanceId}.db`)
}

/** Removes the instance's session file and its WAL companions. */
export function destroySessionFiles(sessionsDir: string, instanceId: string): void {
  const file = sessionFileFor(sessionsDir, instanceId)
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true })
}

/** A store whose file the pool may close; it reopens on its next access. */
export interface PooledFile {
  closeFile(): void
}

/**
 * The open SQLite connections of every session store, least recently used first. A connection costs 0.2–0.3 MiB of
 * native memory (SQLite's lookaside and page cache, the 32 KiB WAL index mapping; measured in issue #7), about as
 * much as the idle Baileys socket itself, and an idle session never touches its store. So a store opens its file on
 * demand and, beyond `max` open ones, the least recently used is closed; it reopens on its next access.
 *
 * Measured on this machine (issue #7): reopening a closed file costs ≈ 0.35 ms (open, WAL index, statements); the
 * first write after a reopen starts a new WAL, whose header SQLite fsyncs (sqlite3.c walWriteFrames, "Sync the
 * header"), ≈ 0.6 ms; closing a file that was written checkpoints its WAL into the file with two fsyncs and removes
 * it, ≈ 0.9 ms. On a busy disk those fsyncs take 5–20 ms together, against ≈ 0.1 ms for a write on an open file, and
 * they block the event loop. `max` should therefore cover the instances that exchange messages at the same time;
 * memory grows by 0.2–0.3 MiB per unit of it.
 * Freed connection memory stays in the allocator for the next one, so the process's footprint follows the peak
 * number of open files, i.e. this bound, not the number of sessions.
 */
export class SessionFilePool {
  /** Insertion order is recency: touching a store moves it to the end. */
  private readonly open = new Set<PooledFile>()

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new Error('SessionFilePool: max must be at least 1')
  }

  /** Open connections now. */
  get size(): number {
    return this.open.size
  }

  /** `store` is being used: it becomes the most recent; the least recent ones beyond `max` are closed. */
  touch(store: PooledFile): void {
    this.open.delete(store)
    this.open.add(store)
    while (this.open.size > this.max) {
      const oldest = this.open.values().next().value as PooledFile
      this.open.delete(oldest)
      // Synchronous code only ever runs between two store calls, so no statement or transaction of `oldest` is open.
      oldest.closeFile()
    }
  }

  forget(store: PooledFile): void {
    this.open.delete(store)
  }
}
