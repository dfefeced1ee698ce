import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

const require = createRequire(import.meta.url)

// Runs in a worker thread with its own connection. PASSIVE never waits for, or blocks, the main connection's
// writers. But SQLite rewinds the WAL only after a checkpoint that copied every frame, which PASSIVE never achieves
// under a steady stream of commits: the WAL then grows without bound (≈ 200 MB in 40 s of send bench). Past
// restartPages, a RESTART waits (busy_timeout) for a gap between commits, copies the rest and rewinds the log;
// writers wait for it meanwhile, a pause paid once per restartPages of WAL. The final TRUNCATE at stop leaves an
// empty WAL behind.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 1000')
const checkpoint = (mode) => { try { return db.pragma('wal_checkpoint(' + mode + ')')[0] } catch { return undefined } }
const timer = setInterval(() => {
  const passive = checkpoint('PASSIVE')
  if (passive && passive.log > workerData.restartPages) {
    const restart = checkpoint('RESTART')
    if (restart && restart.busy === 0) parentPort.postMessage('restarted')
  }
}, workerData.intervalMs)
parentPort.on('message', () => {
  clearInterval(timer)
  checkpoint('TRUNCATE')
  db.close()
  parentPort.postMessage('stopped')
  parentPort.close()
})
`

/**
 * WAL checkpoints off the request path. With SQLite's automatic checkpoint, the commit that crosses 1,000 WAL pages
 * copies them into the database file (and fsyncs) before it returns, a latency spike on whichever request happens to
 * commit then. Here the main connection never checkpoints; a worker thread does, every `intervalMs`.
 */
export class BackgroundCheckpointer extends EventEmitter<{ restarted: [] }> {
  private readonly worker: Worker
  private stopping: Promise<void> | undefined

  /** `restartPages`: WAL size (pages) past which the log is rewound; 16,384 pages of 4 KiB = 64 MiB. */
  constructor(file: string, intervalMs = 1_000, restartPages = 16_384) {
    super()
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs, restartPages, driver: require.resolve('better-sqlite3') } })
    this.worker.on('message', (message) => {
      if (message === 'restarted') this.emit('restarted')
    })
    this.worker.unref()
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
