import { cleanMessage, decryptMessageNode, MISSING_KEYS_ERROR_TEXT, type BinaryNode, type WAMessage } from '@whiskeysockets/baileys'
import type { Logger } from '../logger.js'
import type { WaConnection } from './connection.js'
import { journalMutation, type JournalEntry } from './inbound-journal.js'
import { normaliseMessage, type InboundMessage } from './inbound.js'

/** The durable side of inbound handling, in the gateway database. */
export interface InboundRecorder {
  /** Records one upsert's messages; settles once its transaction committed, or failed (they stay in the journal). */
  record(messages: InboundMessage[]): Promise<void>
  /** Whether a message of this WhatsApp id is recorded (synchronous: it runs inside Baileys' own call stack). */
  recorded(waMessageId: string): boolean
  /**
   * Journal entries a version before the journal moved into the session file left in the gateway database: handed
   * to `keep`, which stores them durably, then deleted there.
   */
  moveLegacyJournal(keep: (entries: JournalEntry[]) => void): void
}

type DecryptArgs = { jid: string; type: 'pkmsg' | 'msg'; ciphertext: Uint8Array }

/**
 * Connects one Baileys socket to the recorder. Called for every new socket before it receives a frame.
 *
 * Ordering inside Baileys 7.0.0-rc14, and what it means for "acknowledge after the durable write":
 *  - Socket/messages-recv.js:1294 decrypts, :1417 sends the delivery receipt (`sendReceipt`), only then :1432
 *    `upsertMessage` emits `messages.upsert` — into the event buffer (Utils/event-buffer.js:130-133), which is
 *    flushed after the node is handled (messages-recv.js:1571-1575) or, for the offline backlog, only when the
 *    server's `<ib><offline/>` arrives (Socket/socket.js:821-838). So the `messages.upsert` listener runs AFTER the
 *    receipt left: a crash in between would lose the message (the server drops what was receipted).
 *  - To close that window the journal hooks the decrypt itself: `signalRepository.decryptMessage` is called as a
 *    method of the object the socket exposes (Utils/decode-wa-message.js:253-257). The wrapper runs Baileys'
 *    decryption inside a key-store transaction of its own, in which Baileys' transaction nests (Utils/auth-utils.js:
 *    232-237), and adds the decrypted bytes to that transaction's mutations: the journal entry and the Signal
 *    session the decryption advanced commit in one SQLite transaction of the session file (inbound-journal.ts),
 *    before the receipt. If that commit fails, Baileys treats the message as undecryptable: a retry receipt and a
 *    nack 500 instead of a delivery receipt (messages-recv.js:1370-1389), and the sender resends. (A pkmsg's
 *    identity key, which Baileys saves before its own transaction, Signal/libsignal.js:86-95, now commits with it.)
 *  - The upsert listener then has the recorder write message + event + deliveries in one transaction (shared with
 *    the other upserts of the same event-loop turn), and the journal entries go once it committed.
 *    A journal entry that survived a crash is replayed through Baileys' own decode (decryptMessageNode with a
 *    repository that answers the stored plaintext) when the instance's next socket is created.
 * Not covered: `<plaintext>` stanzas (no decrypt call), group `skmsg` (decryptGroupMessage is not journaled),
 * and messages Baileys drops before decrypting (ignored JIDs, msmsg).
 */
export function attachInbound(connection: WaConnection, recorder: InboundRecorder, logger: Logger, opts: { sweepMs?: number } = {}): void {
  const sock = connection.socket
  const stanzaOf = new WeakMap<Uint8Array, BinaryNode>()

  // 'frame' is emitted before any CB: handler (Socket/socket.js:441-465), so the map is filled before decryption.
  sock.ws.on('frame', (frame: BinaryNode) => {
    if (frame.tag !== 'message' || !Array.isArray(frame.content)) return
    for (const child of frame.content) if (child.tag === 'enc' && child.content instanceof Uint8Array) stanzaOf.set(child.content, frame)
  })

  const { journal } = connection
  const keys = sock.authState.keys
  const repository = sock.signalRepository
  const decrypt = repository.decryptMessage.bind(repository)
  repository.decryptMessage = async (args: DecryptArgs) => {
    const node = stanzaOf.get(args.ciphertext)
    // The id of a message the journal holds (peer messages, our own devices' protocol traffic, are not journaled).
    const waMessageId = node && node.attrs.category !== 'peer' ? node.attrs.id : undefined
    try {
      if (!node || !waMessageId) return await decrypt(args)
      return await keys.transaction(async () => {
        const plaintext = await decrypt(args)
        const enc = (node.content as BinaryNode[]).find((c) => c.content === args.ciphertext)
        const entry: JournalEntry = {
          waMessageId,
          stanza: { attrs: { ...node.attrs }, enc: { ...(enc?.attrs ?? {}) } },
          plaintext: Buffer.from(plaintext),
        }
        await keys.set(journalMutation(entry))
        return plaintext
      }, args.jid)
    } catch (err) {
      throw askForRetryIfUnknown(err, waMessageId, (id) => journal.has(id) || recorder.recorded(id))
    }
  }

  // A recording that failed (a full disk, a lock held too long) leaves its message in the journal. Replay it soon
  // rather than only at the next socket; while replays keep failing, wait twice as long each time.
  let replayTimer: NodeJS.Timeout | undefined
  let replayDelayMs = REPLAY_FIRST_DELAY_MS
  let closed = false
  const replay = async (journaledBy?: number) => {
    const allRecorded = await replayLeftovers(connection, recorder, logger, journaledBy)
    replayDelayMs = allRecorded ? REPLAY_FIRST_DELAY_MS : Math.min(replayDelayMs * 2, REPLAY_MAX_DELAY_MS)
    if (!allRecorded) scheduleReplay()
  }
  const scheduleReplay = () => {
    if (replayTimer || closed) return
    replayTimer = setTimeout(() => {
      replayTimer = undefined
      void replay()
    }, replayDelayMs)
  }
  // An upsert Baileys swallowed while the socket stays up (its event buffer can fold one into a history set or drop
  // it with a buffered delete, Utils/event-buffer.js:414-416, :455) would otherwise wait in the journal for the next
  // socket: entries at least one sweep old are replayed (the recorder dedupes one whose upsert is merely late).
  const sweepMs = opts.sweepMs ?? JOURNAL_SWEEP_MS
  const sweep = setInterval(() => {
    if (!replayTimer) void replay(Date.now() - sweepMs)
  }, sweepMs)
  sweep.unref()
  connection.once('close', () => {
    closed = true
    clearTimeout(replayTimer)
    clearInterval(sweep)
  })

  const recordingFailed = (err: unknown) => {
    logger.error({ err }, 'recording inbound messages failed; the journal holds them, replaying soon')
    scheduleReplay()
  }
  sock.ev.on('messages.upsert', ({ messages, type }) => {
    try {
      const normalised: InboundMessage[] = []
      for (const m of messages) {
        const n = normaliseMessage(m, type === 'append')
        if (n) normalised.push(n)
      }
      // Every message of the upsert leaves the journal, also those not recorded (protocol messages, stubs).
      const waIds = messages.map((m) => m.key.id ?? '').filter(Boolean)
      recorder
        .record(normalised)
        .then(() => journal.forget(waIds))
        .catch(recordingFailed)
    } catch (err) {
      recordingFailed(err)
    }
  })

  // What a crash left in the journal, before this socket's first frame.
  try {
    recorder.moveLegacyJournal((entries) => journal.write(entries))
  } catch (err) {
    logger.error({ err }, 'moving the inbound journal of an earlier version failed; retrying at the next socket')
  }
  void replay()
}

/**
 * libsignal's "Key used already or never filled" (MISSING_KEYS_ERROR_TEXT, Utils/decode-wa-message.js:29): the
 * stanza's message key was spent. Baileys takes that for a duplicate and nacks it with 487, asking for no retry
 * (Socket/messages-recv.js:1300-1303), so the server forgets it. Right for a message we hold. The journal commits
 * with the Signal session, so a crash can no longer spend the key of a message we never stored (before, a kill -9
 * between the two writes did: the soak lost a message that way). A failed commit still can: Baileys' key cache takes
 * the advanced session before the store refuses it (Utils/auth-utils.js:58-68), and a redelivery then meets the
 * spent key. For an id we do not know, the error is renamed so that Baileys takes its path for undecryptable messages
 * instead: a retry receipt and a nack 500 (messages-recv.js:1370-1388), and the sender encrypts the message again.
 */
function askForRetryIfUnknown(err: unknown, waMessageId: string | undefined, known: (waMessageId: string) => boolean): unknown {
  if (!(err instanceof Error) || err.message !== MISSING_KEYS_ERROR_TEXT || !waMessageId || known(waMessageId)) return err
  return new Error(`${KEY_SPENT_UNRECORDED}: ${err.message}`, { cause: err })
}

export const KEY_SPENT_UNRECORDED = 'message key spent but the message was never recorded; asking the sender to resend'

const JOURNAL_SWEEP_MS = 60_000
const REPLAY_FIRST_DELAY_MS = 1_000
const REPLAY_MAX_DELAY_MS = 60_000

/**
 * Rebuilds journaled stanzas with Baileys' own decoder (no Signal state is touched) and records them; answers
 * whether every one was recorded. An entry whose live upsert is still on its way is recorded twice: the recorder
 * dedupes on the WhatsApp id.
 */
async function replayLeftovers(connection: WaConnection, recorder: InboundRecorder, logger: Logger, journaledBy?: number): Promise<boolean> {
  let entries: JournalEntry[]
  try {
    entries = connection.journal.entries(journaledBy)
  } catch (err) {
    logger.error({ err }, 'reading the inbound journal failed')
    return false
  }
  if (entries.length === 0) return true
  const me = connection.socket.authState.creds.me
  if (!me?.id) return true
  const real = connection.socket.signalRepository
  let allRecorded = true
  const recordings: Array<Promise<void>> = []
  for (const entry of entries) {
    try {
      const node: BinaryNode = {
        tag: 'message',
        attrs: entry.stanza.attrs,
        content: [{ tag: 'enc', attrs: entry.stanza.enc, content: new Uint8Array(0) }],
      }
      const replayRepository = {
        ...real,
        lidMapping: real.lidMapping,
        decryptMessage: async () => entry.plaintext,
        decryptGroupMessage: async () => entry.plaintext,
        migrateSession: async () => ({ migrated: 0, skipped: 0, total: 0 }),
        processSenderKeyDistributionMessage: async () => undefined,
      } as unknown as typeof real
      const { fullMessage, decrypt } = decryptMessageNode(node, me.id, me.lid ?? '', replayRepository, logger)
      await decrypt()
      cleanMessage(fullMessage as WAMessage, me.id, me.lid ?? '')
      const n = normaliseMessage(fullMessage as WAMessage, true)
      recordings.push(
        recorder.record(n ? [n] : []).then(() => connection.journal.forget([entry.waMessageId]), (err: unknown) => {
          allRecorded = false
          logger.error({ err, waMessageId: entry.waMessageId }, 'recording a journaled inbound message failed')
        }),
      )
    } catch (err) {
      allRecorded = false
      logger.error({ err, waMessageId: entry.waMessageId }, 'replaying a journaled inbound message failed')
    }
  }
  await Promise.all(recordings)
  logger.warn({ count: entries.length }, 'replayed journaled inbound messages')
  return allRecorded
}
