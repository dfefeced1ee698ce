import { AppError, type ErrorCode } from '../errors.js'
import type { MediaInput } from '../media/index.js'
import { normalizePhone } from './phone.js'
import { MEDIA_MESSAGE_TYPES, MESSAGE_TYPES, type MediaMessageType, type MessageType, type SendCommand } from './types.js'

/** WhatsApp clients cut text at 65,536 characters. */
const TEXT_MAX = 65_536
const SHORT_MAX = 1_024
const ID_MAX = 128

const COMMON = ['quoted_message_id'] as const
const MEDIA_FIELDS = ['base64', 'url', 'text', 'caption', 'filename', 'mimetype', ...COMMON] as const
/**
 * Fields each type takes. Plixa core sends `seconds`/`duration`/`waveform` with voice notes; the daemon computes
 * both from the audio itself (a client's numbers cannot be checked), so they are accepted and ignored.
 */
const ALLOWED: Record<MessageType, readonly string[]> = {
  text: ['text', ...COMMON],
  image: MEDIA_FIELDS,
  video: MEDIA_FIELDS,
  document: MEDIA_FIELDS,
  sticker: ['base64', 'url', 'mimetype', ...COMMON],
  audio: [...MEDIA_FIELDS, 'ptt', 'seconds', 'duration', 'waveform'],
  voice: [...MEDIA_FIELDS, 'ptt', 'seconds', 'duration', 'waveform'],
  location: ['latitude', 'longitude', 'name', 'address', ...COMMON],
  reaction: ['message_id', 'emoji'],
  contact: ['contact_name', 'contact_phone', ...COMMON],
}

function isMessageType(type: string): type is MessageType {
  return (MESSAGE_TYPES as readonly string[]).includes(type)
}

/**
 * `POST /api/v1/message/:type` body → a checked command, or an AppError naming the field. Pure: nothing is looked up
 * or decoded here (media bytes are checked by prepareMedia), so it is cheap enough to run before anything else.
 */
export function parseSendRequest(type: string, body: unknown): SendCommand {
  if (!isMessageType(type)) throw new AppError('UNKNOWN_MESSAGE_TYPE', `Unknown message type '${type.slice(0, 40)}'; use one of ${MESSAGE_TYPES.join(', ')}`)
  if (!isPlainObject(body)) throw fieldError('VALIDATION_FAILED', 'body', 'The body must be a JSON object {phone, data}')
  for (const key of Object.keys(body)) {
    if (key !== 'phone' && key !== 'data') throw fieldError('UNKNOWN_FIELD', key, `Unknown field '${clip(key)}'; the body takes phone and data`)
  }
  const phone = parsePhone(body.phone)
  if (body.data !== undefined && !isPlainObject(body.data)) throw fieldError('VALIDATION_FAILED', 'data', 'data must be a JSON object')
  const data: Record<string, unknown> = body.data ?? {}
  const allowed = ALLOWED[type]
  for (const key of Object.keys(data)) {
    if (!allowed.includes(key)) throw fieldError('UNKNOWN_FIELD', `data.${key}`, `A ${type} message does not take data.${clip(key)}`)
  }
  const quotedId = optionalString(data, 'quoted_message_id', ID_MAX)

  switch (type) {
    case 'text': {
      const text = data.text
      if (typeof text !== 'string' || text.trim() === '') throw fieldError('TEXT_REQUIRED', 'data.text')
      if (text.length > TEXT_MAX) throw fieldError('TEXT_TOO_LONG', 'data.text')
      return { type, phone, text, ...(quotedId ? { quotedId } : {}) }
    }
    case 'location': {
      const latitude = data.latitude
      const longitude = data.longitude
      if (!isFiniteNumber(latitude) || !isFiniteNumber(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) {
        throw fieldError('LOCATION_INVALID', isFiniteNumber(latitude) && Math.abs(latitude) <= 90 ? 'data.longitude' : 'data.latitude')
      }
      const name = optionalString(data, 'name', SHORT_MAX)
      const address = optionalString(data, 'address', SHORT_MAX)
      return { type, phone, latitude, longitude, ...(name ? { name } : {}), ...(address ? { address } : {}), ...(quotedId ? { quotedId } : {}) }
    }
    case 'reaction': {
      const targetId = data.message_id
      const emoji = data.emoji
      if (typeof targetId !== 'string' || targetId === '' || targetId.length > ID_MAX) throw fieldError('REACTION_INVALID', 'data.message_id')
      // "" removes an earlier reaction (that is how WhatsApp clients do it); otherwise one emoji, maybe with modifiers.
      if (typeof emoji !== 'string' || !isEmoji(emoji)) {
        throw fieldError('REACTION_INVALID', 'data.emoji')
      }
      return { type, phone, targetId, emoji }
    }
    case 'contact': {
      const contactName = data.contact_name
      const rawPhone = data.contact_phone
      if (typeof contactName !== 'string' || contactName.trim() === '' || contactName.length > SHORT_MAX) throw fieldError('CONTACT_INVALID', 'data.contact_name')
      const contactPhone = typeof rawPhone === 'string' ? normalizePhone(rawPhone) : undefined
      if (!contactPhone) throw fieldError('CONTACT_INVALID', 'data.contact_phone')
      return { type, phone, contactName: contactName.trim(), contactPhone, ...(quotedId ? { quotedId } : {}) }
    }
    default:
      return parseMedia(type, phone, data, quotedId)
  }
}

function parseMedia(type: MediaMessageType, phone: string, data: Record<string, unknown>, quotedId: string | undefined): SendCommand {
  if (!MEDIA_MESSAGE_TYPES.includes(type)) throw new AppError('UNKNOWN_MESSAGE_TYPE')
  const { base64, url } = data
  const hasBase64 = base64 !== undefined && base64 !== null && base64 !== ''
  const hasUrl = url !== undefined && url !== null && url !== ''
  if (hasBase64 && hasUrl) throw fieldError('MEDIA_AMBIGUOUS', 'data')
  if (!hasBase64 && !hasUrl) throw fieldError('MEDIA_REQUIRED', 'data')
  if (hasBase64 && typeof base64 !== 'string') throw fieldError('BASE64_INVALID', 'data.base64', 'data.base64 must be a string')
  if (hasUrl && (typeof url !== 'string' || !isHttpUrl(url))) throw fieldError('URL_INVALID', 'data.url')
  const text = optionalString(data, 'text', TEXT_MAX, 'TEXT_TOO_LONG')
  const caption = text ?? optionalString(data, 'caption', TEXT_MAX, 'TEXT_TOO_LONG')
  const filename = optionalString(data, 'filename', 255)
  const mimetype = optionalString(data, 'mimetype', 255)
  if (data.ptt !== undefined && typeof data.ptt !== 'boolean') throw fieldError('VALIDATION_FAILED', 'data.ptt', 'data.ptt must be true or false')
  for (const ignored of ['seconds', 'duration'] as const) {
    if (data[ignored] !== undefined && !isFiniteNumber(data[ignored])) throw fieldError('VALIDATION_FAILED', `data.${ignored}`, `data.${ignored} must be a number`)
  }
  const effective: MediaMessageType = type === 'audio' && data.ptt === true ? 'voice' : type
  const media: MediaInput = {
    ...(hasBase64 ? { base64: base64 as string } : { url: url as string }),
    ...(filename ? { filename } : {}),
    ...(mimetype ? { mimetype } : {}),
  }
  // Stickers and voice notes have no caption on WhatsApp.
  const withCaption = caption && effective !== 'sticker' && effective !== 'voice' ? { caption } : {}
  return { type: effective, phone, media, ...withCaption, ...(quotedId ? { quotedId } : {}) }
}

function parsePhone(value: unknown): string {
  // JSON numbers are accepted: a client that stores phones as digits may send them unquoted.
  const raw = typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? String(value) : value
  const phone = typeof raw === 'string' ? normalizePhone(raw) : undefined
  if (!phone) throw fieldError('INVALID_PHONE', 'phone')
  return phone
}

function optionalString(data: Record<string, unknown>, key: string, max: number, tooLong: ErrorCode = 'VALIDATION_FAILED'): string | undefined {
  const value = data[key]
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value !== 'string') throw fieldError('VALIDATION_FAILED', `data.${key}`, `data.${key} must be a string`)
  if (value.length > max) throw fieldError(tooLong, `data.${key}`, `data.${key} is longer than ${max} characters`)
  return value
}

const EMOJI_CHARS = /^[\p{Extended_Pictographic}\p{Emoji_Component}\p{Emoji_Modifier}\u200D\uFE0F\u20E3]+$/u
const EMOJI_CORE = /[\p{Extended_Pictographic}\p{Regional_Indicator}\u20E3]/u

/** One emoji (ZWJ sequences, skin tones, flags, keycaps included), or "" which removes a reaction. */
function isEmoji(value: string): boolean {
  return value === '' || ([...value].length <= 10 && EMOJI_CHARS.test(value) && EMOJI_CORE.test(value))
}

function isHttpUrl(value: string): boolean {
  if (value.length > 4096) return false
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && !url.username && !url.password
  } catch {
    return false
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

function fieldError(code: ErrorCode, field: string, message?: string): AppError {
  return new AppError(code, message, { field })
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}
