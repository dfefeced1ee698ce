import { randomBytes } from 'node:crypto'
import type { Database } from '../db/database.js'
import type { DomainEvent, EventEnvelope } from './types.js'

/**
 * The durable outbox. `append` is synchronous: call it inside the same `db.tx` as the write the event describes,
 * so the message and its event (and its delivery rows) commit together or not at all.
 */
export class Outbox {
  constructor(private readonly db: Database) {}

  /** Stores the event unless its dedupe key was seen before; answers the event id and whether it is new. */
  append(event: DomainEvent): { id: string; inserted: boolean } {
    if (event.dedupeKey) {
      const existing = this.db.first(this.db.qb.selectFrom('events').select('id').where('dedupe_key', '=', event.dedupeKey))
      if (existing) return { id: existing.id, inserted: false }
    }
    const envelope: EventEnvelope = {
      id: `evt_${randomBytes(12).toString('base64url')}`,
      type: event.type,
      version: '1',
      occurred_at: event.occurredAt ?? new Date().toISOString(),
      instance_id: event.instanceId,
      tenant_id: event.tenantId,
      data: event.data,
    }
    this.db.run(
      this.db.qb.insertInto('events').values({
        id: envelope.id,
        instance_id: envelope.instance_id,
        tenant_id: envelope.tenant_id,
        type: envelope.type,
        dedupe_key: event.dedupeKey ?? null,
        body: JSON.stringify(envelope),
        occurred_at: envelope.occurred_at,
      }),
    )
    return { id: envelope.id, inserted: true }
  }
}
