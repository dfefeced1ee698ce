import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { initAuthCreds } from '@whiskeysockets/baileys'
import { describe, expect, it } from 'vitest'
import { Sealer } from '../../src/security/sealing.js'
import { SessionStore } from '../../src/whatsapp/auth-store.js'
import { destroySessionFiles } from '../../src/whatsapp/session-files.js'

describe('Sealer', () => {
  const sealer = new Sealer('k'.repeat(40), 'test')

  it('round-trips and never repeats a ciphertext', () => {
    const a = sealer.seal(Buffer.from('secret'), 'row-1')
    const b = sealer.seal(Buffer.from('secret'), 'row-1')
    expect(a.equals(b)).toBe(false)
    expect(sealer.open(a, 'row-1').toString()).toBe('secret')
  })

  it('refuses tampered data, another key, another purpose and another row binding', () => {
    const sealed = sealer.seal(Buffer.from('secret'), 'row-1')
    const flipped = Buffer.from(sealed)
    flipped[20] = flipped[20]! ^ 1
    expect(() => sealer.open(flipped, 'row-1')).toThrow()
    expect(() => new Sealer('x'.repeat(40), 'test').open(sealed, 'row-1')).toThrow()
    expect(() => new Sealer('k'.repeat(40), 'other').open(sealed, 'row-1')).toThrow()
    expect(() => sealer.open(sealed, 'row-2')).toThrow()
    expect(() => sealer.open(Buffer.alloc(5), 'row-1')).toThrow(/malformed/)
  })
})

describe('SessionStore', () => {
  it('keeps creds and keys encrypted at rest, batched writes, and wipes on request', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-store-'))
    const sealer = new Sealer('k'.repeat(40), 'sessions')
    const store = SessionStore.open(dir, 'inst_a', sealer)
    const creds = initAuthCreds()
    store.writeCreds(creds)
    const state = store.authState()
    await state.keys.set({ 'pre-key': { '1': { public: Buffer.from('pub-marker'), private: Buffer.from('priv-marker') } }, session: { 'x.0': Buffer.from('session-marker') } })
    expect((await state.keys.get('pre-key', ['1', '2']))['1']?.private.toString()).toBe('priv-marker')
    expect(Object.keys(await state.keys.get('pre-key', ['2']))).toEqual([])
    await state.keys.set({ 'pre-key': { '1': null } })
    expect(await state.keys.get('pre-key', ['1'])).toEqual({})
    expect(store.readCreds()?.advSecretKey).toBe(creds.advSecretKey)
    store.close()

    const raw = fs.readFileSync(path.join(dir, 'inst_a.db'))
    const wal = fs.existsSync(path.join(dir, 'inst_a.db-wal')) ? fs.readFileSync(path.join(dir, 'inst_a.db-wal')) : Buffer.alloc(0)
    for (const marker of ['session-marker', creds.advSecretKey, 'noiseKey']) {
      expect(raw.includes(marker)).toBe(false)
      expect(wal.includes(marker)).toBe(false)
    }
    const reopened = SessionStore.open(dir, 'inst_a', sealer)
    reopened.wipe()
    expect(reopened.readCreds()).toBeUndefined()
    reopened.close()
    destroySessionFiles(dir, 'inst_a')
    expect(fs.existsSync(path.join(dir, 'inst_a.db'))).toBe(false)
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
