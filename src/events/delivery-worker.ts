import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import type { DeliveryRow } from '../db/schema.js'
import type { Logger } from '../logger.js'
import type { DeliveryPoster } from './delivery-client.js'
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
  /** how long a claim is exclusive; longer than the HTTP timeout */
  leaseMs?: number
  now?: () => number
  /** the body one sink receives; default: the stored event body unchanged */
  renderBody?: (storedBody: string, target: SinkTarget) => Buffer | Promise<Buffer>
  /** called after a 410 disabled a webhook */
  onDisabled?: (ref: SinkRef) => void
}

type Claimed = Pick<DeliveryRow, 'id' | 'event_id' | 'sink_kind' | 'sink_id' | 'attempts'> & { claim: string }

const USER_AGENT = 'plixa-wa-gateway/0.1 (+webhooks)'

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
  /** the endpoint answered 410 and was disabled */
  disabled: boolean
  durationMs: number
}

/**
 * Sends pending deliveries. Works apart from the inbound path: the outbox only writes rows and wakes this worker.
 *
 * Claims follow liteque's lease pattern: one UPDATE … RETURNING marks due rows with a fresh claim and a lease, the
 * HTTP attempt runs outside any transaction, and the result is written `WHERE claim = ?`, so a worker whose lease
 * ran out cannot overwrite a newer claim. Per endpoint at most `perEndpointConcurrency` attempts run at once and
 * saturated endpoints are left out of the claim, so a hanging receiver holds only its own slots, never another
 * receiver's. The worker is woken by every append (no polling delay on the hot path) and by one timer set to the
 * next scheduled retry.
 */
export class DeliveryWorker extends EventEmitter<{ settled: [DeliverySettled] }> {
  private readonly inFlightBySink = new Map<string, number>()
  private readonly controllers = new Map<string, { controller: AbortController; claim: string }>()
  private readonly settled = new Set<Promise<void>>()
  private inFlight = 0
  private running = false
  /** Results waiting for the per-tick batch commit (one transaction for all, performance.md "batch per tick"). */
  private finals: Array<() => void> = []
  private afterFinals: Array<() => void> = []
  private flushQueued = false
  private pumpQueued = false
  private timer: NodeJS.Timeout | undefined
  private readonly now: () => number
  private readonly maxInFlight: number
  private readonly leaseMs: number
  private readonly stmt: {
    claim: Statement
    nextForSink: Statement
    dueSinks: Statement
    release: Statement
    eventBody: Statement
    finalise: Statement
    attempt: Statement
    releaseAll: Statement
  }
  /**
   * When each sink may next have due work (earliest known; a stale early time costs one empty claim). Filled at
   * start from the database, then by appends, retries and manual re-fires: a claim never scans other sinks' rows.
   */
  private readonly due = new Map<string, { ref: SinkRef; at: number }>()
  private rescan = true

  constructor(private readonly deps: DeliveryWorkerDeps) {
    super()
    this.now = deps.now ?? Date.now
    this.maxInFlight = deps.maxInFlight ?? 512
    this.leaseMs = deps.leaseMs ?? 60_000
    const sqlite = deps.db.sqlite
    // Hot path: plain prepared statements (compiled once); each walks deliveries_sink_due for one sink only.
    this.stmt = {
      claim: sqlite.prepare(`
        UPDATE deliveries SET lease_until = @leaseUntil, claim = @claim
        WHERE id IN (
          SELECT id FROM deliveries
          WHERE sink_kind = @kind AND sink_id = @id AND status = 'pending' AND next_attempt_at <= @now
            AND (claim IS NULL OR lease_until <= @now)
          ORDER BY next_attempt_at LIMIT @limit
        )
        RETURNING id, event_id, sink_kind, sink_id, attempts, claim`),
      nextForSink: sqlite.prepare(`
        SELECT next_attempt_at AS at FROM deliveries
        WHERE sink_kind = ? AND sink_id = ? AND status = 'pending' AND claim IS NULL ORDER BY next_attempt_at LIMIT 1`),
      dueSinks: sqlite.prepare(`
        SELECT sink_kind, sink_id, MIN(next_attempt_at) AS at FROM deliveries WHERE status = 'pending' GROUP BY sink_kind, sink_id`),
      release: sqlite.prepare(`UPDATE deliveries SET lease_until = NULL, claim = NULL WHERE id = ? AND claim = ?`),
      eventBody: sqlite.prepare(`SELECT body FROM events WHERE id = ?`),
      finalise: sqlite.prepare(`
        UPDATE deliveries SET status = @status, attempts = attempts + 1, next_attempt_at = @next, lease_until = NULL,
          claim = NULL, last_status = @lastStatus, last_error = @lastError, updated_at = @updatedAt
        WHERE id = @id AND claim = @claim`),
      attempt: sqlite.prepare(`
        INSERT INTO delivery_attempts (delivery_id, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?)`),
      releaseAll: sqlite.prepare(`UPDATE deliveries SET lease_until = NULL, claim = NULL WHERE status = 'pending' AND claim IS NOT NULL`),
    }
  }

  /**
   * Starts sending. One daemon process owns its SQLite file, so claims left by a previous (crashed) process are
   * released at once instead of waiting for their leases to run out.
   */
  start(): void {
    if (this.running) return
    this.running = true
    this.stmt.releaseAll.run()
    this.rescan = true
    this.schedulePump()
  }

  /**
   * New work may be due now: deliveries appended or re-fired for `sinks`; without sinks, anything (the pending
   * rows are looked up again). Coalesced: many wakes in one tick, one pump.
   */
  wake(sinks?: readonly SinkRef[]): void {
    if (sinks === undefined) this.rescan = true
    else for (const ref of sinks) this.markDue(ref, this.now())
    this.schedulePump()
  }

  /** Stops claiming, aborts attempts in flight and releases their claims (they are retried at the next start). */
  async stop(): Promise<void> {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    for (const { controller } of this.controllers.values()) controller.abort()
    await Promise.allSettled([...this.settled])
    this.flushFinals()
  }

  get inFlightCount(): number {
    return this.inFlight
  }

  private markDue(ref: SinkRef, at: number): void {
    const key = sinkKey(ref)
    const entry = this.due.get(key)
    if (!entry) this.due.set(key, { ref, at })
    else if (at < entry.at) entry.at = at
  }

  private schedulePump(): void {
    if (!this.running || this.pumpQueued) return
    this.pumpQueued = true
    setImmediate(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  private pump(): void {
    if (!this.running) return
    if (this.rescan) {
      this.rescan = false
      for (const r of this.stmt.dueSinks.all() as Array<{ sink_kind: SinkRef['kind']; sink_id: string; at: number }>) {
        this.markDue({ kind: r.sink_kind, id: r.sink_id }, r.at)
      }
    }
    const now = this.now()
    const claim = randomBytes(9).toString('base64url')
    for (const [key, entry] of this.due) {
      if (entry.at > now) continue
      const free = this.maxInFlight - this.inFlight
      if (free <= 0) break
      const slots = Math.min(this.deps.perEndpointConcurrency - (this.inFlightBySink.get(key) ?? 0), free)
      // A saturated endpoint keeps its entry; one of its own completions wakes the worker. Others go on meanwhile.
      if (slots <= 0) continue
      const rows = this.stmt.claim.all({ leaseUntil: now + this.leaseMs, claim, kind: entry.ref.kind, id: entry.ref.id, now, limit: slots }) as Claimed[]
      for (const row of rows) this.launch(key, row)
      const next = this.stmt.nextForSink.get(entry.ref.kind, entry.ref.id) as { at: number } | undefined
      if (next === undefined) this.due.delete(key)
      else entry.at = next.at
    }
    this.armTimer(now)
  }

  private launch(key: string, row: Claimed): void {
    this.inFlightBySink.set(key, (this.inFlightBySink.get(key) ?? 0) + 1)
    this.inFlight += 1
    const done = this.run(row).finally(() => {
      this.settled.delete(done)
      this.inFlight -= 1
      const left = (this.inFlightBySink.get(key) ?? 1) - 1
      if (left <= 0) this.inFlightBySink.delete(key)
      else this.inFlightBySink.set(key, left)
      this.schedulePump()
    })
    this.settled.add(done)
  }

  /** One timer, set to the earliest future retry; capped so clock jumps heal within a minute. */
  private armTimer(now: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (!this.running) return
    let earliest = Number.POSITIVE_INFINITY
    for (const entry of this.due.values()) if (entry.at > now && entry.at < earliest) earliest = entry.at
    if (earliest === Number.POSITIVE_INFINITY) return
    this.timer = setTimeout(
      () => {
        this.timer = undefined
        this.schedulePump()
      },
      Math.min(Math.max(earliest - now, 1), 60_000),
    )
    this.timer.unref()
  }

  private async run(row: Claimed): Promise<void> {
    const ref: SinkRef = { kind: row.sink_kind, id: row.sink_id }
    const target = this.deps.sinks.target(ref)
    if (!target || !target.enabled) {
      this.finalise(row, { kind: 'failed', reason: target ? 'endpoint_disabled' : 'sink_not_found' }, undefined)
      return
    }
    const stored = this.stmt.eventBody.get(row.event_id) as { body: string } | undefined
    if (!stored) {
      this.finalise(row, { kind: 'failed', reason: 'event_not_found' }, undefined)
      return
    }
    const body = this.deps.renderBody ? await this.deps.renderBody(stored.body, target) : Buffer.from(stored.body, 'utf8')
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...signDelivery(body, row.event_id, Math.floor(this.now() / 1000), target.secrets),
    }
    const controller = new AbortController()
    this.controllers.set(row.id, { controller, claim: row.claim })
    let outcome: AttemptOutcome
    try {
      outcome = await this.deps.client.post(target.url, body, headers, controller.signal)
    } finally {
      this.controllers.delete(row.id)
    }
    if (controller.signal.aborted && !this.running) {
      // Shutdown: not the receiver's fault; give the claim back without counting an attempt.
      this.stmt.release.run(row.id, row.claim)
      return
    }
    const verdict = judge(outcome, row.attempts + 1, this.deps.schedule)
    this.finalise(row, verdict, outcome, verdict.kind === 'disable' ? () => this.disable(ref, verdict.reason) : undefined)
    if (verdict.kind === 'failed' && outcome.status === undefined && outcome.error === 'forbidden') {
      this.deps.logger.warn({ sink: sinkKey(ref) }, 'webhook URL resolves to a forbidden address; delivery failed')
    }
  }

  /**
   * Records the result with the same claim it was made under (a lost lease changes nothing). Results of one tick
   * commit together; a crash before that commit only means the attempt is made again (at-least-once).
   */
  private finalise(row: Claimed, verdict: Verdict, outcome: AttemptOutcome | undefined, after?: () => void): void {
    const now = this.now()
    const iso = new Date(now).toISOString()
    const status = verdict.kind === 'succeeded' ? 'succeeded' : verdict.kind === 'retry' ? 'pending' : 'failed'
    const lastError =
      verdict.kind === 'failed' || verdict.kind === 'disable' ? verdict.reason : outcome?.error ? outcome.error : null
    if (verdict.kind === 'retry') this.afterFinals.push(() => this.markDue({ kind: row.sink_kind, id: row.sink_id }, now + verdict.delayMs))
    this.finals.push(() => {
      this.stmt.finalise.run({
        status,
        next: verdict.kind === 'retry' ? now + verdict.delayMs : now,
        lastStatus: outcome?.status ?? null,
        lastError,
        updatedAt: iso,
        id: row.id,
        claim: row.claim,
      })
      this.stmt.attempt.run(
        row.id,
        iso,
        outcome?.status ?? null,
        outcome?.error ? `${outcome.error}${outcome.errorMessage ? `: ${outcome.errorMessage}` : ''}` : outcome ? null : lastError,
        Math.round(outcome?.durationMs ?? 0),
      )
    })
    this.afterFinals.push(() => {
      after?.()
      if (this.listenerCount('settled') > 0) {
        this.emit('settled', {
          deliveryId: row.id,
          eventId: row.event_id,
          sink: `${row.sink_kind}:${row.sink_id}`,
          status,
          attempt: row.attempts + 1,
          httpStatus: outcome?.status ?? null,
          error: lastError,
          disabled: verdict.kind === 'disable',
          durationMs: outcome?.durationMs ?? 0,
        })
      }
    })
    if (!this.flushQueued) {
      this.flushQueued = true
      setImmediate(() => this.flushFinals())
    }
  }

  private flushFinals(): void {
    this.flushQueued = false
    if (this.finals.length === 0) return
    const finals = this.finals
    const after = this.afterFinals
    this.finals = []
    this.afterFinals = []
    this.deps.db.tx(() => {
      for (const f of finals) f()
    })
    for (const a of after) a()
    this.schedulePump()
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
          .set({ status: 'failed', last_error: 'endpoint_disabled', lease_until: null, claim: null, updated_at: iso })
          .where('sink_kind', '=', 'webhook')
          .where('sink_id', '=', ref.id)
          .where('status', '=', 'pending')
          .where('claim', 'is', null),
      )
    })
    this.deps.sinks.invalidate()
    this.deps.logger.warn({ webhookId: ref.id }, 'webhook answered 410 Gone; disabled')
    this.deps.onDisabled?.(ref)
  }
}
