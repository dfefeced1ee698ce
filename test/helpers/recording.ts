import type { InboundMessage } from '../../src/whatsapp/inbound.js'
import type { Harness } from './harness.js'

/**
 * Puts `intercept` in front of the daemon's inbound recording (not Baileys: what reaches the recorder). It sees
 * every upsert's messages and either stands in for the recording (throws, or swallows it) or passes it on with
 * `next`. Answers the function that takes it out again; a restarted daemon has none.
 */
export function interceptRecording(h: Harness, intercept: (messages: InboundMessage[], next: () => Promise<void>) => Promise<void>): () => void {
  const recording = h.daemon.events.recording
  const original = recording.record.bind(recording)
  recording.record = (instanceId, messages, waIds) => intercept(messages, () => original(instanceId, messages, waIds))
  return () => {
    recording.record = original
  }
}

/**
 * Baileys swallowing one upsert, or a crash before it was recorded: the first upsert with a message of this text
 * never reaches the recording; later ones do. Answers how many were swallowed so far.
 */
export function swallowFirstUpsertOf(h: Harness, text: string): () => number {
  let swallowed = 0
  interceptRecording(h, (messages, next) => {
    if (swallowed === 0 && messages.some((m) => m.text === text)) {
      swallowed++
      return Promise.resolve()
    }
    return next()
  })
  return () => swallowed
}
