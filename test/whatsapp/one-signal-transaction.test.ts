import { addTransactionCapability, type SignalKeyStoreWithTransaction, type WASocket } from '@whiskeysockets/baileys'
import { describe, expect, it } from 'vitest'
import { serialiseSignalTransactions } from '../../src/whatsapp/one-signal-transaction.js'
import { MemoryKeyStore, silentLogger } from '../wasim/memory-auth.js'

/**
 * The shape of the race, on Baileys' own transaction layer: a send's transaction (keyed by our JID) has read the
 * peer's session and not yet committed when an inbound decrypt (keyed by the peer's JID) reads, updates and commits
 * the same record; the send's commit then writes back its stale copy.
 */
async function race(keys: SignalKeyStoreWithTransaction): Promise<string | undefined> {
  const record = (value: string) => ({ session: { peer: new Uint8Array(Buffer.from(value)) } })
  const read = async () => Buffer.from((await keys.get('session', ['peer'])).peer ?? []).toString()
  await keys.set(record('r0'))

  let sendHasRead!: () => void
  const sendRead = new Promise<void>((resolve) => (sendHasRead = resolve))
  let finishSend!: () => void
  const sendMayFinish = new Promise<void>((resolve) => (finishSend = resolve))

  const send = keys.transaction(async () => {
    const seen = await read()
    sendHasRead()
    await sendMayFinish
    await keys.set(record(`${seen}+send`))
  }, 'me@s.whatsapp.net')
  await sendRead
  const decrypt = keys.transaction(async () => {
    await keys.set(record(`${await read()}+decrypt`))
  }, 'peer@lid')
  // The decrypt either finishes now (keys not serialised) or waits behind the send.
  await Promise.race([decrypt, Promise.resolve()])
  finishSend()
  await Promise.all([send, decrypt])
  return read()
}

function keyStore(store = new MemoryKeyStore()): SignalKeyStoreWithTransaction {
  return addTransactionCapability(store, silentLogger, { maxCommitRetries: 1, delayBetweenTriesMs: 0 })
}

/**
 * The shape of Baileys' privacy-token issuance after a send (Socket/messages-send.js:840-877): a promise started
 * inside the transaction, not awaited by it, that reads and writes keys once the transaction has committed. Answers
 * what the store underneath holds afterwards.
 */
async function lateWrite(keys: SignalKeyStoreWithTransaction, store: MemoryKeyStore): Promise<unknown> {
  let lateDone!: Promise<void>
  let commitSeen!: () => void
  const committed = new Promise<void>((resolve) => (commitSeen = resolve))
  await keys.transaction(async () => {
    await keys.set({ session: { peer: new Uint8Array([1]) } })
    lateDone = (async () => {
      await committed
      const before = await keys.get('tctoken', ['peer@lid'])
      await keys.set({ tctoken: { 'peer@lid': { ...before['peer@lid'], token: Buffer.alloc(0), senderTimestamp: 1234 } } })
    })()
  }, 'me@s.whatsapp.net')
  commitSeen()
  await lateDone
  return (await store.get('tctoken', ['peer@lid']))['peer@lid']
}

describe('serialiseSignalTransactions', () => {
  it('Baileys alone: one transaction’s commit erases the other’s update', async () => {
    expect(['r0+send', 'r0+decrypt']).toContain(await race(keyStore()))
  })

  it('serialised: both updates survive, in order', async () => {
    const store = new MemoryKeyStore()
    const keys = keyStore(store)
    serialiseSignalTransactions({ authState: { keys } } as unknown as WASocket, store)
    expect(await race(keys)).toBe('r0+send+decrypt')
  })

  it('Baileys alone: a write from a promise that outlives its transaction is lost', async () => {
    const store = new MemoryKeyStore()
    expect(await lateWrite(keyStore(store), store)).toBeUndefined()
  })

  it('a write from a promise that outlives its transaction reaches the store; the transaction’s own is committed', async () => {
    const store = new MemoryKeyStore()
    const keys = keyStore(store)
    serialiseSignalTransactions({ authState: { keys } } as unknown as WASocket, store)
    expect(await lateWrite(keys, store)).toEqual({ token: Buffer.alloc(0), senderTimestamp: 1234 })
    expect((await store.get('session', ['peer'])).peer).toEqual(new Uint8Array([1]))
  })
})
