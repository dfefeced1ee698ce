import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import type { InstanceRow } from '../db/schema.js'
import type { InstanceStatus, StatusChange } from './status.js'

export type Instance = InstanceRow

export interface InstancePatch {
  name?: string | null
  phone?: string | null
  lid?: string | null
  push_name?: string | null
  connected_at?: string | null
  has_credentials?: number
  token_hash?: string
  pacing_ms?: number | null
}

/** Instance rows and their transition log. */
export class InstanceRepository {
  private readonly statusWriters = new Set<(change: StatusChange) => void>()
  /** Read for every message sent (its pacing) and every authenticated request: prepared once, not compiled each time. */
  private readonly byId: Statement

  constructor(private readonly db: Database) {
    this.byId = db.sqlite.prepare(`SELECT * FROM instances WHERE id = ?`)
  }

  /**
   * `write` runs inside the transaction of every status change (from one status to another), after its rows: what it
   * writes commits with the change or not at all, so a crash cannot keep the change and lose its `instance.status`
   * event. If it throws, the change is rolled back and changeStatus throws. Answers the function that removes it.
   */
  writeWithStatusChanges(write: (change: StatusChange) => void): () => void {
    this.statusWriters.add(write)
    return () => this.statusWriters.delete(write)
  }

  insert(row: Omit<Instance, 'created_at' | 'updated_at'>, at: string): Instance {
    const full: Instance = { ...row, created_at: at, updated_at: at }
    this.db.tx(() => {
      this.db.run(this.db.qb.insertInto('instances').values(full))
      this.logTransition({ instanceId: row.id, from: null, to: row.status as InstanceStatus, reason: row.status_reason ?? 'created', at })
    })
    return full
  }

  get(id: string): Instance | undefined {
    return this.byId.get(id) as Instance | undefined
  }

  /** Whether there is any instance at all (boot asks, before anything else reads the table). */
  isEmpty(): boolean {
    return this.db.sqlite.prepare('SELECT 1 FROM instances LIMIT 1').get() === undefined
  }

  list(filter: { tenantId?: string } = {}): Instance[] {
    let query = this.db.qb.selectFrom('instances').selectAll().orderBy('created_at').orderBy('id')
    if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId)
    return this.db.all(query)
  }

  update(id: string, patch: InstancePatch, at: string): void {
    this.db.run(this.db.qb.updateTable('instances').set({ ...patch, updated_at: at }).where('id', '=', id))
  }

  /** Records a status change and its reason in one transaction with any field changes that go with it. */
  changeStatus(change: StatusChange, patch: InstancePatch = {}): void {
    const closePatch =
      change.to === 'disconnected' || change.code !== undefined
        ? { last_disconnect_code: change.code ?? null, last_disconnect_reason: change.reason, last_disconnect_at: change.at }
        : {}
    this.db.tx(() => {
      this.db.run(
        this.db.qb
          .updateTable('instances')
          .set({ ...patch, ...closePatch, status: change.to, status_reason: change.reason, updated_at: change.at })
          .where('id', '=', change.instanceId),
      )
      this.logTransition(change)
      if (change.from !== change.to) for (const write of this.statusWriters) write(change)
    })
  }

  /**
   * The instance and everything of it: most tables cascade; the journal of decrypted stanzas an earlier version kept
   * here has no foreign key (it now lives in the session file, deleted with it).
   */
  delete(id: string): void {
    this.db.tx(() => {
      this.db.run(this.db.qb.deleteFrom('inbound_journal').where('instance_id', '=', id))
      this.db.run(this.db.qb.deleteFrom('instances').where('id', '=', id))
    })
  }

  private logTransition(change: StatusChange): void {
    this.db.run(
      this.db.qb.insertInto('instance_transitions').values({
        instance_id: change.instanceId,
        from_status: change.from,
        to_status: change.to,
        reason: change.reason,
        code: change.code ?? null,
        at: change.at,
      }),
    )
  }
}
