import { AppError } from '../errors.js'
import { decodeBase64Media } from './base64.js'
import { fetchMediaUrl } from './fetch-url.js'
import { sanitizeFilename } from './filename.js'
import type { LoadedMedia, MediaInput, MediaLimits } from './types.js'

/** Exactly one of `base64` / `url` → bytes, plus the declared mimetype and name (hints, never trusted). */
export async function loadMediaInput(input: MediaInput, maxBytes: number, limits: MediaLimits): Promise<LoadedMedia> {
  const hasBase64 = typeof input.base64 === 'string' && input.base64.length > 0
  const hasUrl = typeof input.url === 'string' && input.url.length > 0
  if (hasBase64 && hasUrl) throw new AppError('MEDIA_AMBIGUOUS')
  if (!hasBase64 && !hasUrl) throw new AppError('MEDIA_REQUIRED')

  const loaded: LoadedMedia = { bytes: Buffer.alloc(0) }
  let declaredMime: string | undefined
  let remoteName: string | undefined
  if (hasBase64) {
    const decoded = decodeBase64Media(input.base64 as string, maxBytes)
    loaded.bytes = decoded.bytes
    declaredMime = decoded.declaredMime
  } else {
    const fetched = await fetchMediaUrl(input.url as string, { maxBytes, timeoutMs: limits.fetchTimeoutMs, agent: limits.agent })
    loaded.bytes = fetched.bytes
    declaredMime = fetched.contentType
    remoteName = fetched.filename
  }
  if (loaded.bytes.length === 0) throw new AppError('MEDIA_TYPE_MISMATCH', 'The media is empty')

  const mime = normaliseMime(input.mimetype) ?? normaliseMime(declaredMime)
  if (mime) loaded.declaredMime = mime
  const fileName = (input.filename ? sanitizeFilename(input.filename) : undefined) ?? remoteName
  if (fileName) loaded.fileName = fileName
  return loaded
}

// Generic types say nothing, so they count as undeclared; parameters other than the type itself are dropped.
function normaliseMime(mime: string | undefined): string | undefined {
  const type = mime?.split(';', 1)[0]?.trim().toLowerCase()
  if (!type || !/^[\w.+-]+\/[\w.+-]+$/.test(type)) return undefined
  if (type === 'application/octet-stream' || type === 'binary/octet-stream' || type === 'application/unknown') return undefined
  return type
}
