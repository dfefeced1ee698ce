import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

export interface PairingLink {
  url: string
  expiresAt: string
}

/**
 * Short-lived signed links to the pairing page: `${publicUrl}/pair/:id?exp=<unix s>&sig=<base64url HMAC>`.
 * The signature, not the admin token, authorises the page, its event stream and its pairing-code form, so the
 * admin token never sits in a URL, a browser history or a Referer header. The key is derived from the daemon's
 * secret with HKDF under its own purpose: a leaked pairing key opens nothing else.
 */
export class PairingLinks {
  private readonly key: Buffer

  constructor(
    secret: string,
    private readonly publicUrl: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), 'plixa-wa-gateway:pairing-links', 32))
  }

  issue(instanceId: string): PairingLink {
    const exp = Math.floor(this.now() / 1000) + this.ttlSeconds
    const url = `${this.publicUrl}/pair/${encodeURIComponent(instanceId)}?exp=${exp}&sig=${this.sign(instanceId, exp)}`
    return { url, expiresAt: new Date(exp * 1000).toISOString() }
  }

  /** True when `sig` is ours for (instanceId, exp) and exp is still ahead. Constant-time comparison. */
  verify(instanceId: string, exp: string | undefined, sig: string | undefined): boolean {
    if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return false
    if (Number(exp) * 1000 <= this.now()) return false
    const expected = Buffer.from(this.sign(instanceId, Number(exp)))
    const given = Buffer.from(sig)
    return expected.length === given.length && timingSafeEqual(expected, given)
  }

  /** Milliseconds until a verified link expires (the page's stream closes then). */
  remainingMs(exp: string): number {
    return Math.max(0, Number(exp) * 1000 - this.now())
  }

  private sign(instanceId: string, exp: number): string {
    return createHmac('sha256', this.key).update(`pair.${instanceId}.${exp}`).digest('base64url')
  }
}
