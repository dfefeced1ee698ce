import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { initAuthCreds } from '@whiskeysockets/baileys'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Sealer } from '../../src/security/sealing.js'
import { SessionStore } from '../../src/whatsapp/auth-store.js'
import { destroySessionFiles, SessionFilePool, sessionFileFor } from '../../src/whatsapp/session-files.js'

const sealer = new Sealer('k'.repeat(40), 'sessions')

/** The store's live SQLite connection, to read per-connection pragmas a reopen must set again. */
function liveDb(store: SessionStore): BetterSqlite3.Database {
  const conn = (store as unknown as { conn?: { db: BetterSqlite3.Database } }).conn
  if (!conn) throw new Error('file not open')
  return conn.db
}

describe('SessionStore with a bounded pool of open files', () => {
  let dir: string
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-store-pool-'))
  })
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('opens nothing until first used', () => {
    const pool = new SessionFilePool(2)
    const store = SessionStore.open(dir, 'inst_lazy', sealer, { pool })
    expect(fs.existsSync(sessionFileFor(dir, 'inst_lazy'))).toBe(false)
    expect(pool.size).toBe(0)
    expect(store.readCreds()).toBeUndefined()
    expect(store.isFileOpen).toBe(true)
    expect(pool.size).toBe(1)
    store.close()
    expect(pool.size).toBe(0)
  })

  it('closes the least recently used file beyond the bound and reopens it on demand with its data', async () => {
    const pool = new SessionFilePool(2)
    const [a, b, c] = ['inst_a', 'inst_b', 'inst_c'].map((id) => SessionStore.open(dir, id, sealer, { pool, synchronous: 'FULL' }))
    const creds = initAuthCreds()
    a!.writeCreds(creds)
    const keysA = a!.authState().keys
    await keysA.set({ session: { 'x.0': Buffer.from('session-a') }, 'pre-key': { '1': { public: Buffer.from('p'), private: Buffer.from('q') } } })
    b!.writeCreds(initAuthCreds())
    a!.readCreds() // a is now more recent than b
    c!.writeCreds(initAuthCreds()) // a third file: b, the least recently used, is closed
    expect(pool.size).toBe(2)
    expect([a!.isFileOpen, b!.isFileOpen, c!.isFileOpen]).toEqual([true, false, true])

    b!.readCreds() // b reopens, and now a is the least recently used
    expect([a!.isFileOpen, b!.isFileOpen, c!.isFileOpen]).toEqual([false, true, true])
    expect(a!.isOpen).toBe(true) // closed file, open store

    // Baileys' key store keeps working across the close: the next call reopens the file.
    expect((await keysA.get('session', ['x.0']))['x.0']?.toString()).toBe('session-a')
    expect((await keysA.get('pre-key', ['1']))['1']?.private.toString()).toBe('q')
    expect(a!.readCreds()?.advSecretKey).toBe(creds.advSecretKey)
    // A reopened file is configured as the first open was: WAL, the configured synchronous (FULL = 2), bounded cache.
    const db = liveDb(a!)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('synchronous', { simple: true })).toBe(2)
    expect(db.pragma('cache_size', { simple: true })).toBe(-64)
    for (const s of [a, b, c]) s!.close()
    expect(pool.size).toBe(0)
  })

  it('wipes a store whose file the pool closed, and a closed store ignores late key traffic', async () => {
    const pool = new SessionFilePool(1)
    const a = SessionStore.open(dir, 'inst_a', sealer, { pool })
    const b = SessionStore.open(dir, 'inst_b', sealer, { pool })
    a.writeCreds(initAuthCreds())
    const keys = a.authState().keys
    await keys.set({ session: { 'x.0': Buffer.from('s') } })
    b.readCreds()
    expect(a.isFileOpen).toBe(false)
    const state = a.authState()
    a.wipe()
    expect(a.readCreds()).toBeUndefined()
    expect(await keys.get('session', ['x.0'])).toEqual({})
    // The socket of before the wipe may still flush: nothing of the wiped account comes back.
    await state.keys.set({ session: { 'z.0': Buffer.from('old account') } })
    state.saveCreds()
    expect(await a.authState().keys.get('session', ['z.0'])).toEqual({})
    expect(a.readCreds()).toBeUndefined()
    // A state taken after the wipe writes as usual.
    const fresh = a.authState()
    await fresh.keys.set({ session: { 'n.0': Buffer.from('new') } })
    fresh.saveCreds()
    expect((await fresh.keys.get('session', ['n.0']))['n.0']?.toString()).toBe('new')
    expect(a.readCreds()).toBeDefined()

    a.close()
    // A socket being torn down may still flush keys after its instance stopped (see authState).
    await keys.set({ session: { 'y.0': Buffer.from('late') } })
    expect(await keys.get('session', ['y.0'])).toEqual({})
    expect(a.isOpen).toBe(false)
    expect(() => a.readCreds()).toThrow(/closed/)
    b.close()
    destroySessionFiles(dir, 'inst_a')
    expect(fs.existsSync(sessionFileFor(dir, 'inst_a'))).toBe(false)
  })

  it('leaves every file intact and sealed after many closes and reopens', async () => {
    const pool = new SessionFilePool(3)
    const stores = Array.from({ length: 10 }, (_, i) => SessionStore.open(dir, `inst_${i}`, sealer, { pool }))
    for (let round = 0; round < 5; round++) {
      for (const [i, store] of stores.entries()) {
        await store.authState().keys.set({ session: { [`peer.${round}`]: Buffer.from(`marker-${i}-${round}`) } })
        expect(pool.size).toBeLessThanOrEqual(3)
      }
    }
    for (const [i, store] of stores.entries()) {
      const got = await store.authState().keys.get('session', ['peer.0', 'peer.4'])
      expect(got['peer.0']?.toString()).toBe(`marker-${i}-0`)
      expect(got['peer.4']?.toString()).toBe(`marker-${i}-4`)
      store.close()
    }
    for (let i = 0; i < 10; i++) {
      const file = sessionFileFor(dir, `inst_${i}`)
      const db = new BetterSqlite3(file, { readonly: true })
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
      db.close()
      const bytes = Buffer.concat([fs.readFileSync(file), fs.existsSync(`${file}-wal`) ? fs.readFileSync(`${file}-wal`) : Buffer.alloc(0)])
      expect(bytes.includes(`marker-${i}`)).toBe(false)
    }
  })
})
