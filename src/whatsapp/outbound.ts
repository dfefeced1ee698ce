import { jidNormalizedUser, type AnyMessageContent, type WAMessage } from '@whiskeysockets/baileys'
import type { MessageRef, OutboundMessage } from '../messages/types.js'
import type { WaConnection } from './connection.js'

/** A queued row (+ its media bytes) → Baileys message content. */
function buildContent(message: OutboundMessage, jid: string, bytes: Buffer | undefined): AnyMessageContent {
  const { payload, media } = message
  const caption = payload.caption
  const needBytes = (): Buffer => {
    if (!bytes || !media) throw new Error(`${message.type} message without media`)
    return bytes
  }
  // A thumbnail we made (or '') stops Baileys from making its own (Utils/messages.js:135, :159).
  const thumbnail = media?.jpeg_thumbnail ?? ''
  const dimensions = media?.width && media.height ? { width: media.width, height: media.height } : {}
  switch (message.type) {
    case 'text':
      // linkPreview: null skips Baileys' URL fetch for a preview (Utils/messages.js:278-281): no request leaves
      // the daemon for a URL a client put in a text.
      return { text: message.text ?? '', linkPreview: null }
    case 'image':
      return { image: needBytes(), mimetype: media?.mimetype, jpegThumbnail: thumbnail, ...(caption ? { caption } : {}), ...dimensions }
    case 'video':
      return {
        video: needBytes(),
        mimetype: media?.mimetype,
        jpegThumbnail: thumbnail,
        ...(caption ? { caption } : {}),
        ...dimensions,
        ...(media?.duration_seconds ? { seconds: media.duration_seconds } : {}),
      } as AnyMessageContent
    case 'audio':
      // seconds given, so Baileys does not probe the file itself (Utils/messages.js:134).
      return { audio: needBytes(), mimetype: media?.mimetype, ptt: false, seconds: media?.duration_seconds ?? 0 }
    case 'voice':
      // A voice note plays with its waveform only when ptt, seconds and waveform are all set (Evolution #1427).
      return {
        audio: needBytes(),
        mimetype: media?.mimetype ?? 'audio/ogg; codecs=opus',
        ptt: true,
        seconds: media?.duration_seconds ?? 0,
        ...(media?.waveform ? { waveform: new Uint8Array(Buffer.from(media.waveform, 'base64')) } : {}),
      } as AnyMessageContent
    case 'document':
      return {
        document: needBytes(),
        mimetype: media?.mimetype ?? 'application/octet-stream',
        fileName: media?.filename ?? 'file',
        ...(caption ? { caption } : {}),
      }
    case 'sticker':
      return { sticker: needBytes(), mimetype: media?.mimetype ?? 'image/webp', ...dimensions }
    case 'location': {
      const loc = payload.location
      if (!loc) throw new Error('location message without coordinates')
      return { location: { degreesLatitude: loc.latitude, degreesLongitude: loc.longitude, name: loc.name, address: loc.address } }
    }
    case 'contact': {
      const contact = payload.contact
      if (!contact) throw new Error('contact message without a contact')
      return { contacts: { displayName: contact.name, contacts: [{ displayName: contact.name, vcard: vcard(contact.name, contact.phone) }] } }
    }
    case 'reaction': {
      const reaction = payload.reaction
      if (!reaction) throw new Error('reaction without a target')
      return { react: { text: reaction.emoji, key: { remoteJid: jid, fromMe: reaction.target.fromMe, id: reaction.target.waMessageId } } }
    }
  }
}

/**
 * The message a reply quotes, as Baileys wants it for `quoted` (Utils/messages.js:560-585: stanzaId from the key,
 * participant = us for our own messages, the quoted content shown in the bubble).
 */
export function quotedMessage(ref: MessageRef, jid: string): WAMessage {
  return {
    key: { remoteJid: jid, fromMe: ref.fromMe, id: ref.waMessageId },
    message: { conversation: ref.text ?? `[${ref.type}]` },
  }
}

/** vCard 3.0 with the WhatsApp id parameter WhatsApp clients use to offer "Message"/"Add contact". */
export function vcard(name: string, phone: string): string {
  const escaped = name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/([,;])/g, '\\$1')
  return ['BEGIN:VCARD', 'VERSION:3.0', `FN:${escaped}`, `TEL;type=CELL;type=VOICE;waid=${phone}:+${phone}`, 'END:VCARD'].join('\n')
}

/**
 * Sends under the pre-generated id: `messageId` makes Baileys use ours instead of a fresh one
 * (Socket/messages-send.js:1086 `...options` overrides it), which is what makes a resend after a crash the same
 * message.
 */
export async function send(connection: WaConnection, jid: string, message: OutboundMessage, bytes: Buffer | undefined): Promise<void> {
  const content = buildContent(message, jid, bytes)
  const quoted = message.payload.quoted ? quotedMessage(message.payload.quoted, jidNormalizedUser(jid)) : undefined
  await connection.sendMessage(jid, content, { messageId: message.waMessageId, ...(quoted ? { quoted } : {}) })
}
