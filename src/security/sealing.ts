import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto'
import { randomChunk } from '../ids.js'

const VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * Encryption at rest (AES-256-GCM) for session credentials and webhook secrets. Each purpose gets its own key,
 * derived from the operator's secret with HKDF, so one leaked derived key opens nothing else.
 * Layout: version (1) ‖ iv (12) ‖ ciphertext ‖ tag (16).
 */
export class Sealer {
  private readonly key: Buffer

  constructor(secret: string, purpose: string) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `plixa-wa-gateway:${purpose}`, 32))
  }

  seal(plaintext: Buffer, associatedData?: string): Buffer {
    // From the pooled CSPRNG (ids.ts): every Signal key write of every session is sealed, and a `randomBytes` call
    // each is a crypto job that every enabled AsyncLocalStorage visits (it showed up per inbound message).
    const iv = Buffer.from(randomChunk(IV_BYTES))
    const cipher = createCipheriv('aes-256-gcm', this.key, iv)
    if (associatedData) cipher.setAAD(Buffer.from(associatedData, 'utf8'))
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return Buffer.concat([Buffer.from([VERSION]), iv, body, cipher.getAuthTag()])
  }

  /** Throws when the data was altered, sealed with another key, or bound to other associated data. */
  open(sealed: Buffer, associatedData?: string): Buffer {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw new Error('sealed data is malformed')
    const iv = sealed.subarray(1, 1 + IV_BYTES)
    const tag = sealed.subarray(sealed.length - TAG_BYTES)
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv)
    if (associatedData) decipher.setAAD(Buffer.from(associatedData, 'utf8'))
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()])
  }

  sealString(plaintext: string, associatedData?: string): string {
    return this.seal(Buffer.from(plaintext, 'utf8'), associatedData).toString('base64')
  }

  openString(sealed: string, associatedData?: string): string {
    return this.open(Buffer.from(sealed, 'base64'), associatedData).toString('utf8')
  }
}
