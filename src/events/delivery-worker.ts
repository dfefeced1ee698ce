import { EventEmitter } from 'node:events'
import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import type { Logger } from '../logger.js'
import { AttemptAbort, type DeliveryPoster } from './delivery-client.js'
import type { DeliveryQueue, PendingDelivery } from './outbox.js'
import { judge, type AttemptOutcome, type Verdict } from './retry-policy.js'
import { signDelivery } from './signing.js'
import { sinkKey, type SinkDirectory, type SinkRef, type SinkTarget } from './sinks.js'

export interface DeliveryWorkerDeps {
  db: Database
  sinks: SinkDirectory
  client: DeliveryPoster
  /** delays before retry 1, 2, … (config.webhooks.retryScheduleMs); tests inject milliseconds */
  schedule: readonly number[]
  perEndpointConcurrency: number
  logger: Logger
  /** in-flight attempts over all endpoints */
  maxInFlight?: number
  /** new deliveries kept in memory per endpoint while it is busy; beyond, they are read back from the database */
  maxQueued?: number
  now?: () => number
  /**
   * The stored body of a just-appended event for a delivery's first attempt, if still in memory
   * (Outbox.takeBody); otherwise the worker reads the event row.
   */
  takeBody?: (eventId: string) => Buffer | undefined
  /** the body one sink receives; default: the stored event body unchanged */
  renderBody?: (storedBody: Buffer, target: SinkTarget) => Buffer | Promise<Buffer>
}

/** A finished attempt (or a chain ended without one), waiting for the next commit of results. */
interface Final {
  sink: Sink
  row: PendingDelivery
  verdict: Verdict
  outcome: AttemptOutcome | undefined
  status: DeliverySettled['status']
  lastError: string | null
  at: number
  after: (() => void) | undefined
}

/** What the worker knows of one endpoint. */
interface Sink {
  ref: SinkRef
  /**
   * When rows of it that the worker was not handed come due in the database (retries; rows of an earlier run; a
   * re-fire); undefined: none known. Then claims read the database from the start.
   */
  dueAt: number | undefined
  /** rows to take next, in (next_attempt_at, seq) order, from queueHead on */
  queue: PendingDelivery[]
  queueHead: number
  /** the database may have due rows after the cursor that are not in the queue: read them when the queue runs dry */
  reading: boolean
  /** the last row read or queued, in (next_attempt_at, seq) order */
  cursorAt: number
  cursorSeq: number
  /** attempts running now: at most perEndpointConcurrency */
  inFlight: number
  /** rows this process has taken whose result is not committed yet (in flight or waiting in `finals`), by seq */
  held: Set<number>
}

export const USER_AGENT = 'plixa-wa-gateway/0.1 (+webhooks)'

/**
 * Results are committed once this many have gathered or the oldest has waited FINALS_DELAY_MS. The receiver has its
 * answer already; a crash before the commit only repeats the attempt (at-least-once), and one commit then covers
 * many deliveries instead of a few (commits and their WAL pages were the largest cost per delivery, measured).
 */
const FINALS_BATCH = 128
const FINALS_DELAY_MS = 10

/** One finalised attempt (or a chain ended without one), for metrics, logs and tests. */
export interface DeliverySettled {
  deliveryId: string
  eventId: string
  sink: string
  /** the delivery's status after this attempt */
  status: 'pending' | 'succeeded' | 'failed'
  attempt: number
  httpStatus: number | null
  error: string | null
  /** the endpoint answered 410 and was disabled (webhooks only: a tenant's core is never disabled) */
  disabled: boolean
  durationMs: number
}

const CURSOR_START = -1
/** Rows read from the database at a time: one query's own cost, shared by many rows. */
const READ_PAGE = 256

/**
 * Sends pending deliveries. Works apart from the inbound path: the outbox only writes rows and hands them over.
 *
 * Claims live in memory. One daemon process owns its SQLite file, so nothing else can take a row, and a crash
 * forgets every claim at once: whatever was not recorded as done is pending again at the next start (at-least-once).
 * The only write per attempt is its result. Per endpoint at most `perEndpointConcurrency` attempts run at once and
 * saturated endpoints are left out of the claims, so a hanging receiver holds only its own slots, never another
 * receiver's.
 *
 * New deliveries come from the outbox once their transaction has committed (DeliveryQueue): an endpoint with a free
 * slot starts the attempt at once, a busy one queues the row in memory, in order, up to `maxQueued`; past that the
 * rows stay in the database and are read back after the queue's last row. The database is also read for what the
 * worker was not handed — retries coming due (one timer, set to the earliest), everything pending at start, a
 * manual re-fire — from the start then, in (next_attempt_at, seq) order, a page at a time, skipping the rows this
 * process holds, until none is left (the queue is emptied first: the database has its rows too).
 *
 * Claims happen in cycles, at most one per event-loop turn (setImmediate), for every slot that is free. Results are
 * written in batches (FINALS_BATCH, FINALS_DELAY_MS), one transaction each; a row stays held until its result is
 * committed, so no read takes it again meanwhile.
 */
export class DeliveryWorker extends EventEmitter<{ settled: [DeliverySettled] }> implements DeliveryQueue {
  private readonly endpoints = new Map<string, Sink>()
  private readonly controllers = new Map<string, AttemptAbort>()
  private readonly settled = new Set<Promise<void>>()
  private inFlight = 0
  private running = false
  private finals: Final[] = []
  private cycleQueued = false
  private timer: NodeJS.Timeout | undefined
  private finalsTimer: NodeJS.Timeout | undefined
  private readonly now: () => number
  private readonly maxInFlight: number
  private readonly maxQueued: number
  private readonly stmt: {
    claim: Statement
    nextForSink: Statement
    dueSinks: Statement
    eventBody: Statement
    finalise: Statement
  }
  /** Due times are looked up again for every sink (at start, after a wake without sinks). */
  private rescan = true

  constructor(private readonly deps: DeliveryWorkerDeps) {
    super()
    this.now = deps.now ?? Date.now
    this.maxInFlight = deps.maxInFlight ?? 512
    this.maxQueued = deps.maxQueued ?? 16_384
    const sqlite = deps.db.sqlite
    // Hot path: plain prepared statements (compiled once), positional parameters; the claim and next-retry queries
    // walk deliveries_pending for one sink only, in (next_attempt_at, seq) order.
    this.stmt = {
      // (sink_kind, sink_id, cursorAt, cursorSeq, limit, sink_kind, sink_id, cursorAt, now, limit, limit). Two ranges
      // of deliveries_pending, so each reads only the rows it returns: the rest of the cursor's millisecond by seq
      // (the index's implicit rowid), then the later due times. A single row-value range, (next_attempt_at, seq) >
      // (?, ?), made SQLite seek on next_attempt_at alone and re-read the whole millisecond each time (hundreds of
      // rows when a burst is appended, measured).
      claim: sqlite.prepare(`
        SELECT * FROM (
          SELECT seq, id, event_id, attempts, next_attempt_at AS at FROM deliveries
          WHERE sink_kind = ? AND sink_id = ? AND status = 'pending' AND next_attempt_at = ? AND seq > ? ORDER BY seq LIMIT ?)
        UNION ALL SELECT * FROM (
          SELECT seq, id, event_id, attempts, next_attempt_at AS at FROM deliveries
          WHERE sink_kind = ? AND sink_id = ? AND status = 'pending' AND next_attempt_at > ? AND next_attempt_at <= ?
          ORDER BY next_attempt_at, seq LIMIT ?)
        LIMIT ?`),
      nextForSink: sqlite.prepare(`
        SELECT next_attempt_at AS at FROM deliveries
        WHERE sink_kind = ? AND sink_id = ? AND status = 'pending' AND next_attempt_at > ? ORDER BY next_attempt_at LIMIT 1`),
      dueSinks: sqlite.prepare(`
        SELECT sink_kind, sink_id, MIN(next_attempt_at) AS at FROM deliveries WHERE status = 'pending' GROUP BY sink_kind, sink_id`),
      eventBody: sqlite.prepare(`SELECT body FROM events WHERE id = ?`),
      // The attempt joins the row's log in the same write (migration 006). Only a pending row: one that a 410 ended
      // (disable) or that was deleted while its attempt ran keeps what happened to it.
      finalise: sqlite.prepare(`
        UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_status = ?, last_error = ?,
          updated_at = ?, attempt_log = json_insert(coalesce(attempt_log, '[]'), '$[#]',
            json_object('at', ?, 'status_code', ?, 'error', ?, 'duration_ms', ?))
        WHERE seq = ? AND status = 'pending'`),
    }
  }

  /** Starts sending: every pending row is read back (claims of an earlier run, or process, are gone). */
  start(): void {
    if (this.running) return
    this.running = true
    this.rescan = true
    this.scheduleCycle()
  }

  /**
   * Rows may be due now that the worker was not handed: re-fired deliveries of `sinks`; without sinks, anything
   * (the pending rows are looked up again). Coalesced: many wakes in one tick, one cycle.
   */
  wake(sinks?: readonly SinkRef[]): void {
    if (sinks === undefined) this.rescan = true
    else if (sinks.length === 0) return
    else for (const ref of sinks) this.markDue(this.sink(ref), this.now())
    this.scheduleCycle()
  }

  /** New committed deliveries (from the outbox): started at once while their endpoint has a free slot, else queued. */
  appended(rows: readonly PendingDelivery[]): void {
    if (!this.running) return
    const now = this.now()
    let waiting = false
    for (const row of rows) {
      const sink = this.sink({ kind: row.sink_kind, id: row.sink_id })
      if (sink.reading || (sink.dueAt !== undefined && sink.dueAt <= now)) {
        // Reading the database comes to this row in its turn.
        waiting = true
      } else if (sink.queueHead === sink.queue.length && this.hasSlot(sink)) {
        this.launch(sink, row)
      } else if (sink.queue.length - sink.queueHead < this.maxQueued) {
        // The rows taken so far go once they are half the array: a backlog that never drains must not keep them.
        if (sink.queueHead >= 1024 && sink.queueHead * 2 >= sink.queue.length) {
          sink.queue = sink.queue.slice(sink.queueHead)
          sink.queueHead = 0
        }
        sink.queue.push(row)
        waiting = true
      } else {
        // Too many waiting: this row and the ones after it are read back from the database after the queue's last.
        const last = sink.queue[sink.queue.length - 1]!
        sink.reading = true
        sink.cursorAt = last.at
        sink.cursorSeq = last.seq
        waiting = true
      }
    }
    if (waiting) this.scheduleCycle()
  }

  /** Stops claiming, aborts attempts in flight (they are retried at the next start) and commits the results. */
  async stop(): Promise<void> {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    for (const controller of this.controllers.values()) controller.abort()
    await Promise.allSettled([...this.settled])
    this.flushFinals()
  }

  get inFlightCount(): number {
    return this.inFlight
  }

  private sink(ref: SinkRef): Sink {
    const key = sinkKey(ref)
    let sink = this.endpoints.get(key)
    if (!sink) {
      sink = { ref, dueAt: undefined, queue: [], queueHead: 0, reading: false, cursorAt: CURSOR_START, cursorSeq: CURSOR_START, inFlight: 0, held: new Set() }
      this.endpoints.set(key, sink)
    }
    return sink
  }

  private markDue(sink: Sink, at: number): void {
    if (sink.dueAt === undefined || at < sink.dueAt) sink.dueAt = at
  }

  private hasSlot(sink: Sink): boolean {
    return sink.inFlight < this.deps.perEndpointConcurrency && this.inFlight < this.maxInFlight
  }

  /** Something to take now: queued rows, rows to read, or rows come due. */
  private hasWork(sink: Sink, now: number): boolean {
    return sink.queueHead < sink.queue.length || sink.reading || (sink.dueAt !== undefined && sink.dueAt <= now)
  }

  private scheduleCycle(): void {
    if (this.cycleQueued || !this.running) return
    this.cycleQueued = true
    setImmediate(() => this.cycle())
  }

  /** Commits a full batch of results, then claims rows for every free slot and starts their attempts. */
  private cycle(): void {
    this.cycleQueued = false
    if (this.finals.length >= FINALS_BATCH) this.flushFinals()
    if (!this.running) return
    const now = this.now()
    this.claimDue(now)
    this.armTimer(now)
  }

  private claimDue(now: number): void {
    if (this.rescan) {
      this.rescan = false
      for (const r of this.stmt.dueSinks.all() as Array<{ sink_kind: SinkRef['kind']; sink_id: string; at: number }>) {
        this.markDue(this.sink({ kind: r.sink_kind, id: r.sink_id }), r.at)
      }
    }
    for (const sink of this.endpoints.values()) {
      if (this.inFlight >= this.maxInFlight) break
      if (sink.dueAt !== undefined && sink.dueAt <= now) this.readFromStart(sink)
      if (!this.hasWork(sink, now)) {
        // Idle and forgotten by every attempt: drop its entry (a deleted webhook leaves nothing behind).
        if (sink.dueAt === undefined && sink.inFlight === 0 && sink.held.size === 0) this.endpoints.delete(sinkKey(sink.ref))
        continue
      }
      // A saturated endpoint keeps its queue; one of its own completions wakes the worker. Others go on meanwhile.
      while (this.hasSlot(sink)) {
        if (sink.queueHead === sink.queue.length && !(sink.reading && this.readPage(sink, now))) break
        this.launch(sink, sink.queue[sink.queueHead++]!)
      }
      if (sink.queueHead === sink.queue.length) this.clearQueue(sink)
    }
  }

  /** Rows came due that may lie anywhere in the order: the database has them all, the queue's too; read it again. */
  private readFromStart(sink: Sink): void {
    sink.dueAt = undefined
    this.clearQueue(sink)
    sink.reading = true
    sink.cursorAt = sink.cursorSeq = CURSOR_START
  }
  private clearQueue(sink: Sink): void {
    sink.queue = []
    sink.queueHead = 0
  }


  /**
   * Queues the next page of due rows (only called with the queue empty, so every row read before is held now or
   * done). When the rows after the cursor run out, reads once more from the start (a row can come due behind the
   * cursor: a clock step back); when that finds none left, reading ends and the sink's next retry is looked up.
   * True when rows were queued.
   */
  private readPage(sink: Sink, now: number): boolean {
    const { kind, id } = sink.ref
    const fromStart = sink.cursorSeq === CURSOR_START
    // From the start, the held rows are read again and skipped; from the cursor, they lie behind it.
    const limit = READ_PAGE + (fromStart ? sink.held.size : 0)
    this.clearQueue(sink) // every row in it is taken: a backlog read page after page must not pile them up
    const rows = this.stmt.claim.all(kind, id, sink.cursorAt, sink.cursorSeq, limit, kind, id, sink.cursorAt, now, limit, limit) as Array<
      Omit<PendingDelivery, 'sink_kind' | 'sink_id'>
    >
    for (const row of rows) {
      sink.cursorAt = row.at
      sink.cursorSeq = row.seq
      if (!sink.held.has(row.seq)) sink.queue.push({ ...row, sink_kind: kind, sink_id: id })
    }
    if (rows.length < limit) {
      if (fromStart) {
        // Nothing due is left unread: the queue has the rest. Next: the earliest retry (held rows are due now).
        sink.reading = false
        const next = this.stmt.nextForSink.get(kind, id, now) as { at: number } | undefined
        if (next) this.markDue(sink, next.at)
      } else {
        sink.cursorAt = sink.cursorSeq = CURSOR_START
        if (sink.queueHead === sink.queue.length) return this.readPage(sink, now)
      }
    }
    return sink.queueHead < sink.queue.length
  }

  /** Starts an attempt for a row in a free slot of its sink; the row is held until its result is committed. */
  private launch(sink: Sink, row: PendingDelivery): void {
    sink.held.add(row.seq)
    this.take(sink)
    this.begin(sink, row)
  }

  /** Runs one attempt in a slot already taken; frees the slot when it ends. */
  private begin(sink: Sink, row: PendingDelivery): void {
    const done = this.run(sink, row)
      .catch((err: unknown) => this.attemptFailed(sink, row, err))
      .finally(() => {
        this.settled.delete(done)
        this.give(sink)
        this.afterSlotFreed()
      })
    this.settled.add(done)
  }

  private take(sink: Sink): void {
    sink.inFlight += 1
    this.inFlight += 1
  }

  private give(sink: Sink): void {
    sink.inFlight -= 1
    this.inFlight -= 1
  }

  /** A slot is free: claim for it (if anything waits), and see that the results waiting get committed. */
  private afterSlotFreed(): void {
    if (!this.running) return
    if (this.finals.length >= FINALS_BATCH) this.scheduleCycle()
    else if (this.finals.length > 0 && !this.finalsTimer) {
      this.finalsTimer = setTimeout(() => this.flushFinals() && this.scheduleCycle(), FINALS_DELAY_MS)
    }
    const now = this.now()
    for (const sink of this.endpoints.values()) {
      if (this.hasWork(sink, now) && this.hasSlot(sink)) {
        this.scheduleCycle()
        return
      }
    }
  }

  /**
   * One transaction for every result waiting. After the commit: their rows are no longer held, and their follow-ups
   * run (retry times, 410 handling, `settled`). A crash before the commit only means the attempts are made again.
   * True when something was committed (the caller then claims: retries may be due, rows are free).
   */
  private flushFinals(): boolean {
    if (this.finalsTimer) clearTimeout(this.finalsTimer)
    this.finalsTimer = undefined
    if (this.finals.length === 0) return false
    const finals = this.finals
    this.finals = []
    try {
      this.deps.db.tx(() => {
        for (const f of finals) this.writeFinal(f)
      })
    } catch (err) {
      // Nothing was written: keep the results (their rows stay held) and try again soon.
      this.finals = finals.concat(this.finals)
      this.deps.logger.error({ err }, 'recording webhook deliveries failed; retrying')
      if (this.running) this.finalsTimer = setTimeout(() => this.flushFinals() && this.scheduleCycle(), 1_000)
      return false
    }
    for (const f of finals) this.afterFinal(f)
    return true
  }

  /** One timer, set to the earliest future retry; capped so clock jumps heal within a minute. */
  private armTimer(now: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (!this.running) return
    let earliest = Number.POSITIVE_INFINITY
    for (const sink of this.endpoints.values()) if (sink.dueAt !== undefined && sink.dueAt > now && sink.dueAt < earliest) earliest = sink.dueAt
    if (earliest === Number.POSITIVE_INFINITY) return
    this.timer = setTimeout(
      () => {
        this.timer = undefined
        this.scheduleCycle()
      },
      Math.min(Math.max(earliest - now, 1), 60_000),
    )
    this.timer.unref()
  }

  private async run(sink: Sink, row: PendingDelivery): Promise<void> {
    const { ref } = sink
    const target = this.deps.sinks.target(ref)
    if (!target || !target.enabled) {
      this.finalise(sink, row, { kind: 'failed', reason: target ? 'endpoint_disabled' : 'sink_not_found' }, undefined)
      return
    }
    let stored = row.attempts === 0 ? this.deps.takeBody?.(row.event_id) : undefined
    if (!stored) {
      const found = this.stmt.eventBody.get(row.event_id) as { body: string } | undefined
      if (!found) {
        this.finalise(sink, row, { kind: 'failed', reason: 'event_not_found' }, undefined)
        return
      }
      stored = Buffer.from(found.body, 'utf8')
    }
    const body = this.deps.renderBody ? await this.deps.renderBody(stored, target) : stored
    if (!this.running) {
      // Stopped while the body was prepared (inline media can take a while): give the row back, nothing was sent.
      sink.held.delete(row.seq)
      return
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...signDelivery(body, row.event_id, Math.floor(this.now() / 1000), target.secrets),
    }
    const controller = new AttemptAbort()
    this.controllers.set(row.id, controller)
    let outcome: AttemptOutcome
    try {
      outcome = await this.deps.client.post(target.url, body, headers, controller)
    } finally {
      this.controllers.delete(row.id)
    }
    if (controller.aborted && !this.running) {
      // Shutdown: not the receiver's fault; give the row back without counting an attempt.
      sink.held.delete(row.seq)
      return
    }
    const verdict = judge(outcome, row.attempts + 1, this.deps.schedule)
    this.finalise(sink, row, verdict, outcome, verdict.kind === 'disable' ? () => this.disable(ref, verdict.reason) : undefined)
    if (verdict.kind === 'failed' && outcome.status === undefined && outcome.error === 'forbidden') {
      this.deps.logger.warn({ sink: sinkKey(ref) }, 'webhook URL resolves to a forbidden address; delivery failed')
    }
  }

  /**
   * The attempt threw before it had a result (its sink could not be read — e.g. a secret sealed with another key —
   * or the database failed): counted as a failed attempt of kind `internal`, retried on the schedule like a network
   * error, so the row is released and the chain ends in time instead of the error ending the process.
   */
  private attemptFailed(sink: Sink, row: PendingDelivery, err: unknown): void {
    this.deps.logger.error({ err, deliveryId: row.id, sink: sinkKey(sink.ref) }, 'webhook delivery attempt failed inside the daemon')
    const outcome: AttemptOutcome = { error: 'internal', errorMessage: err instanceof Error ? err.message : String(err), durationMs: 0 }
    this.finalise(sink, row, judge(outcome, row.attempts + 1, this.deps.schedule), outcome)
  }

  /** Queues the result for the next commit (flushFinals); the row stays held until then. */
  private finalise(sink: Sink, row: PendingDelivery, verdict: Verdict, outcome: AttemptOutcome | undefined, after?: () => void): void {
    const status = verdict.kind === 'succeeded' ? 'succeeded' : verdict.kind === 'retry' ? 'pending' : 'failed'
    const lastError =
      verdict.kind === 'failed' || verdict.kind === 'disable' ? verdict.reason : outcome?.error ? outcome.error : null
    this.finals.push({ sink, row, verdict, outcome, status, lastError, at: this.now(), after })
  }

  private writeFinal(f: Final): void {
    const { row, verdict, outcome, at } = f
    const iso = new Date(at).toISOString()
    const httpStatus = outcome?.status ?? null
    const attemptError = outcome?.error ? `${outcome.error}${outcome.errorMessage ? `: ${outcome.errorMessage}` : ''}` : outcome ? null : f.lastError
    this.stmt.finalise.run(
      f.status,
      verdict.kind === 'retry' ? at + verdict.delayMs : at,
      httpStatus,
      f.lastError,
      iso,
      // the attempt log entry (AttemptLogEntry)
      iso,
      httpStatus,
      attemptError,
      Math.round(outcome?.durationMs ?? 0),
      row.seq,
    )
  }

  private afterFinal(f: Final): void {
    const { sink, row, verdict, outcome } = f
    sink.held.delete(row.seq)
    if (verdict.kind === 'retry') this.markDue(sink, f.at + verdict.delayMs)
    f.after?.()
    if (this.listenerCount('settled') > 0) {
      this.emit('settled', {
        deliveryId: row.id,
        eventId: row.event_id,
        sink: `${row.sink_kind}:${row.sink_id}`,
        status: f.status,
        attempt: row.attempts + 1,
        httpStatus: outcome?.status ?? null,
        error: f.lastError,
        disabled: verdict.kind === 'disable' && row.sink_kind === 'webhook',
        durationMs: outcome?.durationMs ?? 0,
      })
    }
  }

  /** 410 Gone: disable the webhook and end every chain still pending for it. A tenant core is never disabled. */
  private disable(ref: SinkRef, reason: string): void {
    if (ref.kind !== 'webhook') return
    const { db } = this.deps
    const iso = new Date(this.now()).toISOString()
    db.tx(() => {
      db.run(db.qb.updateTable('webhooks').set({ enabled: 0, disabled_reason: reason, updated_at: iso }).where('id', '=', ref.id))
      db.run(
        db.qb
          .updateTable('deliveries')
          .set({ status: 'failed', last_error: 'endpoint_disabled', updated_at: iso })
          .where('sink_kind', '=', 'webhook')
          .where('sink_id', '=', ref.id)
          .where('status', '=', 'pending'),
      )
    })
    this.deps.sinks.invalidate()
    this.deps.logger.warn({ webhookId: ref.id }, 'webhook answered 410 Gone; disabled')
  }
}
