import type { WASocket } from '@whiskeysockets/baileys'

/**
 * Makes every top-level Signal key-store transaction of one socket take turns.
 *
 * Baileys rc14 keys its transaction mutex by an arbitrary string (Utils/auth-utils.js:231-264): a send runs in a
 * transaction keyed by our own JID (Socket/messages-send.js:468-882) and the encryptions inside it reuse that
 * context (Signal/libsignal.js:117-122), while decrypting an inbound message opens its own transaction keyed by the
 * sender's JID (Signal/libsignal.js:110-112). Each transaction reads the peer's session record into a private cache
 * and writes the whole record back at commit, so a send and a decrypt for the same peer running side by side both
 * start from the same record and the later commit erases the other's ratchet step. The peer then receives messages
 * under chain keys it already used ("No matching sessions found", "Bad MAC") or the daemon loses the session the
 * peer just started — the soak (scripts/soak.ts) found lost messages this way under duplicate deliveries and retries.
 *
 * One key per socket serialises them. Nested transactions still reuse the outer context (auth-utils.js:232-237), so
 * nothing that already ran inside a send's transaction changes; transactions that already shared a key (sends,
 * retry requests, pre-key uploads and app-state syncs all use our JID) behaved this way before.
 * `authState.keys` is the very object the Signal repository holds (Socket/socket.js:270-271, 929) and both look the
 * method up at call time, so replacing it on the socket covers every caller.
 */
export function serialiseSignalTransactions(socket: WASocket): void {
  const keys = socket.authState.keys
  const transaction = keys.transaction.bind(keys)
  keys.transaction = (work, _key) => transaction(work, 'signal')
}
