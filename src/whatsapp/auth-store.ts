import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3, { type Database as SqliteDatabase } from 'better-sqlite3'
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

/**
 * Baileys' auth state (creds + Signal keys) for one instance, in its own SQLite file under sessions/, every value
 * sealed with AES-GCM and bound to its (type, id) so rows cannot be swapped. Deleting an instance deletes one file.
 *
 * Writes are synchronous transactions: a batch of keys Baileys hands to `keys.set` lands whole or not at all, and a
 * `kill -9` at any point leaves either the old or the new state, never a torn one. WAL with synchronous=NORMAL is
 * durable against a process crash (a commit is in the OS once `write` returns); FULL would add an fsync to every
 * Signal ratchet step of every message, which only power loss needs — set SESSIONS_SYNCHRONOUS=FULL for that.
 */
export class SessionStore {
  private readonly db: SqliteDatabase

  private constructor(
    readonly file: string,
    private readonly sealer: Sealer,
    synchronous: 'NORMAL' | 'FULL' = 'NORMAL',
  ) {
    this.db = new BetterSqlite3(file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma(`synchronous = ${synchronous}`)
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS creds (id INTEGER PRIMARY KEY CHECK (id = 1), value BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS keys (type TEXT NOT NULL, id TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (type, id)) WITHOUT ROWID;
    `)
  }

  static open(sessionsDir: string, instanceId: string, sealer: Sealer, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): SessionStore {
    fs.mkdirSync(sessionsDir, { recursive: true })
    return new SessionStore(SessionStore.fileFor(sessionsDir, instanceId), sealer, synchronous)
  }

  static fileFor(sessionsDir: string, instanceId: string): string {
    return path.join(sessionsDir, `${instanceId}.db`)
  }

  /** Removes the instance's session file and its WAL companions. */
  static destroy(sessionsDir: string, instanceId: string): void {
    const file = SessionStore.fileFor(sessionsDir, instanceId)
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true })
  }

  readCreds(): AuthenticationCreds | undefined {
    const row = this.db.prepare('SELECT value FROM creds WHERE id = 1').get() as { value: Buffer } | undefined
    return row ? (this.decode(row.value, 'creds') as AuthenticationCreds) : undefined
  }

  writeCreds(creds: AuthenticationCreds): void {
    this.db.prepare('INSERT INTO creds (id, value) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET value = excluded.value').run(
      this.encode(creds, 'creds'),
    )
  }

  /** The state object Baileys' socket takes; creds are loaded now and saved by the caller on `creds.update`. */
  authState(): AuthenticationState {
    const creds = this.readCreds() ?? initAuthCreds()
    const select = this.db.prepare('SELECT id, value FROM keys WHERE type = ? AND id = ?')
    const upsert = this.db.prepare('INSERT INTO keys (type, id, value) VALUES (?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET value = excluded.value')
    const remove = this.db.prepare('DELETE FROM keys WHERE type = ? AND id = ?')
    const setMany = this.db.transaction((data: SignalDataSet) => {
      for (const [type, values] of Object.entries(data)) {
        for (const [id, value] of Object.entries(values ?? {})) {
          if (value === null || value === undefined) remove.run(type, id)
          else upsert.run(type, id, this.encode(value, `${type}:${id}`))
        }
      }
    })
    return {
      creds,
      keys: {
        get: <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
          const out: { [id: string]: SignalDataTypeMap[T] } = {}
          if (!this.db.open) return out
          for (const id of ids) {
            const row = select.get(type, id) as { value: Buffer } | undefined
            if (!row) continue
            let value = this.decode(row.value, `${type}:${id}`)
            // Baileys expects a protobuf object here, as its own stores do (Utils/use-multi-file-auth-state.js).
            if (type === 'app-state-sync-key') value = proto.Message.AppStateSyncKeyData.fromObject(value as object)
            out[id] = value as SignalDataTypeMap[T]
          }
          return out
        },
        // A socket that is being torn down may still flush keys after its instance was stopped or deleted.
        set: (data: SignalDataSet) => (this.db.open ? setMany(data) : undefined),
        clear: () => {
          this.db.exec('DELETE FROM keys')
        },
      },
    }
  }

  /** Forgets the account: creds and every key, in one transaction. The next socket starts a fresh QR cycle. */
  wipe(): void {
    this.db.transaction(() => {
      this.db.exec('DELETE FROM creds; DELETE FROM keys;')
    })()
  }

  get isOpen(): boolean {
    return this.db.open
  }

  close(): void {
    if (this.db.open) this.db.close()
  }

  private encode(value: unknown, boundTo: string): Buffer {
    return this.sealer.seal(Buffer.from(JSON.stringify(value, BufferJSON.replacer), 'utf8'), boundTo)
  }

  private decode(sealed: Buffer, boundTo: string): unknown {
    return JSON.parse(this.sealer.open(sealed, boundTo).toString('utf8'), BufferJSON.reviver)
  }
}
