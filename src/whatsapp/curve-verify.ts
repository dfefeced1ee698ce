import { Curve } from '@whiskeysockets/baileys'
// The WASM build of curve25519 that Baileys already ships: strict (false for a bad signature) and ~50× faster than
// libsignal's pure-JS verify, which cost ~10 ms per certificate check on every (re)connect (bench/README.md).
import { verifySignature } from 'whatsapp-rust-bridge'

/**
 * Baileys rc14's `Curve.verify` (Utils/crypto.js:23-31) returns true unless libsignal *throws*, but libsignal
 * 6.0.0's `verifySignature` (src/curve.js:130-142) *returns* false for a bad signature. So every signature
 * passes: the Noise server-certificate check (Utils/noise-handler.js:153-154) and the ADV account-signature
 * check when pairing (Utils/validate-connection.js:157) are switched off.
 *
 * This probes the installed tree with a forged signature and, only if it is accepted, replaces `verify` on the
 * exported `Curve` object, which Baileys reads at call time, then checks the replacement refuses the forgery and
 * accepts a genuine signature. Answers whether a fix was installed.
 */
export function ensureStrictCurveVerify(): { patched: boolean } {
  if (!acceptsForgedSignature()) return { patched: false }
  Curve.verify = (pubKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
    try {
      return verifySignature(withKeyTypePrefix(pubKey), message, signature) === true
    } catch {
      return false
    }
  }
  if (acceptsForgedSignature() || !acceptsGenuineSignature()) throw new Error('could not install a strict Curve.verify')
  return { patched: true }
}

export function acceptsForgedSignature(): boolean {
  const real = Curve.generateKeyPair()
  const other = Curve.generateKeyPair()
  const message = Buffer.from('plixa-wa-gateway signature self-test')
  const forged = Curve.sign(other.private, message)
  return Curve.verify(real.public, message, forged)
}

function acceptsGenuineSignature(): boolean {
  const keys = Curve.generateKeyPair()
  const message = Buffer.from('plixa-wa-gateway signature self-test')
  return Curve.verify(keys.public, message, Curve.sign(keys.private, message))
}

function withKeyTypePrefix(pubKey: Uint8Array): Uint8Array {
  return pubKey.length === 33 ? pubKey : Buffer.concat([Buffer.from([5]), pubKey])
}
