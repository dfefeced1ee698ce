import { SignedLinks } from '../security/signed-links.js'

/** Expiring download links for inbound media: `${publicUrl}/media/:id?exp&sig`; they survive restarts. */
export class MediaLinks extends SignedLinks {
  constructor(secret: string, publicUrl: string, ttlSeconds: number, now?: () => number) {
    super({ secret, purpose: 'media-links', base: `${publicUrl}/media`, ttlSeconds, ...(now ? { now } : {}) })
  }
}
