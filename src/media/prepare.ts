import { AppError } from '../errors.js'
import { prepareAudio } from './audio.js'
import { prepareDocument } from './document.js'
import { ffmpegRunner, type FfmpegRunner } from './ffmpeg.js'
import { prepareImage, prepareSticker } from './image.js'
import { loadMediaInput } from './load-input.js'
import { MEDIA_KINDS, type MediaInput, type MediaKind, type MediaLimits, type PreparedMedia } from './types.js'
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

  switch (effective) {
    case 'image':
      return { kind: effective, ...(await prepareImage(loaded.bytes, ffmpeg)) }
    case 'sticker':
      return { kind: effective, ...(await prepareSticker(loaded.bytes, ffmpeg)) }
    case 'video':
      return { kind: effective, ...(await prepareVideo(loaded.bytes, ffmpeg, timeoutMs)) }
    case 'audio':
      return { kind: effective, ...(await prepareAudio(loaded.bytes, ffmpeg, timeoutMs)) }
    case 'voice':
      return { kind: effective, ...(await prepareVoice(loaded.bytes, ffmpeg, timeoutMs)) }
    case 'document':
      return { kind: effective, ...prepareDocument(loaded) }
  }
}
