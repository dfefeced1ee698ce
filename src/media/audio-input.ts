import { AppError } from '../errors.js'
import { sniffMedia, type SniffedType } from './sniff.js'

// Containers that may carry audio; ffmpeg then says whether they actually do.
const AUDIO_CARRIERS = new Set(['video/mp4', 'video/quicktime', 'video/3gpp', 'video/webm', 'video/x-matroska', 'video/ogg'])

/** Sniffs bytes meant as audio: any audio format, or a container that may hold an audio track. */
export function sniffAudioInput(bytes: Buffer): SniffedType {
  const type = sniffMedia(bytes)
  if (type && (type.mime.startsWith('audio/') || AUDIO_CARRIERS.has(type.mime))) return type
  throw new AppError('MEDIA_TYPE_MISMATCH', 'The content is not audio')
}
