import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

export interface SignedLink {
  url: string
  expiresAt: string
}

export interface SignedLinkOptions {
  secret: string
  /** Names the HKDF-derived key: a key leaked for one purpose opens no link of another. */
  purpose: string
  /** The link's base, e.g. `${publicUrl}/pair`; the id is appended as a path segment. */
  base: string
  ttlSeconds: number
  now?: () => number
}

/**
 * Short-lived links authorised by their own signature: `${base}/:id?exp=<unix s>&sig=<base64url HMAC>`.
 * They stand in for a credential where one must not sit in a URL (browser history, Referer headers, logs).
 */
export class SignedLinks {
  private readonly key: Buffer
  private readonly now: () => number

  constructor(private readonly opts: SignedLinkOptions) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(opts.secret, 'utf8'), Buffer.alloc(0), `plixa-wa-gateway:${opts.purpose}`, 32))
    this.now = opts.now ?? Date.now
  }

  issue(id: string): SignedLink {
    const exp = Math.floor(this.now() / 1000) + this.opts.ttlSeconds
    return { url: `${this.opts.base}/${encodeURIComponent(id)}?exp=${exp}&sig=${this.sign(id, exp)}`, expiresAt: new Date(exp * 1000).toISOString() }
  }

  /** True when `sig` is ours for (id, exp) and exp is still ahead. Constant-time comparison. */
  verify(id: string, exp: string | undefined, sig: string | undefined): boolean {
    if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return false
    if (Number(exp) * 1000 <= this.now()) return false
    const expected = Buffer.from(this.sign(id, Number(exp)))
    const given = Buffer.from(sig)
    return expected.length === given.length && timingSafeEqual(expected, given)
  }

  /** Milliseconds until a link with this `exp` expires. */
  remainingMs(exp: string): number {
    return Math.max(0, Number(exp) * 1000 - this.now())
  }

  private sign(id: string, exp: number): string {
    return createHmac('sha256', this.key).update(`${id}.${exp}`).digest('base64url')
  }
}
