import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import { sinkKey, type SinkDirectory, type SinkRef } from './sinks.js'
import type { DomainEvent, EventEnvelope } from './types.js'
import { newId } from '../ids.js'

/** `sinks`: the sinks that got a delivery row in this batch. */
export type AppendedListener = (envelopes: readonly EventEnvelope[], sinks: readonly SinkRef[]) => void

export const newEventId = (): string => newId('evt')
export const newDeliveryId = (): string => newId('dlv')

/**
 * The durable outbox. `append` is synchronous: call it inside the same `db.tx` as the write the event describes,
 * so the message, its event and one delivery row per subscribed sink commit together or not at all.
 * Listeners (the delivery worker's wake-up, live streams) hear about new events in a microtask, i.e. after the
 * caller's synchronous transaction has committed or rolled back; they must tolerate an event that was rolled back.
 */
export class Outbox {
  private readonly listeners = new Set<AppendedListener>()
  private pending: EventEnvelope[] = []
  private pendingSinks = new Map<string, SinkRef>()
  private readonly now: () => number
  // Hot path (every inbound message): statements compiled once.
  private readonly stmt: { byKey: Statement; event: Statement; delivery: Statement }

  constructor(
    private readonly db: Database,
    private readonly sinks: SinkDirectory,
    now?: () => number,
  ) {
    this.now = now ?? Date.now
    this.stmt = {
      byKey: db.sqlite.prepare(`SELECT id FROM events WHERE dedupe_key = ?`),
      event: db.sqlite.prepare(
        `INSERT INTO events (id, instance_id, tenant_id, type, dedupe_key, body, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      delivery: db.sqlite.prepare(`
        INSERT INTO deliveries (id, event_id, sink_kind, sink_id, status, attempts, next_attempt_at, created_at, updated_at)
        VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)`),
    }
  }

  /** Stores the event unless its dedupe key was seen before and fans it out to every subscribed sink. */
  append(event: DomainEvent): { id: string; inserted: boolean } {
    return this.appendTo(event, this.sinks.subscribers(event))
  }

  /** Like append, but to the given sinks only (e.g. `webhook.test` goes to one webhook). */
  appendTo(event: DomainEvent, sinks: readonly SinkRef[]): { id: string; inserted: boolean } {
    if (event.dedupeKey) {
      const existing = this.stmt.byKey.get(event.dedupeKey) as { id: string } | undefined
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
    const write = () => {
      this.stmt.event.run(envelope.id, envelope.instance_id, envelope.tenant_id, envelope.type, event.dedupeKey ?? null, JSON.stringify(envelope), envelope.occurred_at)
      const seen = new Set<string>()
      for (const sink of sinks) {
        const key = sinkKey(sink)
        if (seen.has(key)) continue
        seen.add(key)
        this.stmt.delivery.run(newDeliveryId(), envelope.id, sink.kind, sink.id, nowMs, nowIso, nowIso)
        if (this.listeners.size > 0) this.pendingSinks.set(key, sink)
      }
    }
    // Inside the caller's transaction the rows simply join it; alone, they get their own.
    if (this.db.sqlite.inTransaction) write()
    else this.db.tx(write)
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
      const sinks = [...this.pendingSinks.values()]
      this.pending = []
      this.pendingSinks = new Map()
      for (const listener of this.listeners) {
        try {
          listener(batch, sinks)
        } catch {
          // a listener's failure must never reach the producer
        }
      }
    })
  }
}
