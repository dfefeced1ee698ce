import type { Message } from './repository.js'
import type { MessageStatus, StoredMedia } from './types.js'

/** A message as the API and the events show it (contract.md "Events", message `data`). */
export interface MessageView {
  message_id: string
  wa_message_id: string
  instance_id: string
  direction: 'inbound' | 'outbound'
  source: 'api' | 'phone' | null
  phone: string
  /** the customer's WhatsApp name, on inbound messages */
  push_name: string | null
  type: string
  text: string | null
  quoted: { wa_message_id: string } | null
  media: { mimetype: string; size: number | null; filename: string | null; sha256: string | null; duration_seconds: number | null } | null
  /** Outbound statuses; inbound rows are `received`. */
  status: MessageStatus | 'received'
  error: { code: string; message: string; wa_code: number | null } | null
  timestamp: string
  updated_at: string
}

export function messageView(row: Message): MessageView {
  const media = row.media ? (JSON.parse(row.media) as StoredMedia) : null
  return {
    message_id: row.id,
    wa_message_id: row.wa_message_id,
    instance_id: row.instance_id,
    direction: row.direction,
    source: row.source,
    phone: row.phone,
    push_name: row.push_name,
    type: row.type,
    text: row.text,
    quoted: row.quoted_wa_id ? { wa_message_id: row.quoted_wa_id } : null,
    media: media
      ? { mimetype: media.mimetype, size: media.size ?? null, filename: media.filename ?? null, sha256: media.sha256 ?? null, duration_seconds: media.duration_seconds ?? null }
      : null,
    status: row.status as MessageStatus | 'received',
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '', wa_code: row.error_wa_code } : null,
    // WhatsApp's time when the message came from WhatsApp (as its event says), else when the API queued it.
    timestamp: row.wa_timestamp !== null ? new Date(row.wa_timestamp * 1000).toISOString() : row.created_at,
    updated_at: row.updated_at,
  }
}

export type MessageEventData = Omit<MessageView, 'instance_id' | 'updated_at'>

/** The `data` of message.outbound / message.status events. */
export function messageEventData(row: Message): MessageEventData {
  return eventDataOf(messageView(row))
}

/** The view without what the envelope already says (instance_id) and updated_at; keys in the view's order. */
export function eventDataOf(view: MessageView): MessageEventData {
  // Listed, not `...rest`-destructured: object rest is a slow runtime path, and this runs for every send.
  return {
    message_id: view.message_id,
    wa_message_id: view.wa_message_id,
    direction: view.direction,
    source: view.source,
    phone: view.phone,
    push_name: view.push_name,
    type: view.type,
    text: view.text,
    quoted: view.quoted,
    media: view.media,
    status: view.status,
    error: view.error,
    timestamp: view.timestamp,
  }
}
