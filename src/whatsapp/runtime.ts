/**
 * Everything of the daemon that needs Baileys, as the rest of the daemon uses it. Nothing outside src/whatsapp/
 * imports these modules directly: they arrive through WhatsAppLoader (loader.ts), because importing Baileys costs
 * ≈ 0.4 s of a cold start (bench/startup.ts), which a daemon with no instance yet need not wait for.
 */
export { SessionStore } from './auth-store.js'
export { WaConnection } from './connection.js'
export { ensureStrictCurveVerify } from './curve-verify.js'
export { attachInbound } from './inbound-listener.js'
export { downloadInboundMedia } from './media-download.js'
export { BaileysMessenger } from './messenger.js'
