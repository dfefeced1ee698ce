import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import type { Outbox } from '../events/outbox.js'
import type { InboundMessage } from '../whatsapp/inbound.js'
import type { JournalEntry, StoredStanza } from '../whatsapp/inbound-journal.js'
import type { InboundRecorder } from '../whatsapp/inbound-listener.js'
import type { MediaLinks } from './media-links.js'
import type { InboundMediaStore, MediaFileRow } from './media-store.js'
import { timeOrderedId } from '../ids.js'

export interface InboundRecordingDeps {
  db: Database
  outbox: Outbox
  media: InboundMediaStore
  links: MediaLinks
  now?: () => number
}

// Time-ordered (see ids.ts): the message rows of consecutive inbound messages share index pages.
const newMessageId = (): string => timeOrderedId('msg')

/** The values of one new message row, in the column order of the `insertMessage` statement. */
interface NewMessageRow {
  id: string
  instanceId: string
  direction: 'inbound' | 'outbound'
  source: 'phone' | null
  m: InboundMessage
  pushName: string | null
  media: string | null
  status: 'received' | 'sent'
  iso: string
}

/**
 * The durable side of inbound messages: for each upsert the message row, its event and (through Outbox.append) one
 * delivery row per subscribed sink, in one transaction. (The journal of decrypted stanzas is in the instance's
 * session file, inbound-journal.ts: the listener deletes the entries once this transaction committed.)
 *
 * Upserts are recorded in the database's group commit: those that arrive in one event-loop turn share one transaction. The
 * journal already made each message durable before its receipt left, so nothing waits on this commit but the
 * webhook. Measured in issue #7 (bench/webhooks.ts inbound, CPU profile): a transaction per upsert spent ≈ 220 µs
 * per message in BEGIN/COMMIT alone, since every commit rewrites the same last pages of the messages, events and
 * deliveries tables and their indexes; a batch writes them once. Under load one socket read brings many stanzas, so
 * batches grow exactly when the saving matters.
 *
 * Event rules (documented in the README, "Events and webhooks"):
 *  - a customer's message → `message.inbound`, one per (instance, WhatsApp id): dedupe key `<inst>:<waId>:message.inbound`;
 *  - an undecryptable stub → `message.inbound` with `type: "undecryptable"` (own dedupe key); when the resend
 *    decrypts, the normal `message.inbound` follows with `recovered: true` and the row gets the content;
 *  - a fromMe message with no outbound row of that WhatsApp id (so not sent by the API) → typed on the phone:
 *    an outbound row (source `phone`, status `sent`) and `message.outbound` with `source: "phone"`.
 */
export class InboundRecording {
  private readonly now: () => number
  // Every inbound message runs these: statements compiled once (building and compiling the equivalent Kysely
  // queries per message cost more than executing them).
  private readonly stmt: {
    legacyJournal: Statement
    dropLegacyJournal: Statement
    recorded: Statement
    tenant: Statement
    existing: Statement
    insertMessage: Statement
    updateMessage: Statement
  }


  constructor(private readonly deps: InboundRecordingDeps) {
    this.now = deps.now ?? Date.now
    const sqlite = deps.db.sqlite
    this.stmt = {
      // The journal as versions before the journal moved into the session file kept it (migration 003).
      legacyJournal: sqlite.prepare(
        `SELECT wa_message_id, stanza, plaintext FROM inbound_journal WHERE instance_id = ? ORDER BY created_at, rowid`,
      ),
      dropLegacyJournal: sqlite.prepare(`DELETE FROM inbound_journal WHERE instance_id = ?`),
      recorded: sqlite.prepare(`SELECT EXISTS (SELECT 1 FROM messages WHERE instance_id = ? AND wa_message_id = ?)`).pluck(),
      tenant: sqlite.prepare(`SELECT tenant_id FROM instances WHERE id = ?`),
      existing: sqlite.prepare(`SELECT id, type FROM messages WHERE instance_id = ? AND wa_message_id = ? AND direction = ?`),
      insertMessage: sqlite.prepare(`
        INSERT INTO messages (id, instance_id, direction, source, wa_message_id, phone, jid, lid, push_name, type, text, payload,
          media, quoted_wa_id, status, error_code, error_message, attempts, send_started_at, wa_timestamp, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, NULL, ?, ?, ?)`),
      updateMessage: sqlite.prepare(`
        UPDATE messages SET type = ?, text = ?, payload = ?, media = ?, quoted_wa_id = ?, push_name = ?, updated_at = ? WHERE id = ?`),
    }
  }

  /** The recorder one socket of `instanceId` writes through. */
  forInstance(instanceId: string): InboundRecorder {
    return {
      record: (messages) => this.record(instanceId, messages),
      recorded: (waMessageId) => this.stmt.recorded.get(instanceId, waMessageId) === 1,
      moveLegacyJournal: (keep) => {
        const rows = this.stmt.legacyJournal.all(instanceId) as Array<{ wa_message_id: string; stanza: string; plaintext: Buffer }>
        if (rows.length === 0) return
        keep(rows.map((r): JournalEntry => ({ waMessageId: r.wa_message_id, stanza: JSON.parse(r.stanza) as StoredStanza, plaintext: r.plaintext })))
        // A crash before this delete leaves the entries in both journals: replayed twice, recorded once.
        this.stmt.dropLegacyJournal.run(instanceId)
      },
    }
  }

  /** Records one upsert with the others of this event-loop turn; settles once their transaction committed, or failed. */
  record(instanceId: string, messages: InboundMessage[]): Promise<void> {
    return this.deps.db.groupCommit(() => this.recordUpsert(instanceId, messages)).then((mediaIds) => {
      if (mediaIds.length === 0) return
      try {
        this.deps.media.prefetch(mediaIds)
      } catch {
        // Recorded already: a prefetch that cannot start (the database closing at shutdown) is not a recording
        // failure; the files are downloaded at the next start or when a link is opened.
      }
    })
  }

  /** Runs inside the batch's transaction; answers the ids of media files registered (to download after the commit). */
  private recordUpsert(instanceId: string, messages: InboundMessage[]): string[] {
    const mediaIds: string[] = []
    const tenantId = (this.stmt.tenant.get(instanceId) as { tenant_id: string | null } | undefined)?.tenant_id ?? null
    for (const m of messages) {
      const mediaId = m.fromMe ? this.recordOwn(instanceId, tenantId, m) : this.recordInbound(instanceId, tenantId, m)
      if (mediaId) mediaIds.push(mediaId)
    }
    return mediaIds
  }

  private recordInbound(instanceId: string, tenantId: string | null, m: InboundMessage): string | undefined {
    const existing = this.stmt.existing.get(instanceId, m.waMessageId, 'inbound') as { id: string; type: string } | undefined
    if (existing && (existing.type !== 'undecryptable' || m.type === 'undecryptable')) return undefined // a redelivery
    const recovered = existing?.type === 'undecryptable'
    const messageId = existing?.id ?? newMessageId()
    const iso = new Date(this.now()).toISOString()
    const mediaRow = m.media ? this.deps.media.register(instanceId, messageId, m.media) : undefined
    const mediaJson = storedMedia(mediaRow, m)
    if (existing) {
      // The resend of an undecryptable stub: the row gets the content.
      this.stmt.updateMessage.run(m.type, m.text, JSON.stringify(extras(m)), mediaJson, m.quotedWaId, m.pushName, iso, messageId)
    } else {
      this.insertMessage({ id: messageId, instanceId, direction: 'inbound', source: null, m, pushName: m.pushName, media: mediaJson, status: 'received', iso })
    }
    const data = this.eventData(messageId, m, mediaRow)
    if (recovered) data.recovered = true
    const suffix = m.type === 'undecryptable' ? ':undecryptable' : ''
    this.deps.outbox.append({
      type: 'message.inbound',
      instanceId,
      tenantId,
      dedupeKey: `${instanceId}:${m.waMessageId}:message.inbound${suffix}`,
      data,
    })
    return mediaRow?.id
  }

  private recordOwn(instanceId: string, tenantId: string | null, m: InboundMessage): string | undefined {
    // Sent through the API: the sending side already owns the row and its message.outbound event.
    const existing = this.stmt.existing.get(instanceId, m.waMessageId, 'outbound') as { id: string } | undefined
    if (existing || m.type === 'undecryptable') return undefined
    const messageId = newMessageId()
    const iso = new Date(this.now()).toISOString()
    const mediaRow = m.media ? this.deps.media.register(instanceId, messageId, m.media) : undefined
    this.insertMessage({ id: messageId, instanceId, direction: 'outbound', source: 'phone', m, pushName: null, media: storedMedia(mediaRow, m), status: 'sent', iso })
    this.deps.outbox.append({
      type: 'message.outbound',
      instanceId,
      tenantId,
      dedupeKey: `${instanceId}:${m.waMessageId}:message.outbound`,
      data: { ...this.eventData(messageId, m, mediaRow), source: 'phone', status: 'sent' },
    })
    return mediaRow?.id
  }

  /** The one message-row insert of both directions (a customer's message, or one typed on the phone). */
  private insertMessage(r: NewMessageRow): void {
    const { m } = r
    this.stmt.insertMessage.run(
      r.id,
      r.instanceId,
      r.direction,
      r.source,
      m.waMessageId,
      m.phone ?? '',
      m.chatJid,
      m.lid,
      r.pushName,
      m.type,
      m.text,
      JSON.stringify(extras(m)),
      r.media,
      m.quotedWaId,
      r.status,
      m.timestamp,
      r.iso,
      r.iso,
    )
  }

  private eventData(messageId: string, m: InboundMessage, mediaRow: { id: string; mimetype: string; filename: string | null } | undefined): Record<string, unknown> {
    const data: Record<string, unknown> = {
      message_id: messageId,
      wa_message_id: m.waMessageId,
      phone: m.phone,
      lid: m.lid,
      push_name: m.pushName,
      type: m.type,
      text: m.text,
      quoted: m.quotedWaId ? { wa_message_id: m.quotedWaId } : null,
      timestamp: new Date(m.timestamp * 1000).toISOString(),
      offline: m.offline,
    }
    if (m.media && mediaRow) {
      const link = this.deps.links.issue(mediaRow.id)
      data.media = {
        id: mediaRow.id,
        mimetype: m.media.mimetype,
        size: m.media.size,
        filename: m.media.filename,
        sha256: m.media.sha256,
        duration_seconds: m.media.durationSeconds,
        url: link.url,
        url_expires_at: link.expiresAt,
      }
    }
    Object.assign(data, extras(m))
    if (m.type === 'undecryptable') {
      data.undecryptable = { reason: m.undecryptableReason ?? 'decrypt_failed' }
    }
    return data
  }
}

/**
 * The message row's `media` column, the same for both directions (the messages API reads it): what the sender
 * announced, or null where it announced nothing.
 */
function storedMedia(row: MediaFileRow | undefined, m: InboundMessage): string | null {
  if (!row) return null
  const { size = null, sha256 = null, durationSeconds = null } = m.media ?? {}
  return JSON.stringify({ id: row.id, mimetype: row.mimetype, size, filename: row.filename, sha256, duration_seconds: durationSeconds })
}

function extras(m: InboundMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (m.location) out.location = m.location
  if (m.contacts) out.contacts = m.contacts
  if (m.reaction) out.reaction = m.reaction
  return out
}
