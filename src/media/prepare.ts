import { AppError } from '../errors.js'
import { prepareAudio } from './audio.js'
import { prepareDocument } from './document.js'
import { ffmpegRunner, type FfmpegRunner } from './ffmpeg.js'
import { prepareImage, prepareSticker } from './image.js'
import { loadMediaInput } from './load-input.js'
import { MEDIA_KINDS, type LoadedMedia, type MediaInput, type MediaKind, type MediaLimits, type PreparedMedia } from './types.js'
import { prepareVideo } from './video.js'
import { prepareVoice } from './voice.js'

export interface PrepareDeps {
  ffmpeg?: FfmpegRunner
}

/**
 * User input (base64 or URL) → WhatsApp-ready media. The type comes from the bytes, never from the name or the
 * declared mimetype. Every failure is an AppError: MEDIA_REQUIRED/AMBIGUOUS, BASE64_INVALID, URL_INVALID,
 * MEDIA_TOO_LARGE, MEDIA_URL_FORBIDDEN/UNREACHABLE, MEDIA_TYPE_MISMATCH, MEDIA_CONVERSION_FAILED.
 */
export async function prepareMedia(
  kind: MediaKind,
  input: MediaInput,
  limits: MediaLimits,
  deps: PrepareDeps = {},
): Promise<PreparedMedia> {
  if (!MEDIA_KINDS.includes(kind)) throw new AppError('UNKNOWN_MESSAGE_TYPE')
  const effective: MediaKind = kind === 'audio' && input.ptt === true ? 'voice' : kind
  const maxBytes = effective === 'document' ? limits.documentMaxBytes : limits.mediaMaxBytes
  const loaded = await loadMediaInput(input, maxBytes, limits)
  const ffmpeg = deps.ffmpeg ?? ffmpegRunner()
  const timeoutMs = limits.conversionTimeoutMs ?? (effective === 'video' ? 120_000 : 60_000)
  const prepared = await convert(effective, loaded, ffmpeg, timeoutMs)
  // The limit holds for what is sent, not only for what came in: a re-encode can grow a file (40 min of 32 kb/s
  // Opus become ≈ 40 MiB of MP3), and WhatsApp would refuse it later instead of the API at once.
  if (prepared.bytes.length > maxBytes) {
    throw new AppError('MEDIA_TOO_LARGE', `The converted ${effective} is ${prepared.bytes.length} bytes; the limit is ${maxBytes}`)
  }
  return prepared
}

async function convert(effective: MediaKind, loaded: LoadedMedia, ffmpeg: FfmpegRunner, timeoutMs: number): Promise<PreparedMedia> {
  const { bytes } = loaded
  switch (effective) {
    case 'image':
      return { kind: effective, ...(await prepareImage(bytes, ffmpeg)) }
    case 'sticker':
      return { kind: effective, ...(await prepareSticker(bytes, ffmpeg)) }
    case 'video':
      return { kind: effective, ...(await prepareVideo(bytes, ffmpeg, timeoutMs)) }
    case 'audio':
      return { kind: effective, ...(await prepareAudio(bytes, ffmpeg, timeoutMs)) }
    case 'voice':
      return { kind: effective, ...(await prepareVoice(bytes, ffmpeg, timeoutMs)) }
    case 'document':
      return { kind: effective, ...prepareDocument(loaded) }
  }
}
