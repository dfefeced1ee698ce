import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../src/db/database.js'
import { useCleanups } from '../helpers/cleanups.js'

describe('Database.tx', () => {
  const { defer, tempDir } = useCleanups()

  function open(): { db: Database; other: BetterSqlite3.Database } {
    const dir = tempDir('wagw-db-')
    const file = path.join(dir, 'gateway.db')
    const db = openDatabase({ file, migrations: [{ version: 1, name: 't', up: 'CREATE TABLE t (v TEXT)' }] })
    defer(() => db.close())
    // Another connection to the same file, as the background checkpointer has; it does not wait for locks.
    const other = new BetterSqlite3(file)
    other.pragma('busy_timeout = 0')
    defer(() => void other.close())
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

describe('Database.afterCommit', () => {
  it('runs after the outermost commit, never for a rolled-back transaction or savepoint, at once outside one', () => {
    const db = openDatabase({ file: ':memory:', migrations: [{ version: 1, name: 't', up: 'CREATE TABLE t (v TEXT)' }] })
    const ran: string[] = []
    const insert = (v: string) => {
      db.sqlite.prepare('INSERT INTO t (v) VALUES (?)').run(v)
      db.afterCommit(() => ran.push(`${v}:${db.sqlite.prepare('SELECT count(*) FROM t WHERE v = ?').pluck().get(v)}`))
    }
    db.tx(() => {
      insert('a')
      expect(ran).toEqual([])
      try {
        db.tx(() => {
          insert('rolled-back savepoint')
          throw new Error('inner failure')
        })
      } catch {
        // the outer transaction goes on
      }
      insert('b')
    })
    expect(() =>
      db.tx(() => {
        insert('rolled-back transaction')
        throw new Error('outer failure')
      }),
    ).toThrow('outer failure')
    db.afterCommit(() => ran.push('outside'))
    // Each hook saw its committed row; none ran for what rolled back.
    expect(ran).toEqual(['a:1', 'b:1', 'outside'])
  })
})
