import BetterSqlite3 from 'better-sqlite3'
import type { InboundMessage } from '../../src/whatsapp/inbound.js'
import { sessionFileFor } from '../../src/whatsapp/session-files.js'
import type { Harness } from './harness.js'

/**
 * Puts `intercept` in front of the daemon's inbound recording (not Baileys: what reaches the recorder). It sees
 * every upsert's messages and either stands in for the recording (throws, or swallows it) or passes it on with
 * `next`. Answers the function that takes it out again; a restarted daemon has none.
 */
export function interceptRecording(h: Harness, intercept: (messages: InboundMessage[], next: () => Promise<void>) => Promise<void>): () => void {
  const recording = h.daemon.events.recording
  const original = recording.record.bind(recording)
  recording.record = (instanceId, messages) => intercept(messages, () => original(instanceId, messages))
  return () => {
    recording.record = original
  }
}

/**
 * Baileys swallowing one upsert, or a crash before it was recorded: the first upsert with a message of this text
 * never reaches the recording, and its recording never settles (so the listener never takes its entry out of the
 * journal); later ones do. Answers how many were swallowed so far.
 */
export function swallowFirstUpsertOf(h: Harness, text: string): () => number {
  let swallowed = 0
  interceptRecording(h, (messages, next) => {
    if (swallowed === 0 && messages.some((m) => m.text === text)) {
      swallowed++
      return new Promise<void>(() => undefined)
    }
    return next()
  })
  return () => swallowed
}

/** How many entries the instance's inbound journal (in its session file) holds, of one message or in all. */
export function journaled(h: Harness, instanceId: string, waMessageId?: string): number {
  const db = new BetterSqlite3(sessionFileFor(h.config.sessionsDir, instanceId), { fileMustExist: true })
  try {
    const where = waMessageId ? 'WHERE wa_message_id = ?' : ''
    return db.prepare(`SELECT COUNT(*) FROM inbound_journal ${where}`).pluck().get(...(waMessageId ? [waMessageId] : [])) as number
  } finally {
    db.close()
  }
}
