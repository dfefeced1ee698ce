/** Events the simulator emits; tests wait on them with `sim.waitFor(name, predicate)`. */
export interface SimEventMap {
  /** A WebSocket finished the Noise handshake (before login/registration is decided). */
  connection: { connectionId: number; registering: boolean }
  /** A registering client was sent its pair-device refs (the QR is about to show). */
  pairing: { connectionId: number; qrRefs: string[] }
  /** A companion was linked (pair-device-sign verified); the 515 restart follows. */
  paired: { deviceJid: string; lidJid: string; phone: string }
  /** A known device logged in and was sent <success>. */
  login: { deviceJid: string; connectionId: number; offlineCount: number }
  /** A login was refused with <failure>. */
  'login-failed': { deviceJid: string; reason: number }
  /** A message stanza was accepted from a device (after the fault checks), `to` is the conversation JID. */
  message: { from: string; to: string; id: string; type: string; recipients: string[] }
  /** A receipt was accepted from a device; `type` as sent (undefined = delivered). */
  receipt: { from: string; to: string; ids: string[]; type?: string }
  /** A client acked or nacked a stanza the server sent (nack = ack with `error`). */
  ack: { from: string; id: string; class: string; error?: string }
  /** A device was removed (logout via remove-companion-device, or phone-side unlink). */
  logout: { deviceJid: string; reason: 'client' | 'phone' }
  /** A connection closed. */
  close: { connectionId: number; deviceJid?: string }
  /** An iq the simulator answered; `xmlns` and first child tag for tests that check what a client asked. */
  iq: { from?: string; xmlns?: string; type?: string; child?: string }
  /** A media upload was stored (or refused by a fault). */
  upload: { path: string; bytes: number; ok: boolean }
}

export type SimEventName = keyof SimEventMap
