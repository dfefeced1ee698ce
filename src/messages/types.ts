import type { MediaInput } from '../media/index.js'

/** The `:message_type` values of `POST /api/v1/message/:message_type` (contract.md "Sending"). */
export const MESSAGE_TYPES = ['text', 'image', 'video', 'audio', 'voice', 'document', 'sticker', 'location', 'reaction', 'contact'] as const
export type MessageType = (typeof MESSAGE_TYPES)[number]

export type MediaMessageType = 'image' | 'video' | 'audio' | 'voice' | 'document' | 'sticker'
export const MEDIA_MESSAGE_TYPES: readonly MediaMessageType[] = ['image', 'video', 'audio', 'voice', 'document', 'sticker']

/** A send request after validation: every field checked, nothing looked up yet. */
export type SendCommand =
  | { type: 'text'; phone: string; text: string; quotedId?: string }
  | { type: MediaMessageType; phone: string; media: MediaInput; caption?: string; quotedId?: string }
  | { type: 'location'; phone: string; latitude: number; longitude: number; name?: string; address?: string; quotedId?: string }
  | { type: 'reaction'; phone: string; targetId: string; emoji: string }
  | { type: 'contact'; phone: string; contactName: string; contactPhone: string; quotedId?: string }

/**
 * Contract statuses, in the order they can only move forward. `queued` covers "waiting" and "handed to the socket,
 * no server ack yet" (then `send_started_at` is set); `failed` is terminal.
 */
export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'read' | 'played' | 'failed'

/** A message the other side referred to: what a reply bubble or a reaction needs to name it. */
export interface MessageRef {
  waMessageId: string
  fromMe: boolean
  /** Quoted text shown in the reply bubble. */
  text: string | null
  type: string
}

/** Media as stored beside the queued row: the file, plus what WhatsApp clients show. */
export interface StoredMedia {
  path: string
  mimetype: string
  size: number
  sha256: string
  filename: string | null
  duration_seconds: number | null
  width: number | null
  height: number | null
  /** base64 */
  jpeg_thumbnail: string | null
  /** base64 of 64 samples 0..100 */
  waveform: string | null
  ptt: boolean
}

/** Everything needed to (re)build the WhatsApp message at send time: the `payload` column. */
export interface OutboundPayload {
  caption?: string
  location?: { latitude: number; longitude: number; name?: string; address?: string }
  contact?: { name: string; phone: string }
  reaction?: { emoji: string; target: MessageRef }
  quoted?: MessageRef
}

/** What the sender hands the WhatsApp layer for one queued row. */
export interface OutboundMessage {
  waMessageId: string
  type: MessageType
  text: string | null
  payload: OutboundPayload
  media: StoredMedia | null
}

/** A status WhatsApp reported for one of our messages. */
export interface StatusReport {
  waMessageId: string
  status: Exclude<MessageStatus, 'queued'>
  /** WhatsApp's error code when it refused the message (ack error). */
  waErrorCode?: number
}
