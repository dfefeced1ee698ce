/**
 * Makes Baileys clients in this process trust the simulator's root key. WA_CERT_DETAILS is a plain,
 * writable object read at handshake time (Defaults/index.js:28-32, Utils/noise-handler.js:154), and the
 * package root re-exports the same instance.
 */
import { WA_CERT_DETAILS } from '@whiskeysockets/baileys'

export function trustRootKey(rootPublicKey: Uint8Array): void {
  if (rootPublicKey.length !== 32) throw new Error(`root public key must be 32 bytes, got ${rootPublicKey.length}`)
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootPublicKey)
}
