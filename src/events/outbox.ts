import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import { sinkKey, type SinkDirectory, type SinkRef } from './sinks.js'
import type { DomainEvent, EventEnvelope } from './types.js'
import { timeOrderedId } from '../ids.js'

/** `sinks`: the sinks that got a delivery row in this batch still to be claimed (not one taken at once). */
export type AppendedListener = (envelopes: readonly EventEnvelope[], sinks: readonly SinkRef[]) => void

/** A delivery row written already claimed by the worker (see DeliveryReserver). */
export interface ReservedDelivery {
  id: string
  event_id: string
  sink_kind: SinkRef['kind']
  sink_id: string
  attempts: number
  claim: string
}

/**
 * The delivery worker's side of "claim at append": an idle endpoint's delivery is written already claimed, in the
 * producer's own transaction, and its attempt starts right after that transaction — no claim UPDATE, no commit of
 * its own, no wait for the worker's next cycle (the inbound path: one message, one delivery per sink).
 */
export interface DeliveryReserver {
  /** Inside the producer's transaction, per new delivery: a claim for it, or undefined to leave it to the worker's claims. */
  reserve(sink: SinkRef): { claim: string; leaseUntil: number } | undefined
  /** In a microtask after the producer's transaction, committed or rolled back: the rows `reserve` claimed. */
  adopt(rows: ReservedDelivery[]): void
}

export const newEventId = (): string => timeOrderedId('evt')
export const newDeliveryId = (): string => timeOrderedId('dlv')

/** Bodies waiting for their first attempts, kept in memory for the delivery worker: at most this many bytes in all. */
const RECENT_BODY_BYTES = 8 * 1024 * 1024

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
  private reserver: DeliveryReserver | undefined
  private reserved: ReservedDelivery[] = []
  private announceQueued = false
  /**
   * The bodies of recently appended events, UTF-8 encoded once, until each of their deliveries took it for its first
   * attempt: the worker then sends without reading the row back and decoding it (a point SELECT per delivery showed
   * up in profiles). Retries, and anything evicted by the byte cap (oldest first), read the stored row. An entry of
   * a rolled-back transaction is never taken (no delivery row refers to it) and ages out the same way.
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
        INSERT INTO deliveries (id, event_id, sink_kind, sink_id, status, attempts, next_attempt_at, lease_until, claim, created_at, updated_at)
        VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?)`),
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
    const seen = new Set<string>()
    const write = () => {
      this.stmt.event.run(envelope.id, envelope.instance_id, envelope.tenant_id, envelope.type, event.dedupeKey ?? null, body, envelope.occurred_at)
      seen.clear()
      for (const sink of sinks) {
        const key = sinkKey(sink)
        if (seen.has(key)) continue
        seen.add(key)
        const id = newDeliveryId()
        const taken = this.reserver?.reserve(sink)
        this.stmt.delivery.run(id, envelope.id, sink.kind, sink.id, nowMs, taken?.leaseUntil ?? null, taken?.claim ?? null, nowIso, nowIso)
        if (taken) this.reserved.push({ id, event_id: envelope.id, sink_kind: sink.kind, sink_id: sink.id, attempts: 0, claim: taken.claim })
        else if (this.listeners.size > 0) this.pendingSinks.set(key, sink)
      }
    }
    // Inside the caller's transaction the rows simply join it; alone, they get their own.
    try {
      if (this.db.sqlite.inTransaction) write()
      else this.db.tx(write)
    } catch (err) {
      // Rows claimed before the failure were never written: the worker learns it when it looks them up, and frees
      // their slots.
      this.announce(undefined)
      throw err
    }
    if (seen.size > 0) this.remember(envelope.id, body, seen.size)
    this.announce(envelope)
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
    for (const [id, old] of this.recentBodies) {
      if (this.recentBytes <= RECENT_BODY_BYTES) break
      this.recentBodies.delete(id)
      this.recentBytes -= old.body.length
    }
  }

  onAppended(listener: AppendedListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** The delivery worker, which may take new deliveries at once (claim at append). */
  setReserver(reserver: DeliveryReserver | undefined): void {
    this.reserver = reserver
  }

  private announce(envelope: EventEnvelope | undefined): void {
    if (envelope && this.listeners.size > 0) this.pending.push(envelope)
    if (this.announceQueued || (this.pending.length === 0 && this.reserved.length === 0)) return
    this.announceQueued = true
    queueMicrotask(() => {
      this.announceQueued = false
      const batch = this.pending
      const sinks = [...this.pendingSinks.values()]
      const reserved = this.reserved
      this.pending = []
      this.pendingSinks = new Map()
      this.reserved = []
      if (reserved.length > 0) {
        try {
          this.reserver?.adopt(reserved)
        } catch {
          // the worker's failure must never reach the producer; unadopted claims are released at the next start
        }
      }
      if (batch.length === 0) return
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
