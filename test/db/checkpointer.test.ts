import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { BackgroundCheckpointer } from '../../src/db/checkpointer.js'

describe('BackgroundCheckpointer', () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it('rewinds a WAL that outgrew its limit while commits keep coming, none of them waiting for a lock', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-ckpt-'))
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'db.sqlite')
    const db = new BetterSqlite3(file)
    cleanups.push(() => void db.close())
    db.pragma('journal_mode = WAL')
    db.pragma('wal_autocheckpoint = 0')
    // No waiting for a lock at all: a commit that had to wait (as writers did behind a RESTART) throws SQLITE_BUSY.
    db.pragma('busy_timeout = 0')
    db.exec('CREATE TABLE t (v BLOB)')
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)')
    const commit = db.transaction(() => {
      for (let i = 0; i < 20; i++) insert.run(Buffer.alloc(1024, i))
    })
    const walPages = () => (db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0]!.log

    const checkpointer = new BackgroundCheckpointer(db, 5, 200)
    cleanups.push(() => checkpointer.stop())
    let caughtUp = false
    checkpointer.once('caughtUp', () => (caughtUp = true))
    // A steady stream of commits, each leaving the event loop free for the worker's messages.
    let commits = 0
    while (!caughtUp && commits < 20_000) {
      commit()
      commits++
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(caughtUp).toBe(true)
    commit()
    // After the rewind the next commit starts the log again from its first frame.
    expect(walPages()).toBeLessThan(200)
  })
})
