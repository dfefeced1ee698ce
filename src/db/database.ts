import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3, { type Database as SqliteDatabase, type Statement } from 'better-sqlite3'
import {
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type Compilable,
  type InferResult,
} from 'kysely'
import { BackgroundCheckpointer } from './checkpointer.js'
import { TickBatcher } from './tick-batcher.js'
import { migrate, type Migration } from './migrate.js'
import type { Schema } from './schema.js'

/**
 * The daemon's database: Kysely as a typed query *builder*, better-sqlite3 as the executor.
 *
 * Why not Kysely's own SQLite driver: it runs every query on one connection behind an async mutex, so an `await`
 * inside a transaction blocks every other query. Executing compiled queries synchronously keeps every
 * transaction inside one event-loop tick: it can never span network I/O, and hot paths can batch many writes.
 */
export class Database {
  readonly qb: Kysely<Schema>
  private readonly statements = new Map<string, Statement>()
  /** afterCommit callbacks of the transaction open now, in registration order */
  private committedHooks: Array<() => void> = []
  /** The group commit every producer shares (groupCommit), made on first use. */
  private groupCommits: TickBatcher | undefined

  constructor(
    readonly sqlite: SqliteDatabase,
    private readonly checkpointer?: BackgroundCheckpointer,
  ) {
    this.qb = new Kysely<Schema>({
      dialect: {
        createAdapter: () => new SqliteAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new SqliteIntrospector(db),
        createQueryCompiler: () => new SqliteQueryCompiler(),
      },
    })
  }

  /** Rows of a SELECT (or of an INSERT/UPDATE/DELETE … RETURNING). */
  all<Q extends Compilable<unknown>>(query: Q): InferResult<Q>[number][] {
    const { sql, parameters } = query.compile()
    const statement = this.prepare(sql)
    return (statement.reader ? statement.all(...(parameters as unknown[])) : (statement.run(...(parameters as unknown[])), [])) as InferResult<Q>[number][]
  }

  /** First row, or undefined. */
  first<Q extends Compilable<unknown>>(query: Q): InferResult<Q>[number] | undefined {
    return this.all(query)[0]
  }

  /** Runs a statement that returns no rows; answers the number of rows changed. */
  run(query: Compilable<unknown>): number {
    const { sql, parameters } = query.compile()
    return this.prepare(sql).run(...(parameters as unknown[])).changes
  }

  /** A synchronous transaction: `fn` must not await. Nested calls become savepoints. */
  tx<T>(fn: () => T): T {
    return this.transaction(fn)()
  }

  /**
   * `fn` as a transaction, built once for a hot path that calls it many times (better-sqlite3 builds four wrapper
   * functions per `transaction()` call). BEGIN IMMEDIATE: the write lock is taken (waiting up to busy_timeout)
   * before `fn` reads anything. A deferred transaction that reads first and then writes fails at once with
   * SQLITE_BUSY ("database is locked", no busy wait) when another connection changed the WAL since its read began —
   * which the checkpointer's RESTART did before it rewound the log through this connection (checkpointer.ts).
   */
  transaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T {
    const run = this.sqlite.transaction(fn).immediate
    return (...args: A): T => {
      const outermost = !this.sqlite.inTransaction
      const mark = this.committedHooks.length
      let result: T
      try {
        result = run(...args)
      } catch (err) {
        // Rolled back (a nested call: to its savepoint): what it registered will never be committed.
        this.committedHooks.length = mark
        throw err
      }
      if (outermost) this.runCommittedHooks()
      return result
    }
  }

  /**
   * Runs `fn` once the transaction open now has committed, right after the COMMIT; never if the part of it that
   * registered `fn` rolled back. Outside a transaction: at once. For work that must only follow durable rows (the
   * outbox hands new deliveries to the worker this way), without reading them back to learn whether they exist.
   */
  afterCommit(fn: () => void): void {
    if (this.sqlite.inTransaction) this.committedHooks.push(fn)
    else fn()
  }

  private runCommittedHooks(): void {
    const hooks = this.committedHooks
    if (hooks.length === 0) return
    this.committedHooks = []
    for (const hook of hooks) {
      try {
        hook()
      } catch {
        // The transaction has committed: a follower's failure must not reach the caller as if it had not.
      }
    }
  }

  /**
   * `write` in the next group commit: the writes of every producer queued in one event-loop turn (sends accepted, status
   * changes, inbound upserts, the sent-content log) share one transaction, and one commit instead of one each; the
   * promise settles once that commit is done. See TickBatcher for when it is due and how a failing write is refused.
   */
  groupCommit<T>(write: () => T): Promise<T> {
    this.groupCommits ??= new TickBatcher(this)
    return this.groupCommits.run(write)
  }

  /** Commits the queued group writes now (at shutdown). */
  flushGroupCommit(): void {
    this.groupCommits?.flush()
  }

  async close(): Promise<void> {
    this.flushGroupCommit()
    this.statements.clear()
    await this.checkpointer?.stop()
    if (this.sqlite.open) this.sqlite.close()
  }

  private prepare(sql: string): Statement {
    let statement = this.statements.get(sql)
    if (!statement) {
      statement = this.sqlite.prepare(sql)
      // The statement cache is bounded by the number of distinct queries in the code, except for IN (…) lists of
      // varying length; cap it anyway so no pattern of input can grow it without bound.
      if (this.statements.size > 500) this.statements.clear()
      this.statements.set(sql, statement)
    }
    return statement
  }
}

export interface OpenOptions {
  file: string
  migrations: readonly Migration[]
  /** FULL makes every commit durable against power loss; NORMAL (WAL) is durable against a process crash. */
  synchronous?: 'NORMAL' | 'FULL'
}

export function openDatabase(opts: OpenOptions): Database {
  if (opts.file !== ':memory:') fs.mkdirSync(path.dirname(opts.file), { recursive: true })
  const sqlite = new BetterSqlite3(opts.file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`)
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('busy_timeout = 5000')
  migrate(sqlite, opts.migrations)
  if (opts.file === ':memory:') return new Database(sqlite)
  sqlite.pragma('wal_autocheckpoint = 0')
  // Once the checkpointer has rewound a WAL that grew under load, the file on disk shrinks back to this size.
  sqlite.pragma('journal_size_limit = 67108864')
  return new Database(sqlite, new BackgroundCheckpointer(sqlite))
}
