import type { Database } from '../db/database.js'
import { AppError } from '../errors.js'
import type { CidrList } from '../net/cidr.js'
import type { Sealer } from '../security/sealing.js'
import type { SinkDirectory } from './sinks.js'
import { assertDeliverableUrl } from './url-check.js'

export interface TenantView {
  id: string
  core_url: string | null
  core_secret_set: boolean
  created_at: string
  updated_at: string
}

/** A tenant's Plixa core: the sink that receives every event of the tenant's instances. */
export class TenantService {
  constructor(
    private readonly deps: { db: Database; sealer: Sealer; sinks: SinkDirectory; allow: CidrList; now?: () => number },
  ) {}

  get(id: string): TenantView {
    const row = this.deps.db.first(this.deps.db.qb.selectFrom('tenants').selectAll().where('id', '=', id))
    if (!row) throw new AppError('TENANT_NOT_FOUND')
    return { id: row.id, core_url: row.core_url, core_secret_set: row.core_secret_enc !== null, created_at: row.created_at, updated_at: row.updated_at }
  }

  /** Creates or replaces the tenant's core; `coreUrl: null` removes it (events then go to the env core, if any). */
  async put(id: string, input: { coreUrl: string | null; coreSecret: string | null }): Promise<TenantView> {
    if ((input.coreUrl === null) !== (input.coreSecret === null)) {
      throw new AppError('VALIDATION_FAILED', 'core_url and core_secret go together (both set, or both null)')
    }
    const url = input.coreUrl === null ? null : await assertDeliverableUrl(input.coreUrl, this.deps.allow)
    const iso = new Date((this.deps.now ?? Date.now)()).toISOString()
    const secret = input.coreSecret === null ? null : this.deps.sealer.sealString(input.coreSecret, `tenant:${id}`)
    this.deps.db.run(
      this.deps.db.qb
        .insertInto('tenants')
        .values({ id, core_url: url, core_secret_enc: secret, created_at: iso, updated_at: iso })
        .onConflict((oc) => oc.column('id').doUpdateSet({ core_url: url, core_secret_enc: secret, updated_at: iso })),
    )
    this.deps.sinks.invalidate()
    return this.get(id)
  }
}
