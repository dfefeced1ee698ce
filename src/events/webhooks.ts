import type { Database } from '../db/database.js'
import type { AttemptLogEntry, WebhookRow } from '../db/schema.js'
import { AppError } from '../errors.js'
import type { CidrList } from '../net/cidr.js'
import type { Sealer } from '../security/sealing.js'
import type { Outbox } from './outbox.js'
import { generateWebhookSecret } from './signing.js'
import { assertDeliverableUrl } from './url-check.js'
import type { SinkDirectory, SinkRef } from './sinks.js'
import { EVENT_TYPES } from './types.js'
import { newId } from '../ids.js'

export interface WebhookInput {
  url: string
  events: string[]
  instanceId?: string | null
  tenantId?: string | null
  includeMediaBase64?: boolean
}

export interface WebhookPatch {
  url?: string
  events?: string[]
  enabled?: boolean
  includeMediaBase64?: boolean
}

export interface WebhookServiceDeps {
  db: Database
  sealer: Sealer
  sinks: SinkDirectory
  outbox: Outbox
  allow: CidrList
  secretGraceMs: number
  instanceExists: (id: string) => boolean
  /** a manual retry or a test event is due now */
  wake: (sink?: SinkRef) => void
  now?: () => number
}

/** The public shape of a webhook; the secret is shown only by create and rotate-secret. */
export function webhookView(row: WebhookRow) {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    instance_id: row.instance_id,
    tenant_id: row.tenant_id,
    enabled: row.enabled === 1,
    disabled_reason: row.disabled_reason,
    include_media_base64: row.include_media_base64 === 1,
    previous_secret_valid_until: row.previous_valid_until,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

export type WebhookView = ReturnType<typeof webhookView>

/** Customer webhooks: management, secrets (sealed at rest), test events, the delivery log and manual retries. */
export class WebhookService {
  private readonly now: () => number

  constructor(private readonly deps: WebhookServiceDeps) {
    this.now = deps.now ?? Date.now
  }

  async create(input: WebhookInput): Promise<{ webhook: WebhookRow; secret: string }> {
    const url = await this.checkUrl(input.url)
    const events = checkEvents(input.events)
    if (input.instanceId && !this.deps.instanceExists(input.instanceId)) throw new AppError('INSTANCE_NOT_FOUND')
    const id = newId('wh')
    const secret = generateWebhookSecret()
    const iso = new Date(this.now()).toISOString()
    const row: WebhookRow = {
      id,
      url,
      events: JSON.stringify(events),
      instance_id: input.instanceId ?? null,
      tenant_id: input.tenantId ?? null,
      secret_enc: this.deps.sealer.sealString(secret, `webhook:${id}`),
      previous_secret_enc: null,
      previous_valid_until: null,
      enabled: 1,
      disabled_reason: null,
      include_media_base64: input.includeMediaBase64 ? 1 : 0,
      created_at: iso,
      updated_at: iso,
    }
    this.deps.db.run(this.deps.db.qb.insertInto('webhooks').values(row))
    this.deps.sinks.invalidate()
    return { webhook: row, secret }
  }

  list(filter: { instanceId?: string } = {}): WebhookRow[] {
    let q = this.deps.db.qb.selectFrom('webhooks').selectAll().orderBy('created_at').orderBy('id')
    if (filter.instanceId !== undefined) q = q.where('instance_id', '=', filter.instanceId)
    return this.deps.db.all(q)
  }

  get(id: string): WebhookRow {
    const row = this.deps.db.first(this.deps.db.qb.selectFrom('webhooks').selectAll().where('id', '=', id))
    if (!row) throw new AppError('WEBHOOK_NOT_FOUND')
    return row
  }

  async update(id: string, patch: WebhookPatch): Promise<WebhookRow> {
    this.get(id)
    const set: Partial<WebhookRow> = { updated_at: new Date(this.now()).toISOString() }
    if (patch.url !== undefined) set.url = await this.checkUrl(patch.url)
    if (patch.events !== undefined) set.events = JSON.stringify(checkEvents(patch.events))
    if (patch.enabled !== undefined) {
      set.enabled = patch.enabled ? 1 : 0
      set.disabled_reason = patch.enabled ? null : 'disabled_by_user'
    }
    if (patch.includeMediaBase64 !== undefined) set.include_media_base64 = patch.includeMediaBase64 ? 1 : 0
    this.deps.db.run(this.deps.db.qb.updateTable('webhooks').set(set).where('id', '=', id))
    this.deps.sinks.invalidate()
    return this.get(id)
  }

  /** Deletes the webhook and its delivery log; pending deliveries go with it. */
  delete(id: string): void {
    this.get(id)
    const { db } = this.deps
    db.tx(() => {
      db.run(db.qb.deleteFrom('deliveries').where('sink_kind', '=', 'webhook').where('sink_id', '=', id))
      db.run(db.qb.deleteFrom('webhooks').where('id', '=', id))
    })
    this.deps.sinks.invalidate()
  }

  /**
   * A new secret; the old one keeps signing (as a second signature) for the grace period, so receivers can switch
   * over without dropping a delivery.
   */
  rotateSecret(id: string): { webhook: WebhookRow; secret: string } {
    const row = this.get(id)
    const secret = generateWebhookSecret()
    const now = this.now()
    this.deps.db.run(
      this.deps.db.qb
        .updateTable('webhooks')
        .set({
          secret_enc: this.deps.sealer.sealString(secret, `webhook:${id}`),
          previous_secret_enc: this.deps.secretGraceMs > 0 ? row.secret_enc : null,
          previous_valid_until: this.deps.secretGraceMs > 0 ? new Date(now + this.deps.secretGraceMs).toISOString() : null,
          updated_at: new Date(now).toISOString(),
        })
        .where('id', '=', id),
    )
    this.deps.sinks.invalidate()
    return { webhook: this.get(id), secret }
  }

  /** A synthetic `webhook.test` event, delivered to this webhook only (even when it is disabled: the test says why). */
  test(id: string): { eventId: string } {
    const row = this.get(id)
    const { id: eventId } = this.deps.outbox.appendTo(
      {
        type: 'webhook.test',
        instanceId: row.instance_id,
        tenantId: row.tenant_id,
        data: { webhook_id: id, message: 'This is a test event from the Plixa WhatsApp gateway.' },
      },
      [{ kind: 'webhook', id }],
    )
    this.deps.wake({ kind: 'webhook', id })
    return { eventId }
  }

  deliveries(webhookId: string, opts: { limit: number; before?: number }) {
    this.get(webhookId)
    const { db } = this.deps
    let q = db.qb
      .selectFrom('deliveries')
      .innerJoin('events', 'events.id', 'deliveries.event_id')
      .select([
        'deliveries.seq',
        'deliveries.id',
        'deliveries.event_id',
        'events.type as event_type',
        'deliveries.status',
        'deliveries.attempts',
        'deliveries.next_attempt_at',
        'deliveries.last_status',
        'deliveries.last_error',
        'deliveries.attempt_log',
        'deliveries.created_at',
        'deliveries.updated_at',
      ])
      .where('deliveries.sink_kind', '=', 'webhook')
      .where('deliveries.sink_id', '=', webhookId)
      .orderBy('deliveries.seq', 'desc')
      .limit(opts.limit)
    if (opts.before !== undefined) q = q.where('deliveries.seq', '<', opts.before)
    const rows = db.all(q)
    return rows.map((r) => ({
      id: r.id,
      event_id: r.event_id,
      event_type: r.event_type,
      status: r.status,
      attempts: r.attempts,
      next_attempt_at: r.status === 'pending' ? new Date(r.next_attempt_at).toISOString() : null,
      last_status: r.last_status,
      last_error: r.last_error,
      created_at: r.created_at,
      updated_at: r.updated_at,
      attempt_log: r.attempt_log ? (JSON.parse(r.attempt_log) as AttemptLogEntry[]) : [],
      cursor: r.seq,
    }))
  }

  /** The webhook a delivery belongs to (for the scope check of the retry route). */
  webhookOfDelivery(deliveryId: string): WebhookRow {
    const d = this.deps.db.first(this.deps.db.qb.selectFrom('deliveries').select(['sink_kind', 'sink_id']).where('id', '=', deliveryId))
    if (!d || d.sink_kind !== 'webhook') throw new AppError('DELIVERY_NOT_FOUND')
    return this.get(d.sink_id)
  }

  /** Re-fires a terminally failed delivery now (same event id, so receivers still dedupe). */
  retryDelivery(deliveryId: string): void {
    const { db } = this.deps
    const row = db.first(db.qb.selectFrom('deliveries').select(['status', 'sink_kind', 'sink_id']).where('id', '=', deliveryId))
    if (!row) throw new AppError('DELIVERY_NOT_FOUND')
    if (row.status !== 'failed') throw new AppError('DELIVERY_NOT_FAILED')
    const now = this.now()
    db.run(
      db.qb
        .updateTable('deliveries')
        .set({ status: 'pending', next_attempt_at: now, updated_at: new Date(now).toISOString() })
        .where('id', '=', deliveryId)
        .where('status', '=', 'failed'),
    )
    this.deps.wake({ kind: row.sink_kind, id: row.sink_id })
  }

  private checkUrl(url: string): Promise<string> {
    return assertDeliverableUrl(url, this.deps.allow)
  }
}

function checkEvents(events: string[]): string[] {
  const unique = [...new Set(events)]
  if (unique.length === 0) throw new AppError('VALIDATION_FAILED', 'events must name at least one event type (or "*")')
  for (const e of unique) {
    if (e !== '*' && !(EVENT_TYPES as readonly string[]).includes(e)) {
      throw new AppError('VALIDATION_FAILED', `unknown event type "${e}"; known: ${EVENT_TYPES.join(', ')}, *`)
    }
  }
  return unique
}
