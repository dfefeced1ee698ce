import { randomBytes } from 'node:crypto'
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
export class DeliveryWorker {
  private readonly inFlightBySink = new Map<string, number>()
  private readonly controllers = new Map<string, { controller: AbortController; claim: string }>()
  private readonly settled = new Set<Promise<void>>()
  private inFlight = 0
  private running = false
  private pumpQueued = false
  private timer: NodeJS.Timeout | undefined
  private readonly now: () => number
  private readonly maxInFlight: number
  private readonly leaseMs: number
  private readonly stmt: {
    claim: Statement
    release: Statement
    nextDue: Statement
    eventBody: Statement
    finalise: Statement
    attempt: Statement
    releaseAll: Statement
  }

  constructor(private readonly deps: DeliveryWorkerDeps) {
    this.now = deps.now ?? Date.now
    this.maxInFlight = deps.maxInFlight ?? 512
    this.leaseMs = deps.leaseMs ?? 60_000
    const sqlite = deps.db.sqlite
    // Hot path: plain prepared statements (compiled once), not query-builder compiles per row.
    this.stmt = {
      claim: sqlite.prepare(`
        UPDATE deliveries SET lease_until = @leaseUntil, claim = @claim
        WHERE id IN (
          SELECT id FROM (
            SELECT id, row_number() OVER (PARTITION BY sink_kind, sink_id ORDER BY next_attempt_at, seq) AS rn
            FROM deliveries
            WHERE status = 'pending' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until <= @now)
              AND (sink_kind || ':' || sink_id) NOT IN (SELECT value FROM json_each(@saturated))
          ) WHERE rn <= @perSink LIMIT @limit
        )
        RETURNING id, event_id, sink_kind, sink_id, attempts, claim`),
      release: sqlite.prepare(`UPDATE deliveries SET lease_until = NULL, claim = NULL WHERE id = ? AND claim = ?`),
      nextDue: sqlite.prepare(`
        SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) AS at FROM deliveries WHERE status = 'pending'`),
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
    this.wake()
  }

  /** Something may be due now (a new delivery, a manual retry). Coalesced: many wakes in one tick, one claim. */
  wake(): void {
    if (!this.running || this.pumpQueued) return
    this.pumpQueued = true
    setImmediate(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  /** Stops claiming, aborts attempts in flight and releases their claims (they are retried at the next start). */
  async stop(): Promise<void> {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    for (const { controller } of this.controllers.values()) controller.abort()
    await Promise.allSettled([...this.settled])
  }

  get inFlightCount(): number {
    return this.inFlight
  }

  private pump(): void {
    if (!this.running) return
    const free = this.maxInFlight - this.inFlight
    if (free > 0) {
      const saturated = [...this.inFlightBySink].filter(([, n]) => n >= this.deps.perEndpointConcurrency).map(([k]) => k)
      const now = this.now()
      const claim = randomBytes(9).toString('base64url')
      const rows = this.stmt.claim.all({
        leaseUntil: now + this.leaseMs,
        claim,
        now,
        saturated: JSON.stringify(saturated),
        perSink: this.deps.perEndpointConcurrency,
        limit: free,
      }) as Claimed[]
      for (const row of rows) {
        const key = `${row.sink_kind}:${row.sink_id}`
        const busy = this.inFlightBySink.get(key) ?? 0
        if (busy >= this.deps.perEndpointConcurrency) {
          // Claimed together with siblings while the endpoint had only some slots free: give it back.
          this.stmt.release.run(row.id, claim)
          continue
        }
        this.inFlightBySink.set(key, busy + 1)
        this.inFlight += 1
        const done = this.run(row).finally(() => {
          this.settled.delete(done)
          this.inFlight -= 1
          const left = (this.inFlightBySink.get(key) ?? 1) - 1
          if (left <= 0) this.inFlightBySink.delete(key)
          else this.inFlightBySink.set(key, left)
          this.wake()
        })
        this.settled.add(done)
      }
    }
    this.armTimer()
  }

  /** One timer, set to the earliest future retry (or lease expiry); capped so clock jumps heal within a minute. */
  private armTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (!this.running) return
    const row = this.stmt.nextDue.get() as { at: number | null } | undefined
    if (row?.at === null || row?.at === undefined) return
    const delay = Math.min(Math.max(row.at - this.now(), 0), 60_000)
    // Due rows of saturated endpoints are picked up when a slot frees; no need to spin for them.
    if (delay === 0 && this.inFlight > 0) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.wake()
    }, Math.max(delay, 1))
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
    this.finalise(row, verdict, outcome)
    if (verdict.kind === 'disable') this.disable(ref, verdict.reason)
    else if (verdict.kind === 'failed' && outcome.status === undefined && outcome.error === 'forbidden') {
      this.deps.logger.warn({ sink: sinkKey(ref) }, 'webhook URL resolves to a forbidden address; delivery failed')
    }
  }

  private finalise(row: Claimed, verdict: Verdict, outcome: AttemptOutcome | undefined): void {
    const now = this.now()
    const iso = new Date(now).toISOString()
    const status = verdict.kind === 'succeeded' ? 'succeeded' : verdict.kind === 'retry' ? 'pending' : 'failed'
    const lastError =
      verdict.kind === 'failed' || verdict.kind === 'disable' ? verdict.reason : outcome?.error ? outcome.error : null
    this.deps.db.tx(() => {
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
