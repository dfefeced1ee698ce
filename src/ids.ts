import { randomFillSync } from 'node:crypto'

// One syscall fills 4 KiB of randomness for ~340 ids: on the send path a separate `randomBytes` per id (message,
// event, delivery…) showed up in profiles.
const pool = Buffer.alloc(4096)
let offset = pool.length

function randomChunk(bytes: number): Buffer {
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
