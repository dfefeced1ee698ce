import fs from 'node:fs'
import BetterSqlite3, { type Database as SqliteDatabase, type Statement } from 'better-sqlite3'
import {
  BufferJSON,
  initAuthCreds,
  proto,
  type AuthenticationCreds,
  type AuthenticationState,
  type SignalDataSet,
  type SignalDataTypeMap,
} from '@whiskeysockets/baileys'
import type { Sealer } from '../security/sealing.js'
import type { InboundJournal, JournalEntry, StoredStanza } from './inbound-journal.js'
import { sessionFileFor, type SessionFilePool } from './session-files.js'

/** The SQLite connection of one session file and its statements, prepared once per connection. */
interface SessionFile {
  db: SqliteDatabase
  selectCreds: Statement
  upsertCreds: Statement
  selectKey: Statement
  upsertKey: Statement
  deleteKey: Statement
  journalEntries: Statement
  journalHas: Statement
  /** Signal keys, then the journal entries staged for them and the forgotten ones, in one transaction. */
  setMany: (data: SignalDataSet, staged: readonly JournalEntry[], forgotten: Iterable<string>) => void
  wipe: () => void
}

export interface SessionStoreOptions {
  synchronous?: 'NORMAL' | 'FULL'
  /** Shared bound on open files; without one the store keeps its file open until `close()`. */
  pool?: SessionFilePool
}

/**
 * Baileys' auth state (creds + Signal keys) for one instance, in its own SQLite file under sessions/, every value
 * sealed with AES-GCM and bound to its (type, id) so rows cannot be swapped. Deleting an instance deletes one file.
 *
 * Writes are synchronous transactions: a batch of keys Baileys hands to `keys.set` lands whole or not at all, and a
 * `kill -9` at any point leaves either the old or the new state, never a torn one. WAL with synchronous=NORMAL is
 * durable against a process crash (a commit is in the OS once `write` returns); FULL would add an fsync to every
 * Signal ratchet step of every message, which only power loss needs — set SESSIONS_SYNCHRONOUS=FULL for that.
 * The file is opened on first use and may be closed by the shared SessionFilePool between two calls (closing
 * checkpoints the WAL, which is as crash-safe as any checkpoint); every reopen sets the same pragmas.
 */
export class SessionStore {
  private conn: SessionFile | undefined
  private closed = false
  /** Bumped by wipe(): the state handed to an earlier socket no longer writes (see authState). */
  private generation = 0
  /** The schema exists once this store created or checked it; a reopen skips the DDL. */
  private schemaReady = false
  private readonly synchronous: 'NORMAL' | 'FULL'
  private readonly pool: SessionFilePool | undefined
  /** Journal entries for the next key commit (the one of the Signal transaction that decrypted them). */
  private staged: JournalEntry[] = []
  /** Recorded messages whose entries go in the next write (a microtask after `forget`, or a key commit before it). */
  private forgotten = new Set<string>()
  private forgetQueued = false

  private constructor(
    readonly file: string,
    private readonly sealer: Sealer,
    options: SessionStoreOptions,
  ) {
    this.synchronous = options.synchronous ?? 'NORMAL'
    this.pool = options.pool
  }

  /** Nothing is opened or created until the store is first used. */
  static open(sessionsDir: string, instanceId: string, sealer: Sealer, options: SessionStoreOptions = {}): SessionStore {
    fs.mkdirSync(sessionsDir, { recursive: true })
    return new SessionStore(sessionFileFor(sessionsDir, instanceId), sealer, options)
  }

  readCreds(): AuthenticationCreds | undefined {
    const row = this.handle().selectCreds.get() as { value: Buffer } | undefined
    return row ? (this.decode(row.value, 'creds') as AuthenticationCreds) : undefined
  }

  writeCreds(creds: AuthenticationCreds): void {
    this.handle().upsertCreds.run(this.encode(creds, 'creds'))
  }

  /**
   * The state object Baileys' socket takes; creds are loaded now and saved by the caller (`saveCreds`) on
   * `creds.update`. Writes stop once the store is closed or wiped: a socket being torn down (Baileys' end() is
   * async) may still flush creds or keys, and after a wipe they would bring back the account that was logged out.
   */
  authState(): AuthenticationState & { saveCreds(): void } {
    const creds = this.readCreds() ?? initAuthCreds()
    const generation = this.generation
    const writable = () => !this.closed && generation === this.generation
    return {
      creds,
      saveCreds: () => {
        if (writable()) this.writeCreds(creds)
      },
      keys: {
        get: <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
          const out: { [id: string]: SignalDataTypeMap[T] } = {}
          if (this.closed) return out
          const { selectKey } = this.handle()
          for (const id of ids) {
            const row = selectKey.get(type, id) as { value: Buffer } | undefined
            if (!row) continue
            let value = this.decode(row.value, `${type}:${id}`)
            // Baileys expects a protobuf object here, as its own stores do (Utils/use-multi-file-auth-state.js).
            if (type === 'app-state-sync-key') value = proto.Message.AppStateSyncKeyData.fromObject(value as object)
            out[id] = value as SignalDataTypeMap[T]
          }
          return out
        },
        set: (data: SignalDataSet) => {
          if (writable()) return this.commitKeys(data)
          // A socket being torn down: its keys are not stored, and neither may its message be acknowledged.
          if (this.staged.length > 0) {
            this.staged = []
            throw new Error(`session store ${this.file} is closed: the decrypted message is not stored`)
          }
        },
        clear: () => {
          if (writable()) this.handle().db.exec('DELETE FROM keys')
        },
      },
    }
  }

  /**
   * The decrypted stanzas of this instance not recorded yet (inbound-journal.ts). In this file so that an entry
   * commits in the transaction of the Signal session that decrypted it: the one transaction setMany writes.
   */
  readonly journal: InboundJournal = {
    stage: (entries) => {
      this.staged.push(...entries)
    },
    write: (entries) => this.handle().setMany({}, entries, []),
    forget: (ids) => {
      for (const id of ids) this.forgotten.add(id)
      if (this.forgetQueued) return
      this.forgetQueued = true
      // The recordings of one group commit settle in one run of microtasks: their entries go in one write.
      queueMicrotask(() => {
        this.forgetQueued = false
        this.flushForgotten()
      })
    },
    entries: (journaledBy = Number.MAX_SAFE_INTEGER) =>
      (this.handle().journalEntries.all(journaledBy) as Array<{ wa_message_id: string; stanza: string; plaintext: Buffer }>)
        .filter((r) => !this.forgotten.has(r.wa_message_id))
        .map((r) => ({
          waMessageId: r.wa_message_id,
          stanza: JSON.parse(r.stanza) as StoredStanza,
          plaintext: this.sealer.open(r.plaintext, `journal:${r.wa_message_id}`),
        })),
    has: (id) => this.handle().journalHas.get(id) !== undefined,
  }

  /** Forgets the account: creds and every key, in one transaction. The next socket starts a fresh QR cycle. */
  wipe(): void {
    this.generation += 1
    this.handle().wipe()
  }

  /** False once `close()` was called (the instance stopped or was deleted); an idle store whose file the pool closed is still open. */
  get isOpen(): boolean {
    return !this.closed
  }

  /** Whether the SQLite file is open right now (the pool may have closed it). */
  get isFileOpen(): boolean {
    return this.conn !== undefined
  }

  close(): void {
    this.flushForgotten()
    this.closed = true
    this.pool?.forget(this)
    this.closeFile()
  }

  /** Closes the SQLite connection only; the next access reopens it. Called by the pool. */
  closeFile(): void {
    const conn = this.conn
    this.conn = undefined
    if (conn?.db.open) conn.db.close()
  }

  /**
   * Keys, with the staged journal entries and the forgotten ones, in one transaction. Both are taken first, so a
   * failed commit drops them: Baileys retries its commit with the same mutations, which stage the entries again.
   */
  private commitKeys(data: SignalDataSet): void {
    const { staged, forgotten } = this
    this.staged = []
    this.forgotten = new Set()
    this.handle().setMany(data, staged, forgotten)
  }

  private flushForgotten(): void {
    if (this.forgotten.size === 0 || this.closed) return
    try {
      this.commitKeys({})
    } catch {
      // The entries stay in the file: the next replay finds their messages recorded and forgets them again.
    }
  }

  private handle(): SessionFile {
    if (this.closed) throw new Error(`session store ${this.file} is closed`)
    const conn = this.conn ?? (this.conn = this.openFile())
    this.pool?.touch(this)
    return conn
  }

  private openFile(): SessionFile {
    const db = new BetterSqlite3(this.file)
    try {
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${this.synchronous}`)
      // SQLite's default page cache is up to 16 MB per connection and ends up holding the whole file (≈ 50 pages with
      // 812 pre-keys): ≈ 310 KiB per connection, 185 KiB with 64 KiB, and key reads and writes measured no slower
      // (Baileys keeps its own cache of keys in front, makeCacheableSignalKeyStore).
      db.pragma('cache_size = -64')
      if (!this.schemaReady) {
        db.exec(`
          CREATE TABLE IF NOT EXISTS creds (id INTEGER PRIMARY KEY CHECK (id = 1), value BLOB NOT NULL);
          CREATE TABLE IF NOT EXISTS keys (type TEXT NOT NULL, id TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (type, id)) WITHOUT ROWID;
          -- Decrypted stanzas not recorded yet (inbound-journal.ts); plaintext sealed like every key.
          CREATE TABLE IF NOT EXISTS inbound_journal (
            wa_message_id TEXT PRIMARY KEY, stanza TEXT NOT NULL, plaintext BLOB NOT NULL, created_at INTEGER NOT NULL);
        `)
        this.schemaReady = true
      }
      const upsertKey = db.prepare('INSERT INTO keys (type, id, value) VALUES (?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET value = excluded.value')
      const deleteKey = db.prepare('DELETE FROM keys WHERE type = ? AND id = ?')
      const journalEntry = db.prepare('INSERT OR REPLACE INTO inbound_journal (wa_message_id, stanza, plaintext, created_at) VALUES (?, ?, ?, ?)')
      const unjournal = db.prepare('DELETE FROM inbound_journal WHERE wa_message_id = ?')
      return {
        db,
        selectCreds: db.prepare('SELECT value FROM creds WHERE id = 1'),
        upsertCreds: db.prepare('INSERT INTO creds (id, value) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET value = excluded.value'),
        selectKey: db.prepare('SELECT value FROM keys WHERE type = ? AND id = ?'),
        upsertKey,
        deleteKey,
        // Arrival order: a backlog journals many stanzas in one millisecond, and rowid (max + 1 on every insert)
        // breaks the ties in the order they were written.
        journalEntries: db.prepare('SELECT wa_message_id, stanza, plaintext FROM inbound_journal WHERE created_at <= ? ORDER BY created_at, rowid'),
        journalHas: db.prepare('SELECT 1 FROM inbound_journal WHERE wa_message_id = ?'),
        setMany: db.transaction((data: SignalDataSet, staged: readonly JournalEntry[], forgotten: Iterable<string>) => {
          for (const [type, values] of Object.entries(data)) {
            for (const [id, value] of Object.entries(values ?? {})) {
              if (value === null || value === undefined) deleteKey.run(type, id)
              else upsertKey.run(type, id, this.encode(value, `${type}:${id}`))
            }
          }
          // The commit's time: the sweep replays entries older than its period.
          const at = Date.now()
          for (const { waMessageId: id, stanza, plaintext } of staged) {
            journalEntry.run(id, JSON.stringify(stanza), this.sealer.seal(plaintext, `journal:${id}`), at)
          }
          for (const id of forgotten) unjournal.run(id)
        }),
        wipe: db.transaction(() => {
          db.exec('DELETE FROM creds; DELETE FROM keys;')
        }),
      }
    } catch (err) {
      db.close()
      throw err
    }
  }

  private encode(value: unknown, boundTo: string): Buffer {
    return this.sealer.seal(Buffer.from(JSON.stringify(value, BufferJSON.replacer), 'utf8'), boundTo)
  }

  private decode(sealed: Buffer, boundTo: string): unknown {
    return JSON.parse(this.sealer.open(sealed, boundTo).toString('utf8'), BufferJSON.reviver)
  }
}
