import { createHash, randomBytes } from 'node:crypto'

/** A random secret with a readable prefix, e.g. `wgi_…` for instance tokens, `wga_…` for the admin token. */
export function generateToken(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`
}

/**
 * Tokens are high-entropy random strings, so a fast unsalted hash is enough to make a stolen database useless
 * for authentication (no dictionary to try); a slow KDF would only cost CPU on every request.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}
