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
