import { randomChunk } from '../ids.js'

/**
 * A WhatsApp message id as WhatsApp Web and Baileys (generateMessageIDV2) write them: `3EB0` and 18 upper-case hex
 * digits. Theirs are the first 72 bits of a SHA-256 over the time, the account and 16 random bytes, which is
 * indistinguishable from 72 random bits; these are 72 random bits, from the pooled randomness of `src/ids.ts` (a
 * `randomBytes` call per id, as Baileys makes, creates a crypto job that every enabled AsyncLocalStorage visits; on
 * the send path that cost as much as the row's insert).
 */
export function newWaMessageId(): string {
  return `3EB0${randomChunk(9).toString('hex').toUpperCase()}`
}
