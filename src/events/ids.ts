import { randomFillSync } from 'node:crypto'

/**
 * The base64url characters in ASCII order, so that ids compare (SQLite BINARY collation, memcmp) in the order of the
 * numbers they encode.
 */
const ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz'

const pool = Buffer.alloc(4096)
let offset = pool.length

/**
 * `<prefix>_` + 8 characters of the creation time (ms, 48 bits) + 12 random characters (72 bits), e.g.
 * `evt_0Mq3xY-K…`. Opaque to clients like every id; the time prefix is only for the database: ids made one after
 * another land next to each other in a UNIQUE index, so a transaction that inserts hundreds of events, deliveries
 * or attempts dirties (and writes to the WAL) a few index pages instead of one page per row, as random ids do.
 */
export function timeOrderedId(prefix: string, nowMs = Date.now()): string {
  let time = ''
  let t = Math.max(0, Math.floor(nowMs))
  for (let i = 0; i < 8; i++) {
    time = ALPHABET[t % 64] + time
    t = Math.floor(t / 64)
  }
  if (offset + 12 > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  let random = ''
  for (let i = 0; i < 12; i++) random += ALPHABET[(pool[offset + i] as number) & 63]
  offset += 12
  return `${prefix}_${time}${random}`
}
