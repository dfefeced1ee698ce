/**
 * WhatsApp Web frames: a 3-byte big-endian length then the payload (Utils/noise-handler.js:109-118, 168-184).
 * The client's first WebSocket message is prefixed by the intro "WA" 6 3 (Defaults/index.js:25); the server
 * never sends one. WebSocket message boundaries carry no meaning, so both directions are buffered.
 */
import { NOISE_WA_HEADER } from '@whiskeysockets/baileys'

const MAX_FRAME = (1 << 24) - 1

export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0)
  private introPending = true

  /** Appends received bytes and returns every complete frame payload. */
  push(data: Buffer): Buffer[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, data]) : data
    if (this.introPending) {
      if (this.buffered.length < NOISE_WA_HEADER.length) return []
      const intro = this.buffered.subarray(0, NOISE_WA_HEADER.length)
      // "ED" routing intros only follow an <edge_routing> the simulator never sends (socket.js:813-820).
      if (!intro.equals(NOISE_WA_HEADER)) throw new Error(`unexpected intro ${intro.toString('hex')}`)
      this.buffered = this.buffered.subarray(NOISE_WA_HEADER.length)
      this.introPending = false
    }
    const frames: Buffer[] = []
    while (this.buffered.length >= 3) {
      const size = this.buffered.readUIntBE(0, 3)
      if (this.buffered.length < size + 3) break
      frames.push(this.buffered.subarray(3, size + 3))
      this.buffered = this.buffered.subarray(size + 3)
    }
    return frames
  }
}

export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length > MAX_FRAME) throw new Error(`frame too large: ${payload.length}`)
  const frame = Buffer.allocUnsafe(payload.length + 3)
  frame.writeUIntBE(payload.length, 0, 3)
  frame.set(payload, 3)
  return frame
}
