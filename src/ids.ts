import { randomFillSync } from 'node:crypto'

// One syscall fills 4 KiB of randomness for ~340 ids: on the send path a separate `randomBytes` per id (message,
// event, delivery…) showed up in profiles.
const pool = Buffer.alloc(4096)
let offset = pool.length

/** `bytes` random bytes from the shared pool; valid until the next call (copy or consume them at once). */
export function randomChunk(bytes: number): Buffer {
  if (offset + bytes > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const chunk = pool.subarray(offset, offset + bytes)
  offset += bytes
  return chunk
}

/** A random id with a readable prefix, e.g. `msg_…`, `evt_…`: 96 random bits by default. */
export function newId(prefix: string, bytes = 12): string {
  return `${prefix}_${randomChunk(bytes).toString('base64url')}`
}

/**
 * The base64url characters in ASCII order, so that ids compare (SQLite BINARY collation, memcmp) in the order of the
 * numbers they encode.
 */
const ORDERED_ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz'

/**
 * `<prefix>_` + 8 characters of the creation time (ms, 48 bits) + 12 random characters (72 bits), e.g.
 * `evt_0Mq3xY-K…`. Opaque to clients like every id; the time prefix is only for the database: ids made one after
 * another land next to each other in a UNIQUE index, so a transaction that inserts hundreds of events, deliveries
 * or messages dirties (and writes to the WAL) a few index pages instead of one page per row, as random ids do.
 */
export function timeOrderedId(prefix: string, nowMs = Date.now()): string {
  let time = ''
  let t = Math.max(0, Math.floor(nowMs))
  for (let i = 0; i < 8; i++) {
    time = ORDERED_ALPHABET[t % 64] + time
    t = Math.floor(t / 64)
  }
  const bytes = randomChunk(12)
  let random = ''
  for (let i = 0; i < 12; i++) random += ORDERED_ALPHABET[(bytes[i] as number) & 63]
  return `${prefix}_${time}${random}`
}
