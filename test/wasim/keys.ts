/**
 * Curve25519 key pairs for the simulator's own long-lived identities (root, intermediate, server static,
 * the phones' account keys). Deterministic when derived from a seed, so a restarted simulator and a daemon
 * child process agree on the root key.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { Curve } from '@whiskeysockets/baileys'

export interface KeyPair {
  /** 32 bytes */
  private: Buffer
  /** 32 bytes, without the 0x05 Signal type prefix (the form WA_CERT_DETAILS.PUBLIC_KEY and Curve use) */
  public: Buffer
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

/** A key pair whose private scalar is SHA-256(seed ‖ label); node clamps it the same way curve25519 does. */
export function deriveKeyPair(seed: string, label: string): KeyPair {
  const priv = createHash('sha256').update(`${seed}\0${label}`).digest()
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, priv]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return { private: priv, public: Buffer.from(spki.subarray(spki.length - 32)) }
}

export function randomKeyPair(): KeyPair {
  const pair = Curve.generateKeyPair()
  return { private: Buffer.from(pair.private), public: Buffer.from(pair.public) }
}

export function randomSeed(): string {
  return randomBytes(16).toString('hex')
}

// libsignal is Baileys' own dependency (not the project's); its verifySignature returns the real boolean,
// unlike Baileys' Curve.verify which only catches throws (Utils/crypto.js:23-31, libsignal src/curve.js:130-142).
const requireFromBaileys = createRequire(createRequire(import.meta.url).resolve('@whiskeysockets/baileys'))
const libsignalCurve = requireFromBaileys('libsignal/src/curve.js') as {
  verifySignature(pub: Buffer, msg: Buffer, sig: Buffer, isInit?: boolean): boolean
}

/** Signature check that really checks (XEdDSA). Use it wherever the simulator must reject a bad signature. */
export function strictVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const pub = publicKey.length === 33 ? Buffer.from(publicKey) : Buffer.concat([Buffer.from([5]), publicKey])
    return libsignalCurve.verifySignature(pub, Buffer.from(message), Buffer.from(signature)) === true
  } catch {
    return false
  }
}

export function sign(privateKey: Buffer, message: Uint8Array): Buffer {
  return Buffer.from(Curve.sign(privateKey, Buffer.from(message)))
}
