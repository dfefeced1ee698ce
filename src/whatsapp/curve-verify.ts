import { Curve } from '@whiskeysockets/baileys'
// libsignal is Baileys' own dependency; only its verifySignature is used here.
import * as libsignalCurve from 'libsignal/src/curve.js'

const verifySignature = (libsignalCurve as { verifySignature: (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean })
  .verifySignature

/**
 * Baileys rc14's `Curve.verify` (Utils/crypto.js:23-31) returns true unless libsignal *throws*, but libsignal
 * 6.0.0's `verifySignature` (src/curve.js:130-142) *returns* false for a bad signature. So every signature
 * passes: the Noise server-certificate check (Utils/noise-handler.js:153-154) and the ADV account-signature
 * check when pairing (Utils/validate-connection.js:157) are switched off.
 *
 * This probes the installed tree with a forged signature and, only if it is accepted, replaces `verify` on the
 * exported `Curve` object, which Baileys reads at call time. Answers whether a fix was installed.
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
  if (acceptsForgedSignature()) throw new Error('could not install a strict Curve.verify')
  return { patched: true }
}

export function acceptsForgedSignature(): boolean {
  const real = Curve.generateKeyPair()
  const other = Curve.generateKeyPair()
  const message = Buffer.from('plixa-wa-gateway signature self-test')
  const forged = Curve.sign(other.private, message)
  return Curve.verify(real.public, message, forged)
}

function withKeyTypePrefix(pubKey: Uint8Array): Uint8Array {
  return pubKey.length === 33 ? pubKey : Buffer.concat([Buffer.from([5]), pubKey])
}
