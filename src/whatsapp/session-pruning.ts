import type { SignalDataSet, SignalKeyStore } from '@whiskeysockets/baileys'

/**
 * Receiving chains one Signal session keeps, the current one included: Signal's own libsignal keeps five
 * (rust/protocol/src/consts.rs MAX_RECEIVER_CHAINS, the oldest dropped when a sixth is added), as do its ports
 * (go.mau.fi/libsignal, which whatsmeow uses). The JavaScript libsignal of Baileys rc14 never drops one.
 */
export const RECEIVING_CHAINS_KEPT = 5

/** libsignal's ChainType.RECEIVING (libsignal/src/chain_type.js). */
const RECEIVING = 2

/**
 * What `SessionRecord.serialize()` stores (libsignal/src/session_record.js), as far as pruning reads it. Baileys
 * types a session as Uint8Array (Types/Auth.d.ts:70) but stores this object (Signal/libsignal.js:361); anything
 * else is passed through untouched.
 */
interface SerializedRecord {
  _sessions?: Record<string, SerializedEntry>
}

interface SerializedEntry {
  currentRatchet?: { lastRemoteEphemeralKey?: string }
  _chains?: Record<string, { chainType?: number }>
}

/**
 * The key store Baileys' socket writes through, with every Signal session record it stores pruned to
 * RECEIVING_CHAINS_KEPT receiving chains per session.
 *
 * Why: each time the contact's ratchet turns (they answer after we wrote), libsignal adds a receiving chain to the
 * session and keeps the closed ones forever (session_cipher.js maybeStepRatchet: it only drops the old *sending*
 * chain), each with the keys of messages that never arrived. The record grows ≈ 105 B per turn, and every encrypt
 * and decrypt deserialises, reserialises, seals and stores all of it: after 1,000 turns a decrypt took 9.2 ms and
 * the record 106 KB, against 0.6 ms and 1.4 KB pruned (bench/signal-sessions.ts). A closed chain only serves a
 * message of that old ratchet arriving late; past the newest five such a message fails to decrypt and the sender
 * resends it on our retry receipt, as with any other client.
 *
 * The wrapper sits in front of Baileys' cache (makeCacheableSignalKeyStore), so the cached record, which the next
 * message deserialises, is the pruned one too.
 */
export function pruningSessions(keys: SignalKeyStore): SignalKeyStore {
  return {
    get: (type, ids) => keys.get(type, ids),
    set: (data) => keys.set(data.session ? { ...data, session: pruneSessions(data.session) } : data),
    clear: keys.clear ? () => keys.clear!() : undefined,
  }
}

function pruneSessions(records: NonNullable<SignalDataSet['session']>): NonNullable<SignalDataSet['session']> {
  const out: NonNullable<SignalDataSet['session']> = {}
  for (const [id, record] of Object.entries(records)) out[id] = record ? (pruneSessionRecord(record as SerializedRecord) as typeof record) : record
  return out
}

/**
 * The record with at most RECEIVING_CHAINS_KEPT receiving chains in each of its sessions: the oldest closed ones
 * go, never the one of the contact's current ratchet key. Chains are kept in the order libsignal added them
 * (SessionEntry.addChain appends; serialize and deserialize keep key order), so insertion order is age. Answers
 * the same object when nothing is dropped; never changes the given one.
 */
export function pruneSessionRecord<T extends SerializedRecord>(record: T): T {
  const sessions = record._sessions
  if (!sessions) return record
  let pruned: Record<string, SerializedEntry> | undefined
  for (const [baseKey, entry] of Object.entries(sessions)) {
    const chains = entry._chains
    if (!chains) continue
    const current = entry.currentRatchet?.lastRemoteEphemeralKey
    const receiving = Object.keys(chains).filter((key) => chains[key]?.chainType === RECEIVING && key !== current)
    const drop = receiving.length + (current && chains[current] ? 1 : 0) - RECEIVING_CHAINS_KEPT
    if (drop <= 0) continue
    const dropped = new Set(receiving.slice(0, drop))
    const kept: Record<string, { chainType?: number }> = {}
    for (const [key, chain] of Object.entries(chains)) if (!dropped.has(key)) kept[key] = chain
    pruned ??= { ...sessions }
    pruned[baseKey] = { ...entry, _chains: kept }
  }
  return pruned ? { ...record, _sessions: pruned } : record
}
