import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import type { DeliveryRow } from '../db/schema.js'
import type { Logger } from '../logger.js'
import { AttemptAbort, type DeliveryPoster } from './delivery-client.js'
import type { DeliveryReserver, ReservedDelivery } from './outbox.js'
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
  /**
   * The stored body of a just-appended event for a delivery's first attempt, if still in memory
   * (Outbox.takeBody); otherwise the worker reads the event row.
   */
  takeBody?: (eventId: string) => Buffer | undefined
  /** the body one sink receives; default: the stored event body unchanged */
  renderBody?: (storedBody: Buffer, target: SinkTarget) => Buffer | Promise<Buffer>
  /** called after a 410 disabled a webhook */
  onDisabled?: (ref: SinkRef) => void
}

type Claimed = Pick<DeliveryRow, 'id' | 'event_id' | 'sink_kind' | 'sink_id' | 'attempts' | 'claim'> & { claim: string }

/** A finished attempt (or a chain ended without one), waiting for the next cycle's commit. */
interface Final {
  row: Claimed
  verdict: Verdict
  outcome: AttemptOutcome | undefined
  status: DeliverySettled['status']
  lastError: string | null
  at: number
  after: (() => void) | undefined
}

const USER_AGENT = 'plixa-wa-gateway/0.1 (+webhooks)'

/**
 * Results are committed with the next claim, or — when nothing is waiting to be claimed — once this many have
 * gathered or the oldest has waited FINALS_DELAY_MS. The receiver has its answer already; a crash before the commit
 * only repeats the attempt (at-least-once), and one commit then covers many deliveries instead of one each.
 */
const FINALS_BATCH = 64
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
 *
 * All database work happens in cycles, at most one per event-loop turn (setImmediate): one transaction writes the
 * results of every attempt that finished since the last cycle and claims rows for every slot that is free — so
 * under load a commit covers many deliveries, and the slot an attempt frees is refilled in the same commit that
 * records its result. Attempts start after that commit. With nothing to claim, results wait a little for company
 * (FINALS_BATCH, FINALS_DELAY_MS).
 *
 * An endpoint with a free slot and no backlog takes a new delivery at once (DeliveryReserver): the outbox writes the
 * row already claimed, inside the producer's transaction, and the attempt starts in the microtask after it —
 * once the row is found in the database, so an event whose transaction rolled back is never sent.
 */
export class DeliveryWorker extends EventEmitter<{ settled: [DeliverySettled] }> implements DeliveryReserver {
  private readonly inFlightBySink = new Map<string, number>()
  private readonly controllers = new Map<string, AttemptAbort>()
  private readonly settled = new Set<Promise<void>>()
  private inFlight = 0
  private running = false
  private finals: Final[] = []
  private cycleQueued = false
  private timer: NodeJS.Timeout | undefined
  private finalsTimer: NodeJS.Timeout | undefined
  /** Claims: this process's random prefix and a counter (unique without a random draw each). */
  private readonly claimPrefix = randomBytes(6).toString('base64url')
  private claimCount = 0
  private readonly now: () => number
  private readonly maxInFlight: number
  private readonly leaseMs: number
  /** The claim statement for each number of free slots (see claimStatement). */
  private readonly claimBySlots = new Map<number, Statement>()
  private readonly stmt: {
    reservedExists: Statement
    nextForSink: Statement
    dueSinks: Statement
    release: Statement
    eventBody: Statement
    finalise: Statement
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
    // Hot path: plain prepared statements (compiled once), positional parameters; each walks deliveries_pending
    // for one sink only.
    this.stmt = {
      reservedExists: sqlite.prepare(`SELECT 1 FROM deliveries WHERE id = ? AND claim = ?`),
      nextForSink: sqlite.prepare(`
        SELECT next_attempt_at AS at FROM deliveries
        WHERE sink_kind = ? AND sink_id = ? AND status = 'pending' AND claim IS NULL ORDER BY next_attempt_at LIMIT 1`),
      dueSinks: sqlite.prepare(`
        SELECT sink_kind, sink_id, MIN(next_attempt_at) AS at FROM deliveries WHERE status = 'pending' GROUP BY sink_kind, sink_id`),
      release: sqlite.prepare(`UPDATE deliveries SET lease_until = NULL, claim = NULL WHERE id = ? AND claim = ?`),
      eventBody: sqlite.prepare(`SELECT body FROM events WHERE id = ?`),
      // The attempt joins the row's log in the same write (migration 006).
      finalise: sqlite.prepare(`
        UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, lease_until = NULL,
          claim = NULL, last_status = ?, last_error = ?, updated_at = ?,
          attempt_log = json_insert(coalesce(attempt_log, '[]'), '$[#]',
            json_object('at', ?, 'status_code', ?, 'error', ?, 'duration_ms', ?))
        WHERE id = ? AND claim = ?`),
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
    this.scheduleCycle()
  }

  /**
   * New work may be due now: deliveries appended or re-fired for `sinks`; without sinks, anything (the pending
   * rows are looked up again). Coalesced: many wakes in one tick, one cycle.
   */
  wake(sinks?: readonly SinkRef[]): void {
    if (sinks === undefined) this.rescan = true
    else if (sinks.length === 0) return
    else for (const ref of sinks) this.markDue(ref, this.now())
    this.scheduleCycle()
  }

  /**
   * Claim at append (called by the outbox inside the producer's transaction): yes when the endpoint has a free slot
   * and nothing of it is waiting to be claimed (older rows go first). The slot is taken from now on.
   */
  reserve(ref: SinkRef): { claim: string; leaseUntil: number } | undefined {
    if (!this.running || this.inFlight >= this.maxInFlight) return undefined
    const key = sinkKey(ref)
    const now = this.now()
    const entry = this.due.get(key)
    if (entry && entry.at <= now) return undefined
    const used = this.inFlightBySink.get(key) ?? 0
    if (used >= this.deps.perEndpointConcurrency) return undefined
    this.take(key)
    return { claim: this.newClaim(), leaseUntil: now + this.leaseMs }
  }

  private newClaim(): string {
    return `${this.claimPrefix}.${(this.claimCount++).toString(36)}`
  }

  /** After the producer's transaction: starts the reserved attempts whose rows were committed; frees the others. */
  adopt(rows: ReservedDelivery[]): void {
    for (const row of rows) {
      const key = sinkKey({ kind: row.sink_kind, id: row.sink_id })
      if (!this.stmt.reservedExists.get(row.id, row.claim)) {
        this.give(key)
        this.scheduleCycle()
      } else if (!this.running) {
        this.stmt.release.run(row.id, row.claim)
        this.give(key)
      } else {
        this.begin(key, row)
      }
    }
  }

  /** Stops claiming, aborts attempts in flight and releases their claims (they are retried at the next start). */
  async stop(): Promise<void> {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.finalsTimer) clearTimeout(this.finalsTimer)
    this.finalsTimer = undefined
    for (const controller of this.controllers.values()) controller.abort()
    await Promise.allSettled([...this.settled])
    this.cycle()
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

  private scheduleCycle(): void {
    if (this.cycleQueued) return
    if (!this.running && this.finals.length === 0) return
    this.cycleQueued = true
    setImmediate(() => this.cycle())
  }

  /**
   * One transaction: the results of the attempts that finished since the last cycle, then claims for the free
   * slots. After the commit: the follow-ups of those results (retry times, 410 handling, `settled`), then the new
   * attempts start. A crash before the commit only means the finished attempts are made again (at-least-once).
   */
  private cycle(): void {
    this.cycleQueued = false
    if (this.finalsTimer) clearTimeout(this.finalsTimer)
    this.finalsTimer = undefined
    if (!this.running && this.finals.length === 0) return
    const finals = this.finals
    this.finals = []
    const now = this.now()
    let claimed: Array<{ key: string; row: Claimed }> = []
    try {
      this.deps.db.tx(() => {
        for (const f of finals) this.writeFinal(f)
        if (this.running) claimed = this.claimDue(now)
      })
    } catch (err) {
      // Nothing was written: keep the results for the next cycle (their claims are still ours), forget what the
      // rolled-back claims taught about due times, and try again soon.
      this.finals = finals.concat(this.finals)
      this.rescan = true
      this.deps.logger.error({ err }, 'recording webhook deliveries failed; retrying')
      if (this.running) this.armTimer(now, now + 1_000)
      return
    }
    for (const f of finals) this.afterFinal(f)
    for (const { key, row } of claimed) this.launch(key, row)
    if (this.running) this.armTimer(now)
  }

  /** Claims due rows for every sink with free slots (inside the cycle's transaction). */
  private claimDue(now: number): Array<{ key: string; row: Claimed }> {
    if (this.rescan) {
      this.rescan = false
      for (const r of this.stmt.dueSinks.all() as Array<{ sink_kind: SinkRef['kind']; sink_id: string; at: number }>) {
        this.markDue({ kind: r.sink_kind, id: r.sink_id }, r.at)
      }
    }
    const out: Array<{ key: string; row: Claimed }> = []
    const claim = this.newClaim()
    let free = this.maxInFlight - this.inFlight
    for (const [key, entry] of this.due) {
      if (free <= 0) break
      if (entry.at > now) continue
      const slots = Math.min(this.deps.perEndpointConcurrency - (this.inFlightBySink.get(key) ?? 0), free)
      // A saturated endpoint keeps its entry; one of its own completions wakes the worker. Others go on meanwhile.
      if (slots <= 0) continue
      const rows = this.claimStatement(slots).all(now + this.leaseMs, claim, entry.ref.kind, entry.ref.id, now, now) as Claimed[]
      for (const row of rows) out.push({ key, row })
      free -= rows.length
      // As many rows as slots: more may be due, and the sink stays due now. Fewer: the sink's backlog is drained;
      // find its next retry, if any.
      if (rows.length === slots) continue
      const next = this.stmt.nextForSink.get(entry.ref.kind, entry.ref.id) as { at: number } | undefined
      if (next === undefined) this.due.delete(key)
      else entry.at = next.at
    }
    return out
  }

  /**
   * Claims up to `slots` due rows of one sink: (lease_until, claim, sink_kind, sink_id, now, now); rows are updated
   * by rowid (no second lookup through the id index). The limit is a literal, one statement per value (at most perEndpointConcurrency of them): with `LIMIT ?` SQLite 3.x ran this
   * UPDATE 3–4× slower (66 against 16 µs for one row, measured), and it runs once per delivery under load.
   */
  private claimStatement(slots: number): Statement {
    let statement = this.claimBySlots.get(slots)
    if (!statement) {
      statement = this.deps.db.sqlite.prepare(`
        UPDATE deliveries SET lease_until = ?, claim = ?
        WHERE seq IN (
          SELECT seq FROM deliveries
          WHERE sink_kind = ? AND sink_id = ? AND status = 'pending' AND next_attempt_at <= ?
            AND (claim IS NULL OR lease_until <= ?)
          ORDER BY next_attempt_at LIMIT ${Math.trunc(slots)}
        )
        RETURNING id, event_id, sink_kind, sink_id, attempts, claim`)
      this.claimBySlots.set(slots, statement)
    }
    return statement
  }

  private launch(key: string, row: Claimed): void {
    this.take(key)
    this.begin(key, row)
  }

  /** Runs one attempt in a slot already taken; frees the slot when it ends. */
  private begin(key: string, row: Claimed): void {
    const done = this.run(row).finally(() => {
      this.settled.delete(done)
      this.give(key)
      this.afterSlotFreed()
    })
    this.settled.add(done)
  }

  private take(key: string): void {
    this.inFlightBySink.set(key, (this.inFlightBySink.get(key) ?? 0) + 1)
    this.inFlight += 1
  }

  private give(key: string): void {
    this.inFlight -= 1
    const left = (this.inFlightBySink.get(key) ?? 1) - 1
    if (left <= 0) this.inFlightBySink.delete(key)
    else this.inFlightBySink.set(key, left)
  }

  /**
   * A slot is free and a result is waiting: cycle now if some endpoint has rows to claim (its slots refill in the
   * same commit), otherwise let results gather.
   */
  private afterSlotFreed(): void {
    if (this.finals.length === 0 || this.finals.length >= FINALS_BATCH || this.rescan || !this.running) {
      this.scheduleCycle()
      return
    }
    const now = this.now()
    for (const entry of this.due.values()) {
      if (entry.at <= now) {
        this.scheduleCycle()
        return
      }
    }
    if (!this.finalsTimer && !this.cycleQueued) {
      this.finalsTimer = setTimeout(() => {
        this.finalsTimer = undefined
        this.scheduleCycle()
      }, FINALS_DELAY_MS)
    }
  }

  /** One timer, set to the earliest future retry (or `at`); capped so clock jumps heal within a minute. */
  private armTimer(now: number, at?: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (!this.running) return
    let earliest = at ?? Number.POSITIVE_INFINITY
    for (const entry of this.due.values()) if (entry.at > now && entry.at < earliest) earliest = entry.at
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

  private async run(row: Claimed): Promise<void> {
    const ref: SinkRef = { kind: row.sink_kind, id: row.sink_id }
    const target = this.deps.sinks.target(ref)
    if (!target || !target.enabled) {
      this.finalise(row, { kind: 'failed', reason: target ? 'endpoint_disabled' : 'sink_not_found' }, undefined)
      return
    }
    let stored = row.attempts === 0 ? this.deps.takeBody?.(row.event_id) : undefined
    if (!stored) {
      const found = this.stmt.eventBody.get(row.event_id) as { body: string } | undefined
      if (!found) {
        this.finalise(row, { kind: 'failed', reason: 'event_not_found' }, undefined)
        return
      }
      stored = Buffer.from(found.body, 'utf8')
    }
    const body = this.deps.renderBody ? await this.deps.renderBody(stored, target) : stored
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
   * Queues the result for the next cycle's commit, written with the same claim it was made under (a lost lease
   * changes nothing).
   */
  private finalise(row: Claimed, verdict: Verdict, outcome: AttemptOutcome | undefined, after?: () => void): void {
    const status = verdict.kind === 'succeeded' ? 'succeeded' : verdict.kind === 'retry' ? 'pending' : 'failed'
    const lastError =
      verdict.kind === 'failed' || verdict.kind === 'disable' ? verdict.reason : outcome?.error ? outcome.error : null
    this.finals.push({ row, verdict, outcome, status, lastError, at: this.now(), after })
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
      row.id,
      row.claim,
    )
  }

  private afterFinal(f: Final): void {
    const { row, verdict, outcome } = f
    if (verdict.kind === 'retry') this.markDue({ kind: row.sink_kind, id: row.sink_id }, f.at + verdict.delayMs)
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
        disabled: verdict.kind === 'disable',
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
