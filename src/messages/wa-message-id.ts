import { randomFillSync } from 'node:crypto'

// Randomness drawn 4 KiB at a time: a `randomBytes` call per id (as Baileys' generateMessageIDV2 makes) creates a
// crypto job, an async resource that every enabled AsyncLocalStorage visits; on the send path that cost as much
// as the row's insert.
const pool = Buffer.alloc(4096)
let offset = pool.length

/**
 * A WhatsApp message id as WhatsApp Web and Baileys (generateMessageIDV2) write them: `3EB0` and 18 upper-case hex
 * digits. Theirs are the first 72 bits of a SHA-256 over the time, the account and 16 random bytes, which is
 * indistinguishable from 72 random bits; these are 72 random bits.
 */
export function newWaMessageId(): string {
  if (offset + 9 > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const id = `3EB0${pool.toString('hex', offset, offset + 9).toUpperCase()}`
  offset += 9
  return id
}
