import type { SignalDataSet, SignalKeyStore } from '@whiskeysockets/baileys'

/** What is kept of a `<message>` stanza to rebuild it later: its attrs and those of its `<enc>` child. */
export interface StoredStanza {
  attrs: Record<string, string>
  enc: Record<string, string>
}

export interface JournalEntry {
  waMessageId: string
  stanza: StoredStanza
  /** the decrypted message bytes, still padded (what SignalRepository.decryptMessage returns) */
  plaintext: Buffer
}

/**
 * Decrypted stanzas not recorded yet, kept in the instance's session file (SessionStore) so that a stanza is written
 * in the same SQLite transaction as the Signal session its decryption advanced: after any crash either both are
 * stored or neither is, and a message whose key is spent is always a message the daemon holds.
 */
export interface InboundJournal {
  /** Entries to write with the next commit of Signal keys (journalingKeys hands them over from that commit). */
  stage(entries: readonly JournalEntry[]): void
  /** Writes entries now, in their own transaction. */
  write(entries: readonly JournalEntry[]): void
  /** The messages were recorded: their entries are deleted, together, once the current microtasks have run. */
  forget(waMessageIds: readonly string[]): void
  /** Entries written at or before `journaledBy` (epoch ms; default all), oldest first, without forgotten ones. */
  entries(journaledBy?: number): JournalEntry[]
  has(waMessageId: string): boolean
}

/**
 * The key-store "type" under which a journal entry joins a Signal transaction's mutations. Not one of Baileys' own:
 * its transaction layer keeps mutations of any type and commits them all in one `set` (Utils/auth-utils.js:151,
 * :218-227), and journalingKeys takes this one out before anything else below sees it.
 */
export const JOURNAL_KEY_TYPE = 'wagw-inbound-journal'

/** A journal entry as a mutation of the Signal transaction it belongs to (`keys.set` inside that transaction). */
export function journalMutation(entry: JournalEntry): SignalDataSet {
  return { [JOURNAL_KEY_TYPE]: { [entry.waMessageId]: entry } } as unknown as SignalDataSet
}

/**
 * The key store Baileys' socket gets, in front of everything else of ours: the journal entries of a commit are staged
 * in the session store, which writes them in the transaction of the keys that follow (SessionStore's setMany), and
 * never reach Baileys' key cache (they would crowd out Signal sessions, and keep plaintexts for 5 minutes).
 */
export function journalingKeys(keys: SignalKeyStore, journal: InboundJournal): SignalKeyStore {
  return {
    get: (type, ids) => keys.get(type, ids),
    set: (data) => {
      const { [JOURNAL_KEY_TYPE]: staged, ...rest } = data as SignalDataSet & { [JOURNAL_KEY_TYPE]?: Record<string, JournalEntry> }
      if (!staged) return keys.set(data)
      journal.stage(Object.values(staged))
      return keys.set(rest)
    },
    clear: keys.clear ? () => keys.clear!() : undefined,
  }
}
