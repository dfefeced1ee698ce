import { randomBytes } from 'node:crypto'
import type { Database } from '../db/database.js'
import { sinkKey, type SinkDirectory, type SinkRef } from './sinks.js'
import type { DomainEvent, EventEnvelope } from './types.js'

export type AppendedListener = (envelopes: readonly EventEnvelope[]) => void

export const newEventId = (): string => `evt_${randomBytes(12).toString('base64url')}`
export const newDeliveryId = (): string => `dlv_${randomBytes(12).toString('base64url')}`

/**
 * The durable outbox. `append` is synchronous: call it inside the same `db.tx` as the write the event describes,
 * so the message, its event and one delivery row per subscribed sink commit together or not at all.
 * Listeners (the delivery worker's wake-up, live streams) hear about new events in a microtask, i.e. after the
 * caller's synchronous transaction has committed or rolled back; they must tolerate an event that was rolled back.
 */
export class Outbox {
  private readonly listeners = new Set<AppendedListener>()
  private pending: EventEnvelope[] = []
  private readonly now: () => number

  constructor(
    private readonly db: Database,
    private readonly sinks: SinkDirectory,
    now?: () => number,
  ) {
    this.now = now ?? Date.now
  }

  /** Stores the event unless its dedupe key was seen before and fans it out to every subscribed sink. */
  append(event: DomainEvent): { id: string; inserted: boolean } {
    return this.appendTo(event, this.sinks.subscribers(event))
  }

  /** Like append, but to the given sinks only (e.g. `webhook.test` goes to one webhook). */
  appendTo(event: DomainEvent, sinks: readonly SinkRef[]): { id: string; inserted: boolean } {
    const { db } = this
    if (event.dedupeKey) {
      const existing = db.first(db.qb.selectFrom('events').select('id').where('dedupe_key', '=', event.dedupeKey))
      if (existing) return { id: existing.id, inserted: false }
    }
    const nowMs = this.now()
    const nowIso = new Date(nowMs).toISOString()
    const envelope: EventEnvelope = {
      id: newEventId(),
      type: event.type,
      version: '1',
      occurred_at: event.occurredAt ?? nowIso,
      instance_id: event.instanceId,
      tenant_id: event.tenantId,
      data: event.data,
    }
    db.tx(() => {
      db.run(
        db.qb.insertInto('events').values({
          id: envelope.id,
          instance_id: envelope.instance_id,
          tenant_id: envelope.tenant_id,
          type: envelope.type,
          dedupe_key: event.dedupeKey ?? null,
          body: JSON.stringify(envelope),
          occurred_at: envelope.occurred_at,
        }),
      )
      const seen = new Set<string>()
      for (const sink of sinks) {
        if (seen.has(sinkKey(sink))) continue
        seen.add(sinkKey(sink))
        db.run(
          db.qb.insertInto('deliveries').values({
            id: newDeliveryId(),
            event_id: envelope.id,
            sink_kind: sink.kind,
            sink_id: sink.id,
            status: 'pending',
            attempts: 0,
            next_attempt_at: nowMs,
            lease_until: null,
            claim: null,
            last_status: null,
            last_error: null,
            created_at: nowIso,
            updated_at: nowIso,
          }),
        )
      }
    })
    this.announce(envelope)
    return { id: envelope.id, inserted: true }
  }

  onAppended(listener: AppendedListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private announce(envelope: EventEnvelope): void {
    if (this.listeners.size === 0) return
    this.pending.push(envelope)
    if (this.pending.length > 1) return
    queueMicrotask(() => {
      const batch = this.pending
      this.pending = []
      for (const listener of this.listeners) {
        try {
          listener(batch)
        } catch {
          // a listener's failure must never reach the producer
        }
      }
    })
  }
}
