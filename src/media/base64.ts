import { AppError } from '../errors.js'

export interface DecodedBase64 {
  bytes: Buffer
  /** The mimetype a `data:` URL declared; a hint only, never trusted over the bytes. */
  declaredMime?: string
}

const DATA_URL = /^data:([^,;]*)((?:;[^,;]*)*),/i
const WHITESPACE = /[\t\n\f\r ]+/g
const STANDARD = /^[A-Za-z0-9+/]*$/
const URL_SAFE = /^[A-Za-z0-9\-_]*$/
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/**
 * Decodes raw base64 or a `data:<mime>;base64,` URL, strictly: standard or URL-safe alphabet (not mixed),
 * whitespace ignored, padding optional but correct when present, canonical trailing bits. The size limit is checked
 * from the encoded length before anything is decoded.
 */
export function decodeBase64Media(input: string, maxBytes: number): DecodedBase64 {
  let body = input
  let declaredMime: string | undefined
  const dataUrl = DATA_URL.exec(input.slice(0, 512))
  if (dataUrl) {
    const params = (dataUrl[2] ?? '').split(';').map((p) => p.trim().toLowerCase())
    if (!params.includes('base64')) throw invalid('the data: URL is not base64-encoded')
    const mime = (dataUrl[1] ?? '').trim().toLowerCase()
    if (/^[\w.+-]+\/[\w.+-]+$/.test(mime)) declaredMime = mime
    body = input.slice(dataUrl[0].length)
  } else if (/^data:/i.test(input)) {
    throw invalid('malformed data: URL')
  }

  const compact = body.replace(WHITESPACE, '')
  if (compact.length === 0) throw invalid('empty')

  const padding = compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0
  const chars = compact.length - padding
  const decodedLength = Math.floor((chars * 3) / 4)
  if (decodedLength > maxBytes) {
    throw new AppError('MEDIA_TOO_LARGE', `The media is ${decodedLength} bytes; the limit is ${maxBytes}`, {
      size: decodedLength,
      limit: maxBytes,
    })
  }

  const data = compact.slice(0, chars)
  if (!STANDARD.test(data) && !URL_SAFE.test(data)) throw invalid('invalid characters (or standard and URL-safe alphabets mixed)')
  if (chars % 4 === 1) throw invalid('invalid length')
  if (padding > 0 && compact.length % 4 !== 0) throw invalid('invalid padding')
  if (!hasCanonicalTail(data)) throw invalid('non-zero trailing bits')

  const bytes = Buffer.from(data, 'base64')
  if (bytes.length !== decodedLength) throw invalid('invalid length')
  const result: DecodedBase64 = { bytes }
  if (declaredMime) result.declaredMime = declaredMime
  return result
}

// The last character of a 2- or 3-character group carries bits that encode nothing; encoders set them to zero.
function hasCanonicalTail(data: string): boolean {
  const remainder = data.length % 4
  if (remainder === 0) return true
  const last = data.at(-1) ?? ''
  const value = last === '+' || last === '-' ? 62 : last === '/' || last === '_' ? 63 : ALPHABET.indexOf(last)
  return remainder === 2 ? (value & 0x0f) === 0 : (value & 0x03) === 0
}

function invalid(reason: string): AppError {
  return new AppError('BASE64_INVALID', `data.base64 is not valid base64: ${reason}`)
}
