import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../src/db/database.js'

describe('Database.tx', () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  function open(): { db: Database; other: BetterSqlite3.Database } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-db-'))
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'gateway.db')
    const db = openDatabase({ file, migrations: [{ version: 1, name: 't', up: 'CREATE TABLE t (v TEXT)' }] })
    cleanups.push(() => db.close())
    // Another connection to the same file, as the background checkpointer has; it does not wait for locks.
    const other = new BetterSqlite3(file)
    other.pragma('busy_timeout = 0')
    cleanups.push(() => void other.close())
    return { db, other }
  }

  // A transaction that read first and wrote second used to fail with "database is locked" (no busy wait) when
  // another connection changed the database in between: the inbound recorder lost its write that way under load.
  it('holds the write lock from its start, so a read-then-write transaction cannot be invalidated midway', () => {
    const { db, other } = open()
    let otherRefused: unknown
    db.tx(() => {
      db.sqlite.prepare('SELECT count(*) FROM t').get()
      try {
        other.prepare("INSERT INTO t (v) VALUES ('other')").run()
      } catch (error) {
        otherRefused = error
      }
      db.sqlite.prepare("INSERT INTO t (v) VALUES ('mine')").run()
    })
    expect((otherRefused as { code?: string } | undefined)?.code).toBe('SQLITE_BUSY')
    expect(db.sqlite.prepare('SELECT v FROM t').pluck().all()).toEqual(['mine'])
  })
})
