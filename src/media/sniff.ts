export interface SniffedType {
  mime: string
  ext: string
}

interface Signature extends SniffedType {
  matches: (b: Buffer) => boolean
}

const ascii = (b: Buffer, offset: number, text: string): boolean =>
  b.length >= offset + text.length && b.toString('latin1', offset, offset + text.length) === text

const bytesAt = (b: Buffer, offset: number, bytes: readonly number[]): boolean =>
  b.length >= offset + bytes.length && bytes.every((v, i) => b[offset + i] === v)

const ftypBrand = (b: Buffer): string | undefined => (ascii(b, 4, 'ftyp') ? b.toString('latin1', 8, 12) : undefined)

const hasBrand = (b: Buffer, brands: readonly string[]): boolean => brands.includes(ftypBrand(b) ?? '')

const ebmlDocType = (b: Buffer): string | undefined => {
  if (!bytesAt(b, 0, [0x1a, 0x45, 0xdf, 0xa3])) return undefined
  const head = b.subarray(0, 64).toString('latin1')
  return head.includes('webm') ? 'webm' : head.includes('matroska') ? 'matroska' : undefined
}

// MPEG audio frame header: 11 sync bits, then version, layer (00 is ADTS AAC, not MP3), bitrate and rate indexes.
const isMpegAudioFrame = (b: Buffer): boolean => {
  const b1 = b[1] ?? 0
  const b2 = b[2] ?? 0
  return b[0] === 0xff && (b1 & 0xe0) === 0xe0 && ((b1 >> 3) & 3) !== 1 && ((b1 >> 1) & 3) !== 0 && b2 >> 4 !== 15 && ((b2 >> 2) & 3) !== 3
}
const isAdts = (b: Buffer): boolean => b[0] === 0xff && ((b[1] ?? 0) & 0xf6) === 0xf0 && (((b[2] ?? 0) >> 2) & 0x0f) < 13

// Office Open XML is a zip whose local file headers (names in clear) start with [Content_Types].xml and word/, xl/…
const isZipWith = (b: Buffer, folder: string): boolean => {
  if (!ascii(b, 0, 'PK\x03\x04')) return false
  const head = b.subarray(0, 64 * 1024)
  return head.includes('[Content_Types].xml', 0, 'latin1') && head.includes(folder, 0, 'latin1')
}

const OOXML = 'application/vnd.openxmlformats-officedocument'

/** Checked in order; the first match wins. Names and declared types never enter into it. */
const SIGNATURES: readonly Signature[] = [
  { mime: 'image/jpeg', ext: 'jpg', matches: (b) => bytesAt(b, 0, [0xff, 0xd8, 0xff]) },
  { mime: 'image/png', ext: 'png', matches: (b) => bytesAt(b, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { mime: 'image/gif', ext: 'gif', matches: (b) => ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a') },
  { mime: 'image/webp', ext: 'webp', matches: (b) => ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP') },
  { mime: 'image/bmp', ext: 'bmp', matches: (b) => ascii(b, 0, 'BM') && [12, 40, 52, 56, 108, 124].includes(b.length >= 18 ? b.readUInt32LE(14) : 0) },
  { mime: 'image/tiff', ext: 'tif', matches: (b) => ascii(b, 0, 'II*\0') || ascii(b, 0, 'MM\0*') },
  { mime: 'image/avif', ext: 'avif', matches: (b) => hasBrand(b, ['avif', 'avis']) },
  { mime: 'image/heic', ext: 'heic', matches: (b) => hasBrand(b, ['heic', 'heix', 'hevc', 'hevx']) },
  { mime: 'image/heif', ext: 'heif', matches: (b) => hasBrand(b, ['mif1', 'msf1']) },
  // ISO-BMFF: the major brand tells audio-only M4A from video; a generic brand (isom, mp42) counts as video.
  { mime: 'audio/mp4', ext: 'm4a', matches: (b) => hasBrand(b, ['M4A ', 'M4B ', 'M4P ', 'F4A ', 'F4B ']) },
  { mime: 'video/quicktime', ext: 'mov', matches: (b) => ftypBrand(b) === 'qt  ' || ['moov', 'mdat', 'wide'].some((atom) => ascii(b, 4, atom)) },
  { mime: 'video/3gpp', ext: '3gp', matches: (b) => /^3g[p2]/.test(ftypBrand(b) ?? '') },
  { mime: 'video/mp4', ext: 'mp4', matches: (b) => ftypBrand(b) !== undefined },
  { mime: 'video/webm', ext: 'webm', matches: (b) => ebmlDocType(b) === 'webm' },
  { mime: 'video/x-matroska', ext: 'mkv', matches: (b) => ebmlDocType(b) === 'matroska' },
  { mime: 'audio/ogg; codecs=opus', ext: 'ogg', matches: (b) => ascii(b, 0, 'OggS') && ascii(b, 28, 'OpusHead') },
  { mime: 'video/ogg', ext: 'ogv', matches: (b) => ascii(b, 0, 'OggS') && ascii(b, 29, 'theora') },
  { mime: 'audio/ogg', ext: 'ogg', matches: (b) => ascii(b, 0, 'OggS') },
  { mime: 'audio/wav', ext: 'wav', matches: (b) => ascii(b, 0, 'RIFF') && ascii(b, 8, 'WAVE') },
  { mime: 'audio/flac', ext: 'flac', matches: (b) => ascii(b, 0, 'fLaC') },
  { mime: 'audio/amr', ext: 'amr', matches: (b) => ascii(b, 0, '#!AMR\n') },
  { mime: 'audio/amr-wb', ext: 'awb', matches: (b) => ascii(b, 0, '#!AMR-WB\n') },
  { mime: 'audio/mpeg', ext: 'mp3', matches: (b) => ascii(b, 0, 'ID3') || isMpegAudioFrame(b) },
  { mime: 'audio/aac', ext: 'aac', matches: isAdts },
  { mime: 'application/pdf', ext: 'pdf', matches: (b) => ascii(b, 0, '%PDF-') },
  { mime: `${OOXML}.wordprocessingml.document`, ext: 'docx', matches: (b) => isZipWith(b, 'word/') },
  { mime: `${OOXML}.spreadsheetml.sheet`, ext: 'xlsx', matches: (b) => isZipWith(b, 'xl/') },
  { mime: `${OOXML}.presentationml.presentation`, ext: 'pptx', matches: (b) => isZipWith(b, 'ppt/') },
  { mime: 'application/zip', ext: 'zip', matches: (b) => ascii(b, 0, 'PK\x03\x04') || ascii(b, 0, 'PK\x05\x06') },
]

export interface SniffOptions {
  /** Fall back to text/plain for valid UTF-8 without control characters (documents only). */
  text?: boolean
}

/** The type of `bytes` from their magic numbers, or undefined when none matches. */
export function sniffMedia(bytes: Buffer, options: SniffOptions = {}): SniffedType | undefined {
  const found = SIGNATURES.find((s) => s.matches(bytes))
  if (found) return { mime: found.mime, ext: found.ext }
  if (options.text && looksLikeText(bytes)) return { mime: 'text/plain', ext: 'txt' }
  return undefined
}

function looksLikeText(bytes: Buffer): boolean {
  if (bytes.length === 0) return false
  const head = bytes.subarray(0, 8192)
  try {
    // stream:true tolerates a multi-byte character cut at the end of the sample.
    const text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: head.length < bytes.length })
    return !/[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]/.test(text)
  } catch {
    return false
  }
}

export const isImage = (t: SniffedType | undefined): boolean => t?.mime.startsWith('image/') ?? false
