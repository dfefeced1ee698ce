import type { Database } from '../db/database.js'
import { phoneCandidates } from './phone.js'
import type { Messenger } from './ports.js'

const POSITIVE_TTL_MS = 7 * 24 * 3600_000
/** A number not on WhatsApp today may register tomorrow: negative answers expire sooner. */
const NEGATIVE_TTL_MS = 3600_000
/** Baileys waits 60 s for a query answer (socket.js:107-113); a request should not. */
const LOOKUP_TIMEOUT_MS = 5_000

export type Resolution = { kind: 'jid'; jid: string } | { kind: 'not_on_whatsapp' } | { kind: 'unknown' }

/**
 * Dialled phone → the JID WhatsApp really uses, through the server's contact lookup (which also settles Brazil's
 * ninth digit), cached per instance in `wa_contacts`.
 */
export class RecipientResolver {
  /** Positive answers, in memory in front of the table: the send path asks on every request. */
  private readonly hot = new Map<string, { jid: string; until: number }>()

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {}

  /** From the cache only: `unknown` when there is no fresh answer. */
  cached(instanceId: string, phone: string): Resolution {
    const key = `${instanceId}\n${phone}`
    const hot = this.hot.get(key)
    if (hot && hot.until > this.now()) return { kind: 'jid', jid: hot.jid }
    const row = this.db.first(
      this.db.qb.selectFrom('wa_contacts').selectAll().where('instance_id', '=', instanceId).where('phone', '=', phone),
    )
    if (!row) return { kind: 'unknown' }
    const age = this.now() - row.checked_at
    if (row.jid && age < POSITIVE_TTL_MS) {
      if (this.hot.size >= 10_000) this.hot.clear()
      this.hot.set(key, { jid: row.jid, until: row.checked_at + POSITIVE_TTL_MS })
      return { kind: 'jid', jid: row.jid }
    }
    if (!row.jid && age < NEGATIVE_TTL_MS) return { kind: 'not_on_whatsapp' }
    return { kind: 'unknown' }
  }

  /** Cache first, then WhatsApp. `unknown` when the lookup failed or timed out (the sender retries at send time). */
  async resolve(instanceId: string, phone: string, messenger: Messenger): Promise<Resolution> {
    const hit = this.cached(instanceId, phone)
    return hit.kind !== 'unknown' ? hit : this.lookUp(instanceId, phone, messenger)
  }

  /** Asks WhatsApp (no cache read) and remembers the answer. */
  async lookUp(instanceId: string, phone: string, messenger: Messenger): Promise<Resolution> {
    let jid: string | null
    try {
      jid = await withTimeout(messenger.lookup(phoneCandidates(phone)), LOOKUP_TIMEOUT_MS)
    } catch {
      return { kind: 'unknown' }
    }
    this.db.run(
      this.db.qb
        .insertInto('wa_contacts')
        .values({ instance_id: instanceId, phone, jid, checked_at: this.now() })
        .onConflict((oc) => oc.columns(['instance_id', 'phone']).doUpdateSet({ jid, checked_at: this.now() })),
    )
    return jid ? { kind: 'jid', jid } : { kind: 'not_on_whatsapp' }
  }

  /**
   * Forgets answers too old to be used (past the positive TTL, so every negative one too): a lookup would be made
   * again anyway, and without this the table keeps a row for every number ever sent to. Answers the rows deleted.
   */
  prune(): number {
    // The in-memory front needs nothing: it is bounded, and an expired entry there is never answered.
    return this.db.run(this.db.qb.deleteFrom('wa_contacts').where('checked_at', '<', this.now() - POSITIVE_TTL_MS))
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('lookup timed out')), ms)
    timer.unref()
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    )
  })
}
