import type { MessageStatus } from './types.js'

const RANK: Record<MessageStatus, number> = { queued: 0, sent: 1, delivered: 2, read: 3, played: 4, failed: -1 }

/**
 * Statuses only move forward: receipts arrive out of order (a read receipt can overtake the server ack, and
 * Baileys may report delivery inside a later messages.upsert, doc §4.8), so an older one must never overwrite a
 * newer one. `failed` is terminal, and reachable only before the recipient got the message: a WhatsApp refusal
 * comes instead of the server ack.
 */
export function canTransition(from: MessageStatus, to: MessageStatus): boolean {
  if (from === 'failed' || from === to) return false
  if (to === 'failed') return from === 'queued' || from === 'sent'
  return RANK[to] > RANK[from]
}
