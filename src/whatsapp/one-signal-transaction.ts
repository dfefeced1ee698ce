import asyncHooks from 'node:async_hooks'
import type { SignalKeyStore, WASocket } from '@whiskeysockets/baileys'

/** Whether the top-level key-store transaction a piece of code started in has finished (see below). */
interface TransactionMark {
  finished: boolean
}

/**
 * The top-level transaction each async context was started in. Created on first use, so that it is the one
 * AsyncLocalStorage shared with every socket's when single-async-local-storage.ts is installed (that module replaces
 * the class at daemon start); this is one instance for the process either way, never one per socket.
 */
let marks: asyncHooks.AsyncLocalStorage<TransactionMark> | undefined

/**
 * Makes every top-level Signal key-store transaction of one socket take turns, and keeps key reads and writes that
 * outlive their transaction.
 *
 * Taking turns. Baileys rc14 keys its transaction mutex by an arbitrary string (Utils/auth-utils.js:231-264): a send
 * runs in a transaction keyed by our own JID (Socket/messages-send.js:468-882) and the encryptions inside it reuse
 * that context (Signal/libsignal.js:117-122), while decrypting an inbound message opens its own transaction keyed by
 * the sender's JID (Signal/libsignal.js:110-112). Each transaction reads the peer's session record into a private
 * cache and writes the whole record back at commit, so a send and a decrypt for the same peer running side by side
 * both start from the same record and the later commit erases the other's ratchet step. The peer then receives
 * messages under chain keys it already used ("No matching sessions found", "Bad MAC") or the daemon loses the
 * session the peer just started — the soak (scripts/soak.ts) found lost messages this way under duplicate
 * deliveries and retries. One key per socket serialises them. Nested transactions still reuse the outer context
 * (auth-utils.js:232-237), so nothing that already ran inside a send's transaction changes; transactions that
 * already shared a key (sends, retry requests, pre-key uploads and app-state syncs all use our JID) behaved this way
 * before.
 *
 * Late reads and writes. A transaction's context is an AsyncLocalStorage store, and every promise started inside it
 * keeps it. After a 1:1 send, still inside the send's transaction, Baileys starts a fire-and-forget privacy-token
 * issuance (messages-send.js:840-877: an iq, then `keys.get`/`keys.set` of the `tctoken` entry) that ends after the
 * transaction committed. Its `set` then lands in the finished transaction's cache (auth-utils.js:211-229), which is
 * never committed: the token's issue time was never stored, so every message to the contact issued a token again —
 * one more iq to WhatsApp per message sent. Reads and writes (and transactions) in the context of a finished
 * top-level transaction now go straight to the store underneath, as they would have outside any transaction. (With
 * the daemon's shared AsyncLocalStorage, single-async-local-storage.ts, a finished transaction's store has ended
 * anyway, so such code finds no transaction and Baileys itself sends it to the store; the mark covers Node's own
 * AsyncLocalStorage.)
 *
 * `authState.keys` is the very object the Signal repository holds (Socket/socket.js:270-271, 929) and every caller
 * looks the methods up at call time, so replacing them on the socket covers every caller. `store` is the key store the
 * socket was given (the one Baileys' transaction layer writes to at commit).
 */
export function serialiseSignalTransactions(socket: WASocket, store: SignalKeyStore): void {
  marks ??= new asyncHooks.AsyncLocalStorage<TransactionMark>()
  const context = marks
  const keys = socket.authState.keys
  const transaction = keys.transaction.bind(keys)
  const get = keys.get.bind(keys)
  const set = keys.set.bind(keys)
  const late = () => context.getStore()?.finished === true
  keys.transaction = async (work, _key) => {
    if (late()) return work()
    if (context.getStore()) return transaction(work, 'signal') // nested: Baileys reuses the open context
    const mark: TransactionMark = { finished: false }
    return transaction(() => context.run(mark, async () => {
      try {
        return await work()
      } finally {
        // What the work wrote so far is in the commit that follows; whatever its promises write later is not.
        mark.finished = true
      }
    }), 'signal')
  }
  keys.get = (type, ids) => (late() ? store.get(type, ids) : get(type, ids))
  keys.set = (data) => (late() ? store.set(data) : set(data))
}
