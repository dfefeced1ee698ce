import { createHash } from 'node:crypto'
import type { Statement } from 'better-sqlite3'
import type { Selectable } from 'kysely'
import type { Database } from '../db/database.js'
import type { Schema } from '../db/schema.js'
import { AppError } from '../errors.js'

export type Claim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; body: string }

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

/**
 * `Idempotency-Key` for sends (engineering-notes.md), scoped by instance. A request claims its key with an
 * `in_progress` row (INSERT … ON CONFLICT DO NOTHING: two racing requests cannot both win); the transaction that
 * queues the message turns the row into the stored answer. A request that fails before queueing releases the
 * key, so the client can retry it. Rows older than the TTL are dead and swept.
 */
export class IdempotencyStore {
  // Every keyed send runs claim and complete (release when it fails): statements prepared once, not compiled by
  // Kysely per request.
  private readonly stmt: { expire: Statement; claim: Statement; read: Statement; complete: Statement; release: Statement }

  constructor(
    private readonly db: Database,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    const sql = db.sqlite
    this.stmt = {
      expire: sql.prepare('DELETE FROM idempotency_keys WHERE instance_id = ? AND key = ? AND created_at <= ?'),
      claim: sql.prepare(
        `INSERT INTO idempotency_keys (instance_id, key, fingerprint, state, response_status, response_body, created_at)
         VALUES (?, ?, ?, 'in_progress', NULL, NULL, ?) ON CONFLICT DO NOTHING`,
      ),
      read: sql.prepare('SELECT * FROM idempotency_keys WHERE instance_id = ? AND key = ?'),
      complete: sql.prepare(`UPDATE idempotency_keys SET state = 'done', response_status = ?, response_body = ? WHERE instance_id = ? AND key = ?`),
      release: sql.prepare(`DELETE FROM idempotency_keys WHERE instance_id = ? AND key = ? AND state = 'in_progress'`),
    }
  }

  static assertValidKey(key: string): void {
    if (!KEY_PATTERN.test(key)) throw new AppError('IDEMPOTENCY_KEY_INVALID')
  }

  /** Claims the key, or says why not: 409 while the first request is in flight, 422 for another body, else replay. */
  claim(instanceId: string, key: string, fingerprint: string): Claim {
    const now = this.now()
    return this.db.tx(() => {
      this.stmt.expire.run(instanceId, key, now - this.ttlMs)
      if (this.stmt.claim.run(instanceId, key, fingerprint, now).changes === 1) return { kind: 'claimed' } as const
      const row = this.stmt.read.get(instanceId, key) as Selectable<Schema['idempotency_keys']> | undefined
      if (!row) throw new AppError('INTERNAL')
      if (row.fingerprint !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED')
      if (row.state !== 'done' || row.response_status === null || row.response_body === null) throw new AppError('IDEMPOTENCY_KEY_IN_USE')
      return { kind: 'replay', status: row.response_status, body: row.response_body } as const
    })
  }

  /** Stores the answer; call inside the transaction that queues the message. */
  complete(instanceId: string, key: string, status: number, body: string): void {
    this.stmt.complete.run(status, body, instanceId, key)
  }

  /** The request failed before anything was queued: the key is free again. */
  release(instanceId: string, key: string): void {
    this.stmt.release.run(instanceId, key)
  }

  /** Drops answers past the TTL. At boot also claims left by a crashed process: no request of theirs is in flight. */
  sweep(opts: { includeInProgress?: boolean } = {}): number {
    const q = this.db.qb
    let removed = this.db.run(q.deleteFrom('idempotency_keys').where('created_at', '<=', this.now() - this.ttlMs))
    if (opts.includeInProgress) removed += this.db.run(q.deleteFrom('idempotency_keys').where('state', '=', 'in_progress'))
    return removed
  }
}

/** sha256 of the request in a canonical form (keys sorted at every level), so key order and spacing do not matter. */
export function requestFingerprint(type: string, body: unknown): string {
  return createHash('sha256').update(type).update('\n').update(canonicalJson(body)).digest('hex')
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
