/** A file name safe to hand to WhatsApp and to log: no path, no control characters, bounded length. */
export function sanitizeFilename(name: string): string | undefined {
  const base = name.split(/[/\\]/).at(-1) ?? ''
  const clean = base
    .replace(/[\x00-\x1f\x7f"<>|:*?]/g, '')
    .trim()
    .slice(0, 200)
  return clean === '' || clean === '.' || clean === '..' ? undefined : clean
}

/** `filename*=UTF-8''…` (RFC 6266/5987) wins over `filename="…"`. */
export function filenameFromContentDisposition(header: string | undefined): string | undefined {
  if (!header) return undefined
  const extended = /filename\*\s*=\s*([\w!#$%&+^`{}~-]+)'[\w-]*'([^;\s]+)/i.exec(header)
  if (extended) {
    const charset = (extended[1] ?? '').toLowerCase()
    const decoded = safeDecode(extended[2] ?? '', charset === 'utf-8' ? 'utf8' : 'latin1')
    if (decoded) return sanitizeFilename(decoded)
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header)
  if (quoted) return sanitizeFilename((quoted[1] ?? '').replace(/\\(.)/g, '$1'))
  const token = /filename\s*=\s*([^;\s]+)/i.exec(header)
  return token ? sanitizeFilename(token[1] ?? '') : undefined
}

export function filenameFromUrl(url: URL): string | undefined {
  const last = url.pathname.split('/').at(-1) ?? ''
  return sanitizeFilename(safeDecode(last, 'utf8') ?? last)
}

function safeDecode(text: string, encoding: 'utf8' | 'latin1'): string | undefined {
  try {
    if (encoding === 'utf8') return decodeURIComponent(text)
    return text.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  } catch {
    return undefined
  }
}
