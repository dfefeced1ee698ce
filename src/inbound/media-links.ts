import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

/**
 * Signed, expiring download links for inbound media: `${publicUrl}/media/:id?exp=<unix s>&sig=<base64url HMAC>`.
 * The key is derived from the daemon secret (HKDF, its own purpose), so links survive restarts and rotate with it.
 */
export class MediaLinks {
  private readonly key: Buffer

  constructor(
    secret: string,
    private readonly publicUrl: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), 'plixa-wa-gateway:media-links', 32))
  }

  url(id: string): { url: string; expiresAt: string } {
    const exp = Math.floor(this.now() / 1000) + this.ttlSeconds
    return { url: `${this.publicUrl}/media/${encodeURIComponent(id)}?exp=${exp}&sig=${this.sign(id, exp)}`, expiresAt: new Date(exp * 1000).toISOString() }
  }

  /** True when `sig` is ours for (id, exp) and exp is in the future. Constant-time comparison. */
  verify(id: string, exp: string | undefined, sig: string | undefined): boolean {
    if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return false
    const expSeconds = Number(exp)
    if (expSeconds * 1000 <= this.now()) return false
    const expected = Buffer.from(this.sign(id, expSeconds))
    const given = Buffer.from(sig)
    return expected.length === given.length && timingSafeEqual(expected, given)
  }

  private sign(id: string, exp: number): string {
    return createHmac('sha256', this.key).update(`${id}.${exp}`).digest('base64url')
  }
}
