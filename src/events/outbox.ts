import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import { sinkKey, type SinkDirectory, type SinkRef } from './sinks.js'
import type { DomainEvent, EventEnvelope } from './types.js'
import { timeOrderedId } from '../ids.js'

export type AppendedListener = (envelopes: readonly EventEnvelope[]) => void

/** A pending delivery as the worker takes it: from the outbox when it is appended, or read back from its row. */
export interface PendingDelivery {
  seq: number
  id: string
  event_id: string
  sink_kind: SinkRef['kind']
  sink_id: string
  attempts: number
  /** next_attempt_at */
  at: number
}

/** The delivery worker's side of the outbox. */
export interface DeliveryQueue {
  /**
   * In a microtask after the producer's transaction committed: the delivery rows it wrote, in order. Rows of a
   * transaction that rolled back never come.
   */
  appended(rows: readonly PendingDelivery[]): void
}

const newEventId = (): string => timeOrderedId('evt')
const newDeliveryId = (): string => timeOrderedId('dlv')

/**
 * Bodies waiting for their first attempts, kept in memory for the delivery worker: at most this many bytes in all
 * (≈ 25,000 inbound text events), until each delivery took its copy, or evicted oldest first (a delivery that ends
 * without an attempt never takes it: its body waits for eviction). Reading a body back cost ≈ 14 µs per delivery
 * here (measured), about a tenth of the main thread's time per delivery; 8 MiB ran out within the bench's burst.
 */
const RECENT_BODY_BYTES = 32 * 1024 * 1024

/**
 * The durable outbox. `append` is synchronous: call it inside the same `db.tx` as the write the event describes,
 * so the message, its event and one delivery row per subscribed sink commit together or not at all.
 * Once that transaction has committed (Database.afterCommit), in a microtask, the delivery worker gets the new rows
 * and the listeners (live streams, metrics) the new events; nothing of a transaction that rolled back reaches them.
 */
export class Outbox {
  private readonly listeners = new Set<AppendedListener>()
  private queue: DeliveryQueue | undefined
  private committedEvents: EventEnvelope[] = []
  private committedRows: PendingDelivery[] = []
  private announceQueued = false
  /**
   * The bodies of recently committed events, UTF-8 encoded once, until each of their deliveries took it for its
   * first attempt: the worker then sends without reading the row back and decoding it (a point SELECT per delivery
   * showed up in profiles). Retries, and anything evicted by the byte cap (oldest first), read the stored row.
   */
  private readonly recentBodies = new Map<string, { body: Buffer; waiting: number }>()
  private recentBytes = 0
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
    // Serialised once: this exact text is what every sink receives, on every attempt.
    const body = JSON.stringify(envelope)
    const rows: PendingDelivery[] = []
    const write = () => {
      this.stmt.event.run(envelope.id, envelope.instance_id, envelope.tenant_id, envelope.type, event.dedupeKey ?? null, body, envelope.occurred_at)
      const seen = new Set<string>()
      for (const sink of sinks) {
        const key = sinkKey(sink)
        if (seen.has(key)) continue
        seen.add(key)
        const id = newDeliveryId()
        const { lastInsertRowid } = this.stmt.delivery.run(id, envelope.id, sink.kind, sink.id, nowMs, nowIso, nowIso)
        rows.push({ seq: Number(lastInsertRowid), id, event_id: envelope.id, sink_kind: sink.kind, sink_id: sink.id, attempts: 0, at: nowMs })
      }
    }
    // Inside the caller's transaction the rows simply join it; alone, they get their own.
    if (this.db.sqlite.inTransaction) write()
    else this.db.tx(write)
    this.db.afterCommit(() => this.committed(envelope, body, rows))
    return { id: envelope.id, inserted: true }
  }

  /**
   * The stored body of a recently appended event, already encoded, for one of its deliveries' first attempt (each
   * delivery takes it once); undefined when it is not kept (any more): read the stored row then.
   */
  takeBody(eventId: string): Buffer | undefined {
    const entry = this.recentBodies.get(eventId)
    if (!entry) return undefined
    if (--entry.waiting <= 0) {
      this.recentBodies.delete(eventId)
      this.recentBytes -= entry.body.length
    }
    return entry.body
  }

  private remember(eventId: string, body: string, deliveries: number): void {
    const bytes = Buffer.from(body, 'utf8')
    if (bytes.length > RECENT_BODY_BYTES / 64) return
    this.recentBodies.set(eventId, { body: bytes, waiting: deliveries })
    this.recentBytes += bytes.length
    // A Map keeps the entries deleted from its front (bodies taken, in order) until it rehashes, and every new
    // iterator walks past them: an iterator per append cost 13 µs with 5,000 bodies waiting and 27 µs with 16,000
    // (measured). So iterate only when over the cap, and then evict down to three quarters of it in one go.
    if (this.recentBytes <= RECENT_BODY_BYTES) return
    for (const [id, old] of this.recentBodies) {
      if (this.recentBytes <= RECENT_BODY_BYTES * 0.75) break
      this.recentBodies.delete(id)
      this.recentBytes -= old.body.length
    }
  }

  onAppended(listener: AppendedListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** The delivery worker, which takes every new delivery as soon as its row is committed. */
  setDeliveryQueue(queue: DeliveryQueue | undefined): void {
    this.queue = queue
  }

  private committed(envelope: EventEnvelope, body: string, rows: readonly PendingDelivery[]): void {
    if (rows.length > 0) this.remember(envelope.id, body, rows.length)
    for (const row of rows) this.committedRows.push(row)
    if (this.listeners.size > 0) this.committedEvents.push(envelope)
    if (this.announceQueued) return
    this.announceQueued = true
    // A microtask: the producer finishes its own work first, and the hand-over never runs inside its call.
    queueMicrotask(() => this.announce())
  }

  private announce(): void {
    this.announceQueued = false
    const rows = this.committedRows
    const events = this.committedEvents
    this.committedRows = []
    this.committedEvents = []
    if (rows.length > 0) {
      try {
        this.queue?.appended(rows)
      } catch {
        // the worker's failure must never reach the producer; its rows stay pending for the worker's reads
      }
    }
    if (events.length === 0) return
    for (const listener of this.listeners) {
      try {
        listener(events)
      } catch {
        // a listener's failure must never reach the producer
      }
    }
  }
}
