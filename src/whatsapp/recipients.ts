import type { WASocket } from '@whiskeysockets/baileys'

/**
 * WhatsApp's contact lookup (usync `contact` protocol, Socket/socket.js:222-246). Baileys answers only the numbers
 * that exist, in no guaranteed relation to the input order, but each answer's JID *is* the account's real number,
 * so asking for every Brazilian ninth-digit variant at once and taking the answer for the dialled form first (else
 * any) gives the id WhatsApp knows.
 */
export async function lookupOnWhatsApp(socket: WASocket, candidates: readonly string[]): Promise<string | null> {
  if (candidates.length === 0) return null
  const results = (await socket.onWhatsApp(...candidates)) ?? []
  const existing = results.filter((r) => r.exists && typeof r.jid === 'string')
  for (const candidate of candidates) {
    const exact = existing.find((r) => r.jid.split('@')[0] === candidate)
    if (exact) return exact.jid
  }
  return existing[0]?.jid ?? null
}
