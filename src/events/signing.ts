import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'
import { BoundedCache } from '../bounded-cache.js'

/** A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. Shown once, stored sealed. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

/**
 * The key Standard Webhooks signs with: the base64 part after `whsec_` (standard-webhooks spec). A secret that
 * is not in that form (a tenant's core secret is whatever Plixa core chose) is used as its UTF-8 bytes.
 */
function standardWebhooksKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8')
}

/**
 * Each secret's two HMAC keys, imported once: every delivery is signed, and importing a key per signature (and
 * decoding the `whsec_` base64 each time) cost about a third of the signing. Bounded: rotated-out secrets age out.
 */
const keyCache = new BoundedCache(10_000)

function signingKeys(secret: string): SigningKeys {
  let keys = keyCache.get<SigningKeys>(secret)
  if (!keys) {
    keys = { plixa: createSecretKey(Buffer.from(secret, 'utf8')), standard: createSecretKey(standardWebhooksKey(secret)) }
    keyCache.set(secret, keys)
  }
  return keys
}

interface SigningKeys {
  plixa: KeyObject
  standard: KeyObject
}

/** What one attempt sends besides the body. */
export interface SignatureHeaders {
  'x-plixa-signature': string
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

/**
 * Signs a body twice with each active secret (newest first; two while a rotated-out secret is in its grace period):
 *  - `X-Plixa-Signature: sha256=<hex HMAC-SHA256(secret as UTF-8, body)>` — what Plixa's receivers check
 *    (`hash_hmac('sha256', $raw, $secret)`);
 *  - Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`.
 * Several signatures are space-separated in both headers, as Standard Webhooks specifies.
 */
export function signDelivery(body: Buffer, eventId: string, timestampSeconds: number, secrets: readonly string[]): SignatureHeaders {
  const ts = String(timestampSeconds)
  const plixa: string[] = []
  const standard: string[] = []
  for (const secret of secrets) {
    const keys = signingKeys(secret)
    plixa.push(`sha256=${createHmac('sha256', keys.plixa).update(body).digest('hex')}`)
    standard.push(`v1,${createHmac('sha256', keys.standard).update(`${eventId}.${ts}.`).update(body).digest('base64')}`)
  }
  return {
    'x-plixa-signature': plixa.join(' '),
    'webhook-id': eventId,
    'webhook-timestamp': ts,
    'webhook-signature': standard.join(' '),
  }
}
