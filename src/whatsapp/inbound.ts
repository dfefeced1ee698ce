import {
  isJidGroup,
  isJidNewsletter,
  isJidStatusBroadcast,
  isLidUser,
  isPnUser,
  jidDecode,
  normalizeMessageContent,
  proto,
  type MediaType,
  type WAMessage,
} from '@whiskeysockets/baileys'

/** The contract's message types, plus `undecryptable` (a stub Baileys keeps while it asks the sender to resend). */
export type InboundType =
  | 'text'
  | 'image'
  | 'video'
  | 'audio'
  | 'voice'
  | 'document'
  | 'sticker'
  | 'location'
  | 'contact'
  | 'reaction'
  | 'undecryptable'
  | 'unknown'

/** What Baileys needs to download (and decrypt) the media again, at any later time, without the socket. */
export interface MediaSource {
  type: MediaType
  url: string | null
  directPath: string | null
  /** base64 */
  mediaKey: string
}

export interface InboundMedia {
  mimetype: string
  /** bytes, as announced by the sender */
  size: number | null
  filename: string | null
  /** hex SHA-256 of the plaintext file, as announced by the sender */
  sha256: string | null
  durationSeconds: number | null
  source: MediaSource
}

/** One WhatsApp message, normalised; the domain code downstream never sees a Baileys type. */
export interface InboundMessage {
  waMessageId: string
  /** sent by this account (typed on the phone, or by the API through Baileys) */
  fromMe: boolean
  chatJid: string
  /** the other party's phone number (digits, no +), when known */
  phone: string | null
  lid: string | null
  pushName: string | null
  /** unix seconds, from the stanza */
  timestamp: number
  type: InboundType
  text: string | null
  quotedWaId: string | null
  media?: InboundMedia
  location?: { latitude: number; longitude: number; name: string | null; address: string | null; url: string | null }
  contacts?: Array<{ display_name: string | null; vcard: string | null }>
  reaction?: { emoji: string; wa_message_id: string | null; removed: boolean }
  /** Baileys' reason for a decrypt failure (messageStubParameters[0]) */
  undecryptableReason?: string
  /** `append`: arrived while the daemon was offline (stanza with offline="1", messages-recv.js:1432) */
  offline: boolean
}

/**
 * Turns a Baileys `WAMessage` into an InboundMessage, or undefined for what is not a chat message: protocol
 * messages (revokes, edits, key shares, history sync), status broadcasts, newsletters and empty envelopes.
 * Phone and LID come from the key: a PN-addressed stanza has the PN in remoteJid and the LID in remoteJidAlt
 * (sender_lid), a LID-addressed one the other way round (Utils/decode-wa-message.js:69-95, 176-189). `lidToPn` fills
 * the phone from Baileys' LID↔PN store when the stanza carried only the LID.
 */
export function normaliseMessage(msg: WAMessage, offline: boolean, lidToPn?: (lid: string) => string | undefined): InboundMessage | undefined {
  const key = msg.key
  const chatJid = key.remoteJid ?? ''
  const waMessageId = key.id ?? ''
  if (!chatJid || !waMessageId || isJidStatusBroadcast(chatJid) || isJidNewsletter(chatJid)) return undefined
  if (msg.category === 'peer') return undefined
  const group = isJidGroup(chatJid)
  const primary = group ? (key.participant ?? undefined) : chatJid
  const alt = group ? (key.participantAlt ?? undefined) : (key.remoteJidAlt ?? undefined)
  let phone = pnDigits(primary) ?? pnDigits(alt) ?? null
  const lid = lidUser(primary) ?? lidUser(alt) ?? null
  if (!phone && lid && lidToPn) phone = pnDigits(lidToPn(lid)) ?? null
  const base = {
    waMessageId,
    fromMe: Boolean(key.fromMe),
    chatJid,
    phone,
    lid,
    pushName: key.fromMe ? null : (msg.pushName ?? null),
    timestamp: toSeconds(msg.messageTimestamp),
    text: null,
    quotedWaId: null,
    offline,
  }

  if (msg.messageStubType === proto.WebMessageInfo.StubType.CIPHERTEXT && !msg.message) {
    return { ...base, type: 'undecryptable', undecryptableReason: msg.messageStubParameters?.[0] ?? 'decrypt_failed' }
  }
  const content = normalizeMessageContent(msg.message)
  if (!content) return undefined
  if (content.protocolMessage || content.senderKeyDistributionMessage && Object.keys(content).length <= 2) return undefined

  if (content.conversation != null) return { ...base, type: 'text', text: content.conversation }
  const ext = content.extendedTextMessage
  if (ext) return { ...base, type: 'text', text: ext.text ?? '', quotedWaId: quoted(ext.contextInfo) }
  if (content.imageMessage) return withMedia(base, 'image', 'image', content.imageMessage, content.imageMessage.caption)
  if (content.videoMessage) return withMedia(base, 'video', 'video', content.videoMessage, content.videoMessage.caption)
  if (content.audioMessage) {
    return withMedia(base, content.audioMessage.ptt ? 'voice' : 'audio', 'audio', content.audioMessage, null)
  }
  if (content.documentMessage) return withMedia(base, 'document', 'document', content.documentMessage, content.documentMessage.caption)
  if (content.stickerMessage) return withMedia(base, 'sticker', 'sticker', content.stickerMessage, null)
  const loc = content.locationMessage ?? content.liveLocationMessage
  if (loc) {
    const l = loc as proto.Message.ILocationMessage
    return {
      ...base,
      type: 'location',
      text: l.name ?? l.comment ?? null,
      quotedWaId: quoted(l.contextInfo),
      location: {
        latitude: Number(l.degreesLatitude ?? 0),
        longitude: Number(l.degreesLongitude ?? 0),
        name: l.name ?? null,
        address: l.address ?? null,
        url: l.url ?? null,
      },
    }
  }
  if (content.contactMessage) {
    const c = content.contactMessage
    return {
      ...base,
      type: 'contact',
      quotedWaId: quoted(c.contextInfo),
      contacts: [{ display_name: c.displayName ?? null, vcard: c.vcard ?? null }],
    }
  }
  if (content.contactsArrayMessage) {
    const a = content.contactsArrayMessage
    return {
      ...base,
      type: 'contact',
      quotedWaId: quoted(a.contextInfo),
      contacts: (a.contacts ?? []).map((c) => ({ display_name: c.displayName ?? null, vcard: c.vcard ?? null })),
    }
  }
  if (content.reactionMessage) {
    const r = content.reactionMessage
    return {
      ...base,
      type: 'reaction',
      text: r.text ?? '',
      reaction: { emoji: r.text ?? '', wa_message_id: r.key?.id ?? null, removed: !r.text },
    }
  }
  return { ...base, type: 'unknown' }
}

type MediaProto = {
  mimetype?: string | null
  fileLength?: number | Long | null
  fileName?: string | null
  fileSha256?: Uint8Array | null
  seconds?: number | null
  url?: string | null
  directPath?: string | null
  mediaKey?: Uint8Array | null
  contextInfo?: proto.IContextInfo | null
}
type Long = { toNumber(): number }

function withMedia(
  base: Omit<InboundMessage, 'type'>,
  type: InboundType,
  mediaType: MediaType,
  m: MediaProto,
  caption: string | null | undefined,
): InboundMessage {
  const out: InboundMessage = { ...base, type, text: caption ?? null, quotedWaId: quoted(m.contextInfo) }
  if (m.mediaKey && (m.directPath || m.url)) {
    out.media = {
      mimetype: m.mimetype ?? 'application/octet-stream',
      size: m.fileLength == null ? null : toNumber(m.fileLength),
      filename: m.fileName ?? null,
      sha256: m.fileSha256 ? Buffer.from(m.fileSha256).toString('hex') : null,
      durationSeconds: m.seconds ?? null,
      source: { type: mediaType, url: m.url ?? null, directPath: m.directPath ?? null, mediaKey: Buffer.from(m.mediaKey).toString('base64') },
    }
  }
  return out
}

function quoted(ctx: proto.IContextInfo | null | undefined): string | null {
  return ctx?.stanzaId ?? null
}

function pnDigits(jid: string | undefined): string | undefined {
  if (!jid || !isPnUser(jid)) return undefined
  return jidDecode(jid)?.user
}

function lidUser(jid: string | undefined): string | undefined {
  if (!jid || !isLidUser(jid)) return undefined
  return jidDecode(jid)?.user
}

function toNumber(v: number | Long): number {
  return typeof v === 'number' ? v : v.toNumber()
}

function toSeconds(ts: WAMessage['messageTimestamp']): number {
  if (ts == null) return Math.floor(Date.now() / 1000)
  return typeof ts === 'number' ? ts : toNumber(ts as Long)
}
