import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

const require = createRequire(import.meta.url)

// Runs in a worker thread with its own connection. PASSIVE never waits for, or blocks, the main connection's
// writers; the final TRUNCATE at stop leaves a short WAL behind.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 1000')
const checkpoint = (mode) => { try { db.pragma('wal_checkpoint(' + mode + ')') } catch {} }
const timer = setInterval(() => checkpoint('PASSIVE'), workerData.intervalMs)
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
export class BackgroundCheckpointer {
  private readonly worker: Worker
  private stopping: Promise<void> | undefined

  constructor(file: string, intervalMs = 1_000) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs, driver: require.resolve('better-sqlite3') } })
    this.worker.unref()
  }

  /** Runs a last checkpoint and ends the worker; later calls answer the same promise. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const stopped = new Promise<void>((resolve) => {
        this.worker.once('message', () => resolve())
        this.worker.once('exit', () => resolve())
      })
      this.worker.postMessage('stop')
      await stopped
      await this.worker.terminate()
    })()
    return this.stopping
  }
}
