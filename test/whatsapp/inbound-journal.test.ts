import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SignalDataSet } from '@whiskeysockets/baileys'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Sealer } from '../../src/security/sealing.js'
import { SessionStore } from '../../src/whatsapp/auth-store.js'
import { JOURNAL_KEY_TYPE, journalingKeys, type JournalEntry } from '../../src/whatsapp/inbound-journal.js'
import { sessionFileFor } from '../../src/whatsapp/session-files.js'

const sealer = new Sealer('k'.repeat(40), 'sessions')

const entry = (waMessageId: string, text = `plain ${waMessageId}`): JournalEntry => ({
  waMessageId,
  stanza: { attrs: { id: waMessageId, from: '5511999990000@s.whatsapp.net' }, enc: { type: 'msg', v: '2' } },
  plaintext: Buffer.from(text),
})

/** What Baileys' transaction layer hands the key store at commit: the Signal keys and, with them, a journal entry. */
const commit = (session: Record<string, unknown>, ...entries: JournalEntry[]) =>
  ({ session, [JOURNAL_KEY_TYPE]: Object.fromEntries(entries.map((e) => [e.waMessageId, e])) }) as unknown as SignalDataSet

describe('the inbound journal in the session file', () => {
  let dir: string
  let store: SessionStore
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-journal-'))
    store = SessionStore.open(dir, 'inst_j', sealer)
  })
  afterEach(() => {
    if (store.isOpen) store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('commits an entry with the Signal keys of the same commit, sealed, and never hands it to the stores below', async () => {
    const below: SignalDataSet[] = []
    const storeKeys = store.authState().keys
    const keys = journalingKeys({ get: storeKeys.get, set: (data) => (below.push(data), storeKeys.set(data)) }, store.journal)
    await keys.set(commit({ 'peer.0': Buffer.from('ratchet 1') }, entry('A1', 'secret text')))

    expect(below).toEqual([{ session: { 'peer.0': Buffer.from('ratchet 1') } }])
    expect(store.journal.entries()).toEqual([entry('A1', 'secret text')])
    expect(store.journal.has('A1')).toBe(true)
    store.close()
    const file = sessionFileFor(dir, 'inst_j')
    const bytes = Buffer.concat([fs.readFileSync(file), fs.existsSync(`${file}-wal`) ? fs.readFileSync(`${file}-wal`) : Buffer.alloc(0)])
    expect(bytes.includes('secret text')).toBe(false)
  })

  it('a commit that fails stores neither the keys nor the entry; the retry with the same mutations stores both', async () => {
    const keys = journalingKeys(store.authState().keys, store.journal)
    // A value the store cannot encode makes the transaction throw after the first key was written.
    const failing = commit({ 'peer.0': Buffer.from('ratchet 2'), 'peer.1': { bad: 1n } }, entry('B1'))
    await expect(Promise.resolve().then(() => keys.set(failing))).rejects.toThrow(/BigInt/)
    expect(store.journal.entries()).toEqual([])
    expect(await store.authState().keys.get('session', ['peer.0'])).toEqual({})

    await keys.set(commit({ 'peer.0': Buffer.from('ratchet 2') }, entry('B1')))
    expect(store.journal.entries().map((e) => e.waMessageId)).toEqual(['B1'])
    expect((await store.authState().keys.get('session', ['peer.0']))['peer.0']?.toString()).toBe('ratchet 2')
  })

  it('lists entries in arrival order up to a time, forgets recorded ones in one write, and keeps the rest', async () => {
    const keys = journalingKeys(store.authState().keys, store.journal)
    for (const id of ['C3', 'C1', 'C2']) await keys.set(commit({}, entry(id)))
    expect(store.journal.entries().map((e) => e.waMessageId)).toEqual(['C3', 'C1', 'C2'])
    expect(store.journal.entries(Date.now() - 60_000)).toEqual([])

    store.journal.forget(['C3'])
    store.journal.forget(['C2'])
    // Forgotten at once for readers; deleted in the file once the current microtasks ran.
    expect(store.journal.entries().map((e) => e.waMessageId)).toEqual(['C1'])
    expect(store.journal.has('C3')).toBe(true)
    await Promise.resolve()
    expect(store.journal.has('C3')).toBe(false)
    expect(store.journal.has('C2')).toBe(false)
    expect(store.journal.has('C1')).toBe(true)

    store.journal.write([entry('C4')])
    expect(store.journal.entries().map((e) => e.waMessageId)).toEqual(['C1', 'C4'])
    // Reopened: the file has them.
    store.close()
    store = SessionStore.open(dir, 'inst_j', sealer)
    expect(store.journal.entries().map((e) => e.waMessageId)).toEqual(['C1', 'C4'])
  })

  it('a closed store refuses a commit that carries an entry (its message must not be acknowledged)', async () => {
    const keys = journalingKeys(store.authState().keys, store.journal)
    store.close()
    await expect(Promise.resolve().then(() => keys.set(commit({ 'peer.0': Buffer.from('late') }, entry('D1'))))).rejects.toThrow(/closed/)
    // Late key traffic without an entry is still ignored quietly (auth-store.test.ts).
    await keys.set({ session: { 'peer.0': Buffer.from('late') } } as unknown as SignalDataSet)
  })
})
