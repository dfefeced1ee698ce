export { prepareMedia, type PrepareDeps } from './prepare.js'
export { decodeBase64Media, type DecodedBase64 } from './base64.js'
export { fetchMediaUrl, type FetchMediaOptions, type FetchedMedia } from './fetch-url.js'
export { sniffMedia, type SniffedType } from './sniff.js'
export { computeWaveform, WAVEFORM_SAMPLES } from './waveform.js'
export { createFfmpegRunner, ffmpegRunner, FfmpegError, type FfmpegJob, type FfmpegRunner } from './ffmpeg.js'
export {
  DEFAULT_DOCUMENT_MAX_BYTES,
  DEFAULT_MEDIA_MAX_BYTES,
  MEDIA_KINDS,
  type MediaInput,
  type MediaKind,
  type MediaLimits,
  type PreparedMedia,
} from './types.js'
