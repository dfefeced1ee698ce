import { sniffMedia } from './sniff.js'
import type { LoadedMedia } from './types.js'

export interface PreparedDocument {
  bytes: Buffer
  mimetype: string
  fileName: string
}

// Sniffing finds only the container; the declared type (epub, apk, odt, jar…) says more and is kept.
const GENERIC_SNIFFS = new Set(['application/zip'])

const EXT_BY_MIME: Record<string, string> = {
  'text/plain': 'txt',
  'application/msword': 'doc',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.ms-powerpoint': 'ppt',
  'application/epub+zip': 'epub',
  'application/vnd.android.package-archive': 'apk',
}

/** Any bytes; the type is the sniffed one when known, else the declared one, else text or octet-stream. */
export function prepareDocument(loaded: LoadedMedia): PreparedDocument {
  const sniffed = sniffMedia(loaded.bytes)
  const declared = loaded.declaredMime
  const specific = sniffed && !(GENERIC_SNIFFS.has(sniffed.mime) && declared) ? sniffed : undefined
  const fallback = specific || declared ? undefined : sniffMedia(loaded.bytes, { text: true })
  const mimetype = specific?.mime ?? declared ?? fallback?.mime ?? 'application/octet-stream'
  const ext = specific?.ext ?? extensionFor(declared) ?? fallback?.ext ?? 'bin'
  return { bytes: loaded.bytes, mimetype, fileName: loaded.fileName ?? `document.${ext}` }
}

function extensionFor(mime: string | undefined): string | undefined {
  if (!mime) return undefined
  const known = EXT_BY_MIME[mime]
  if (known) return known
  const subtype = mime.split('/')[1] ?? ''
  return /^[a-z0-9]{2,5}$/.test(subtype) ? subtype : undefined
}
