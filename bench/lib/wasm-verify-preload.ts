/**
 * Experiment only (restore.ts with BENCH_RESTORE_WASM_VERIFY=1): before the daemon boots, replace Baileys'
 * `Curve.verify` with whatsapp-rust-bridge's WASM `verifySignature` (a Baileys dependency already), which is strict
 * (returns false for a forged signature) and ~50× faster than libsignal's pure-JS curve25519 verify. The daemon's
 * ensureStrictCurveVerify then finds a strict verify and leaves it. Measures what the proposed change to
 * src/whatsapp/curve-verify.ts would buy; nothing in a normal bench run loads this.
 */
import { Curve } from '@whiskeysockets/baileys'
import { verifySignature } from 'whatsapp-rust-bridge'

const withPrefix = (key: Uint8Array) => (key.length === 33 ? key : Buffer.concat([Buffer.from([5]), key]))
Curve.verify = (pubKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
  try {
    return verifySignature(withPrefix(pubKey), message, signature) === true
  } catch {
    return false
  }
}
