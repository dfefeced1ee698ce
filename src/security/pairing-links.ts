import { SignedLinks } from './signed-links.js'

/**
 * Links to the pairing page: `${publicUrl}/pair/:id?exp&sig`. The signature, not the admin token, authorises the
 * page, its event stream, its pairing-code form and its restart of a stopped pairing, so the admin token never sits
 * in a URL.
 */
export class PairingLinks extends SignedLinks {
  constructor(secret: string, publicUrl: string, ttlSeconds: number, now?: () => number) {
    super({ secret, purpose: 'pairing-links', base: `${publicUrl}/pair`, ttlSeconds, ...(now ? { now } : {}) })
  }
}
