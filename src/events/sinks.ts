import type { Database } from '../db/database.js'
import type { WebhookRow } from '../db/schema.js'
import type { Sealer } from '../security/sealing.js'
import type { EventType } from './types.js'

export type SinkKind = 'core' | 'webhook'

export interface SinkRef {
  kind: SinkKind
  /** tenant id (or ENV_CORE_ID) for the core, webhook id for a webhook */
  id: string
}

/** Where and how one attempt is sent, read fresh at delivery time (URL changes and rotations apply to retries). */
export interface SinkTarget {
  url: string
  /** newest first; two while a rotated-out secret is in its grace period */
  secrets: string[]
  enabled: boolean
  includeMediaBase64: boolean
}

/** The single-tenant core configured by PLIXA_CORE_URL / PLIXA_CORE_SECRET. */
const ENV_CORE_ID = '_env'

export const sinkKey = (ref: SinkRef): string => `${ref.kind}:${ref.id}`

export interface SinkDirectoryDeps {
  db: Database
  sealer: Sealer
  envCore?: { url: string; secret: string }
  now?: () => number
}

interface CachedWebhook {
  id: string
  instanceId: string | null
  tenantId: string | null
  events: Set<string>
}

/**
 * Who receives an event. The core of the event's tenant (PUT /tenants/:id) receives every event of that tenant's
 * instances; the env core (PLIXA_CORE_URL) receives every event of instances whose tenant has no core of its own
 * (including instances without a tenant). Webhooks receive what their scope (instance, tenant, or everything) and
 * `events` filter select. Lookups run on every append, so the enabled webhooks and tenant cores are cached in memory
 * and dropped whenever they change (all writes go through WebhookService / TenantService, which call invalidate()).
 */
export class SinkDirectory {
  private webhooks: CachedWebhook[] | undefined
  private cores: Map<string, boolean> | undefined
  /** Decrypted targets, until the next change or until a rotated-out secret's grace period ends. */
  private readonly targets = new Map<string, { target: SinkTarget | undefined; until: number }>()
  private readonly now: () => number

  constructor(private readonly deps: SinkDirectoryDeps) {
    this.now = deps.now ?? Date.now
  }

  invalidate(): void {
    this.webhooks = undefined
    this.cores = undefined
    this.targets.clear()
  }

  subscribers(event: { type: EventType; instanceId: string | null; tenantId: string | null }): SinkRef[] {
    const out: SinkRef[] = []
    if (event.instanceId !== null) {
      if (event.tenantId !== null && this.tenantHasCore(event.tenantId)) out.push({ kind: 'core', id: event.tenantId })
      else if (this.deps.envCore) out.push({ kind: 'core', id: ENV_CORE_ID })
    }
    for (const hook of this.enabledWebhooks()) {
      if (hook.instanceId !== null && hook.instanceId !== event.instanceId) continue
      if (hook.tenantId !== null && hook.tenantId !== event.tenantId) continue
      if (!hook.events.has('*') && !hook.events.has(event.type)) continue
      out.push({ kind: 'webhook', id: hook.id })
    }
    return out
  }

  target(ref: SinkRef): SinkTarget | undefined {
    const key = sinkKey(ref)
    const cached = this.targets.get(key)
    if (cached && cached.until > this.now()) return cached.target
    if (this.targets.size > 10_000) this.targets.clear()
    let until = Number.POSITIVE_INFINITY
    let target: SinkTarget | undefined
    if (ref.kind === 'webhook') {
      const row = this.deps.db.first(this.deps.db.qb.selectFrom('webhooks').selectAll().where('id', '=', ref.id))
      if (row?.previous_valid_until) until = Date.parse(row.previous_valid_until)
      target = row ? this.webhookTarget(row) : undefined
    } else {
      target = this.coreTarget(ref)
    }
    this.targets.set(key, { target, until })
    return target
  }

  private coreTarget(ref: SinkRef): SinkTarget | undefined {
    if (ref.id === ENV_CORE_ID) {
      const env = this.deps.envCore
      return env ? { url: env.url, secrets: [env.secret], enabled: true, includeMediaBase64: false } : undefined
    }
    const tenant = this.deps.db.first(this.deps.db.qb.selectFrom('tenants').selectAll().where('id', '=', ref.id))
    if (!tenant?.core_url || !tenant.core_secret_enc) return undefined
    return {
      url: tenant.core_url,
      secrets: [this.deps.sealer.openString(tenant.core_secret_enc, `tenant:${tenant.id}`)],
      enabled: true,
      includeMediaBase64: false,
    }
  }

  private webhookTarget(row: WebhookRow): SinkTarget {
    const secrets = [this.deps.sealer.openString(row.secret_enc, `webhook:${row.id}`)]
    if (row.previous_secret_enc && row.previous_valid_until && Date.parse(row.previous_valid_until) > this.now()) {
      secrets.push(this.deps.sealer.openString(row.previous_secret_enc, `webhook:${row.id}`))
    }
    return { url: row.url, secrets, enabled: row.enabled === 1, includeMediaBase64: row.include_media_base64 === 1 }
  }

  private tenantHasCore(tenantId: string): boolean {
    if (!this.cores) {
      const rows = this.deps.db.all(this.deps.db.qb.selectFrom('tenants').select(['id', 'core_url']))
      this.cores = new Map(rows.map((r) => [r.id, r.core_url !== null]))
    }
    return this.cores.get(tenantId) ?? false
  }

  private enabledWebhooks(): CachedWebhook[] {
    if (!this.webhooks) {
      const rows = this.deps.db.all(
        this.deps.db.qb.selectFrom('webhooks').select(['id', 'instance_id', 'tenant_id', 'events']).where('enabled', '=', 1),
      )
      this.webhooks = rows.map((r) => ({
        id: r.id,
        instanceId: r.instance_id,
        tenantId: r.tenant_id,
        events: new Set(JSON.parse(r.events) as string[]),
      }))
    }
    return this.webhooks
  }
}
