import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Database as SqliteDatabase } from 'better-sqlite3'

const require = createRequire(import.meta.url)

/** A pass that copied fewer frames than this (written during the pass before it) means the worker has caught up. */
const CAUGHT_UP_FRAMES = 1024
/** Passes in a row at most: a writer faster than the copy leaves the main thread more frames to copy. */
const MAX_PASSES = 8

// Runs in a worker thread with its own connection. PASSIVE never waits for, or blocks, the main connection's
// writers. But SQLite rewinds the WAL only once a checkpoint copied every frame, which PASSIVE never achieves under a
// steady stream of commits: the WAL then grows without bound (≈ 200 MB in 40 s of send bench). Past restartPages,
// passes follow one another, each copying what was committed during the one before, until one copies little; then
// the main thread is told to copy the rest (BackgroundCheckpointer.catchUp). The final TRUNCATE at stop leaves an
// empty WAL behind.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 1000')
const checkpoint = (mode) => { try { return db.pragma('wal_checkpoint(' + mode + ')')[0] } catch { return undefined } }
const timer = setInterval(() => {
  let pass = checkpoint('PASSIVE')
  if (!pass || pass.log <= workerData.restartPages) return
  for (let passes = 1; passes < ${MAX_PASSES}; passes++) {
    const next = checkpoint('PASSIVE')
    if (!next) return
    const copied = next.log - pass.log
    pass = next
    if (copied < ${CAUGHT_UP_FRAMES}) break
  }
  parentPort.postMessage('caught-up')
}, workerData.intervalMs)
parentPort.on('message', () => {
  clearInterval(timer)
  checkpoint('TRUNCATE')
  db.close()
  parentPort.postMessage('stopped')
  parentPort.close()
})
`

/** A row of `PRAGMA wal_checkpoint`: busy 1 when it could not run; the WAL's frames, and how many are copied. */
interface CheckpointResult {
  busy: number
  log: number
  checkpointed: number
}

/**
 * WAL checkpoints off the request path. With SQLite's automatic checkpoint, the commit that crosses 1,000 WAL pages
 * copies them into the database file (and fsyncs) before it returns, a latency spike on whichever request happens to
 * commit then. Here the main connection never checkpoints on its own; a worker thread does, every `intervalMs`.
 *
 * Rewinding a WAL that outgrew `restartPages` takes one step on the main connection: once the worker has copied all
 * but the last frames, `catchUp` copies those (a few hundred frames and the checkpoint's fsyncs: ≈ 0 ms at 4 MB/s
 * of WAL, 130–430 ms at ≈ 100 MB/s), and the next commit starts the log again from its first frame (SQLite does that
 * for a writer that finds the whole log copied). No commit waits for a lock: the worker's RESTART, which this replaces,
 * held the writers for 1–23 ms at 4 MB/s and 250–1,400 ms at 100 MB/s, each writer sleeping in SQLite's busy handler
 * (bench/FINDINGS.md, "WAL rewinds under heavy writes").
 */
export class BackgroundCheckpointer extends EventEmitter<{ caughtUp: [] }> {
  private readonly worker: Worker
  private stopping: Promise<void> | undefined

  /** `restartPages`: WAL size (pages) past which the log is rewound; 16,384 pages of 4 KiB = 64 MiB. */
  constructor(
    private readonly sqlite: SqliteDatabase,
    intervalMs = 1_000,
    restartPages = 16_384,
  ) {
    super()
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: sqlite.name, intervalMs, restartPages, driver: require.resolve('better-sqlite3') } })
    this.worker.on('message', (message) => {
      if (message === 'caught-up') this.catchUp()
    })
    this.worker.unref()
  }

  /**
   * Copies the frames committed since the worker's last pass. Between two event-loop tasks no transaction of this
   * connection is open and none can start meanwhile, so the whole log ends up copied; `caughtUp` then.
   */
  private catchUp(): void {
    if (this.stopping) return
    let result: CheckpointResult | undefined
    try {
      result = (this.sqlite.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0]
    } catch {
      // An I/O error (or a connection closed under it) is the next write's to report; the worker asks again later.
      return
    }
    if (result && result.busy === 0 && result.checkpointed === result.log) this.emit('caughtUp')
  }

  /** Runs a last checkpoint and ends the worker; later calls answer the same promise. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const stopped = new Promise<void>((resolve) => {
        this.worker.on('message', (message) => message === 'stopped' && resolve())
        this.worker.once('exit', () => resolve())
      })
      // Unreferenced while it runs in the background; at stop the process must wait for the last checkpoint.
      this.worker.ref()
      this.worker.postMessage('stop')
      await stopped
      await this.worker.terminate()
    })()
    return this.stopping
  }
}
