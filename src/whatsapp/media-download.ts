import { createHash, timingSafeEqual } from 'node:crypto'
import { aesDecryptWithIV, DEFAULT_ORIGIN, getMediaKeys, hmacSign } from '@whiskeysockets/baileys'
import type { Agent } from 'undici'
import { AppError } from '../errors.js'
import { fetchMediaUrl } from '../media/fetch-url.js'
import type { MediaSource } from './inbound.js'

/** WhatsApp's media host when a message names none we accept (Utils/messages-media.js:400 DEF_MEDIA_HOST). */
const WHATSAPP_MEDIA_HOST = 'mmg.whatsapp.net'
/** The encrypted file is the AES-CBC ciphertext (≤ 16 bytes of padding) followed by a 10-byte MAC. */
const MAC_BYTES = 10
const ENCRYPTION_OVERHEAD = 16 + MAC_BYTES

export interface InboundMediaDownloadOptions {
  maxBytes: number
  timeoutMs: number
  /** A guarded agent (src/net/guarded-agent.ts): the host comes from a message anyone can send. */
  agent: Agent
  /**
   * Accept whichever host the message names. Only for a WhatsApp endpoint other than WhatsApp's own (the simulator);
   * otherwise only *.whatsapp.net hosts are used and anything else falls back to WhatsApp's default media host.
   */
  anyHost: boolean
}

/**
 * Downloads and decrypts one inbound media file: a GET of the encrypted bytes through the SSRF-guarded agent (no
 * redirects, bounded in size and time), the MAC checked before anything is decrypted, then AES-256-CBC with the keys
 * derived from mediaKey (the scheme of Utils/messages-media.js:416-470, which would fetch through the global fetch and
 * follow any host a sender writes into the message). No socket is needed, so a pending download resumes after a restart.
 */
export async function downloadInboundMedia(source: MediaSource, opts: InboundMediaDownloadOptions): Promise<{ bytes: Buffer; sha256: string }> {
  const { bytes: file } = await fetchMediaUrl(mediaUrl(source, opts.anyHost), {
    maxBytes: opts.maxBytes + ENCRYPTION_OVERHEAD,
    timeoutMs: opts.timeoutMs,
    agent: opts.agent,
    headers: { origin: DEFAULT_ORIGIN },
  })
  const keys = await getMediaKeys(Buffer.from(source.mediaKey, 'base64'), source.type)
  const ciphertext = file.subarray(0, -MAC_BYTES)
  const mac = hmacSign(Buffer.concat([keys.iv, ciphertext]), keys.macKey ?? Buffer.alloc(0)).subarray(0, MAC_BYTES)
  if (file.length <= MAC_BYTES || !timingSafeEqual(mac, file.subarray(-MAC_BYTES))) {
    throw new AppError('MEDIA_UNAVAILABLE', 'the downloaded media failed its integrity check')
  }
  const bytes = aesDecryptWithIV(ciphertext, keys.cipherKey, keys.iv)
  if (bytes.length > opts.maxBytes) throw new AppError('MEDIA_TOO_LARGE', `media larger than ${opts.maxBytes} bytes`, { limit: opts.maxBytes })
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') }
}

/** directPath on the host the message names when that host is acceptable, else on WhatsApp's default media host. */
export function mediaUrl(source: Pick<MediaSource, 'url' | 'directPath'>, anyHost: boolean): string {
  const named = source.url ? safeUrl(source.url) : undefined
  const host = named && (anyHost || named.hostname.endsWith('.whatsapp.net')) ? named.host : WHATSAPP_MEDIA_HOST
  if (source.directPath?.startsWith('/')) return `https://${host}${source.directPath}`
  if (named && host === named.host) return named.href
  throw new AppError('MEDIA_UNAVAILABLE', 'the message names no usable media location')
}

function safeUrl(url: string): URL | undefined {
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'https:' ? parsed : undefined
  } catch {
    return undefined
  }
}
