import type { Agent } from 'undici'

export type MediaKind = 'image' | 'video' | 'audio' | 'voice' | 'document' | 'sticker'

export const MEDIA_KINDS: readonly MediaKind[] = ['image', 'video', 'audio', 'voice', 'document', 'sticker']

/** Media ready to hand to the WhatsApp layer: bytes in a format WhatsApp clients play, plus the metadata they show. */
export interface PreparedMedia {
  kind: MediaKind
  bytes: Buffer
  mimetype: string
  fileName?: string
  /** Whole seconds, rounded up (audio, voice, video). */
  seconds?: number
  /** 64 samples 0..100 (voice notes). */
  waveform?: Uint8Array
  jpegThumbnail?: Buffer
  width?: number
  height?: number
  ptt?: boolean
}

export interface MediaLimits {
  /** Images, video, audio, voice, stickers; default 16 MiB. */
  mediaMaxBytes: number
  /** Documents; default 100 MiB. */
  documentMaxBytes: number
  fetchTimeoutMs: number
  /** A guarded agent (src/net/guarded-agent.ts). */
  agent: Agent
  /** Per ffmpeg run; default 60 s (120 s for video). */
  conversionTimeoutMs?: number
}

/**
 * Pixels a decoded picture or video frame may have, for sharp and ffmpeg alike: about 100 MP, above every phone
 * camera in use, below what lets a small file (a frame size is only declared) hold gigabytes of decoded pixels.
 */
export const MAX_INPUT_PIXELS = 100_000_000

export const DEFAULT_MEDIA_MAX_BYTES = 16 * 1024 * 1024
export const DEFAULT_DOCUMENT_MAX_BYTES = 100 * 1024 * 1024

export interface MediaInput {
  base64?: string
  url?: string
  filename?: string
  mimetype?: string
  /** `audio` with `ptt: true` is a voice note. */
  ptt?: boolean
}

/** The raw bytes of an input, with what the client (or the server it came from) claimed about them. */
export interface LoadedMedia {
  bytes: Buffer
  declaredMime?: string
  fileName?: string
}
