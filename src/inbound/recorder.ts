import type { Statement } from 'better-sqlite3'
import type { Database } from '../db/database.js'
import type { Outbox } from '../events/outbox.js'
import type { InboundMessage } from '../whatsapp/inbound.js'
import type { InboundRecorder, JournalEntry, StoredStanza } from '../whatsapp/inbound-listener.js'
import type { MediaLinks } from './media-links.js'
import type { InboundMediaStore } from './media-store.js'
import { newId } from '../ids.js'

export interface InboundRecordingDeps {
  db: Database
  outbox: Outbox
  media: InboundMediaStore
  links: MediaLinks
  now?: () => number
}

const newMessageId = (): string => newId('msg')

/**
 * The durable side of inbound messages: for each upsert, in ONE synchronous transaction, the message row, its event
 * and (through Outbox.append) one delivery row per subscribed sink, and the journal rows of the batch are deleted.
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
  private readonly stmt: { journal: Statement; unjournal: Statement; leftovers: Statement }

  constructor(private readonly deps: InboundRecordingDeps) {
    this.now = deps.now ?? Date.now
    const sqlite = deps.db.sqlite
    this.stmt = {
      journal: sqlite.prepare(
        `INSERT OR REPLACE INTO inbound_journal (instance_id, wa_message_id, stanza, plaintext, created_at) VALUES (?, ?, ?, ?, ?)`,
      ),
      unjournal: sqlite.prepare(`DELETE FROM inbound_journal WHERE instance_id = ? AND wa_message_id = ?`),
      leftovers: sqlite.prepare(`SELECT wa_message_id, stanza, plaintext FROM inbound_journal WHERE instance_id = ? ORDER BY created_at`),
    }
  }

  /** The recorder one socket of `instanceId` writes through. */
  forInstance(instanceId: string, onMedia: (ids: string[]) => void): InboundRecorder {
    return {
      record: (messages, waIds) => {
        const mediaIds = this.record(instanceId, messages, waIds)
        if (mediaIds.length) onMedia(mediaIds)
      },
      journal: (entry) => {
        this.stmt.journal.run(instanceId, entry.waMessageId, JSON.stringify(entry.stanza), entry.plaintext, this.now())
      },
      leftovers: () =>
        (this.stmt.leftovers.all(instanceId) as Array<{ wa_message_id: string; stanza: string; plaintext: Buffer }>).map(
          (r): JournalEntry => ({ waMessageId: r.wa_message_id, stanza: JSON.parse(r.stanza) as StoredStanza, plaintext: r.plaintext }),
        ),
    }
  }

  /** Answers the ids of media files registered (to download after the commit). */
  record(instanceId: string, messages: InboundMessage[], waIds: string[]): string[] {
    const { db } = this.deps
    const mediaIds: string[] = []
    db.tx(() => {
      const tenantId = db.first(db.qb.selectFrom('instances').select('tenant_id').where('id', '=', instanceId))?.tenant_id ?? null
      for (const m of messages) {
        const mediaId = m.fromMe ? this.recordOwn(instanceId, tenantId, m) : this.recordInbound(instanceId, tenantId, m)
        if (mediaId) mediaIds.push(mediaId)
      }
      for (const waId of waIds) this.stmt.unjournal.run(instanceId, waId)
    })
    return mediaIds
  }

  private recordInbound(instanceId: string, tenantId: string | null, m: InboundMessage): string | undefined {
    const { db } = this.deps
    const existing = db.first(
      db.qb
        .selectFrom('messages')
        .select(['id', 'type'])
        .where('instance_id', '=', instanceId)
        .where('wa_message_id', '=', m.waMessageId)
        .where('direction', '=', 'inbound'),
    )
    if (existing && (existing.type !== 'undecryptable' || m.type === 'undecryptable')) return undefined // a redelivery
    const recovered = existing?.type === 'undecryptable'
    const messageId = existing?.id ?? newMessageId()
    const iso = new Date(this.now()).toISOString()
    const mediaRow = m.media ? this.deps.media.register(instanceId, messageId, m.media) : undefined
    const mediaJson = mediaRow ? JSON.stringify({ id: mediaRow.id, mimetype: mediaRow.mimetype, size: m.media?.size ?? null, filename: mediaRow.filename, sha256: m.media?.sha256 ?? null, duration_seconds: m.media?.durationSeconds ?? null }) : null
    const row = {
      type: m.type,
      text: m.text,
      payload: JSON.stringify(extras(m)),
      media: mediaJson,
      quoted_wa_id: m.quotedWaId,
      push_name: m.pushName,
      updated_at: iso,
    }
    if (existing) {
      db.run(db.qb.updateTable('messages').set(row).where('id', '=', messageId))
    } else {
      db.run(
        db.qb.insertInto('messages').values({
          ...row,
          id: messageId,
          instance_id: instanceId,
          direction: 'inbound',
          source: null,
          wa_message_id: m.waMessageId,
          phone: m.phone ?? '',
          jid: m.chatJid,
          lid: m.lid,
          status: 'received',
          error_code: null,
          error_message: null,
          attempts: 0,
          send_started_at: null,
          wa_timestamp: m.timestamp,
          created_at: iso,
        }),
      )
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
    const { db } = this.deps
    // Sent through the API: the sending side already owns the row and its message.outbound event.
    const existing = db.first(
      db.qb
        .selectFrom('messages')
        .select('id')
        .where('instance_id', '=', instanceId)
        .where('wa_message_id', '=', m.waMessageId)
        .where('direction', '=', 'outbound'),
    )
    if (existing || m.type === 'undecryptable') return undefined
    const messageId = newMessageId()
    const iso = new Date(this.now()).toISOString()
    const mediaRow = m.media ? this.deps.media.register(instanceId, messageId, m.media) : undefined
    db.run(
      db.qb.insertInto('messages').values({
        id: messageId,
        instance_id: instanceId,
        direction: 'outbound',
        source: 'phone',
        wa_message_id: m.waMessageId,
        phone: m.phone ?? '',
        jid: m.chatJid,
        lid: m.lid,
        push_name: null,
        type: m.type,
        text: m.text,
        payload: JSON.stringify(extras(m)),
        media: mediaRow ? JSON.stringify({ id: mediaRow.id, mimetype: mediaRow.mimetype, filename: mediaRow.filename }) : null,
        quoted_wa_id: m.quotedWaId,
        status: 'sent',
        error_code: null,
        error_message: null,
        attempts: 0,
        send_started_at: null,
        wa_timestamp: m.timestamp,
        created_at: iso,
        updated_at: iso,
      }),
    )
    this.deps.outbox.append({
      type: 'message.outbound',
      instanceId,
      tenantId,
      dedupeKey: `${instanceId}:${m.waMessageId}:message.outbound`,
      data: { ...this.eventData(messageId, m, mediaRow), source: 'phone', status: 'sent' },
    })
    return mediaRow?.id
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

function extras(m: InboundMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (m.location) out.location = m.location
  if (m.contacts) out.contacts = m.contacts
  if (m.reaction) out.reaction = m.reaction
  return out
}
