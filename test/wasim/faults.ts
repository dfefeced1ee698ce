/**
 * Fault injection. Immediate faults act on the device's live connection; the rest are counters the relay,
 * the login path and the media server consume. Device arguments are any PN or LID JID of the device.
 */
import type { BinaryNode } from '@whiskeysockets/baileys'
import type { Connection } from './connection.js'

/** What faults need from the simulator: the live connection of a device, and a way to end it. */
export interface FaultTarget {
  liveConnection(deviceJid: string): Connection | undefined
  deviceKey(deviceJid: string): string
  kick(connection: Connection, node: BinaryNode): void
}

/** Flips the last 8 bytes of a Signal ciphertext, its MAC: the receiver fails to decrypt it and asks for a retry. */
export function breakMac(ciphertext: Uint8Array): void {
  ciphertext.subarray(-8).forEach((b, i, tail) => (tail[i] = b ^ 0xff))
}

/** stream:error codes with the close code each produces in Baileys (Utils/generics.js:282-300, doc §7). */
export type StreamErrorCode = 515 | 503 | 401 | 440 | 500

export class Faults {
  private readonly failNextLogin = new Map<string, number>()
  private readonly freezeAtLogin = new Set<string>()
  private readonly droppedAcks = new Map<string, number>()
  private readonly ackErrors = new Map<string, { code: number; remaining: number }>()
  private readonly duplicates = new Map<string, number>()
  private readonly corrupt = new Map<string, number>()
  private readonly corruptTo = new Map<string, number>()
  private receiptDrops = 0
  private uploadFailures = 0
  /** Extra delay for every receipt the server forwards, on top of the `receiptDelayMs` option. */
  receiptDelayMs = 0
  /** Bumped by expireQr: refs issued before are refused by scanQr. */
  qrEpoch = 0

  constructor(private readonly target: FaultTarget) {}

  /** Stop answering anything on the device's connection; the client's keep-alive then closes with 408. */
  freeze(deviceJid: string): void {
    this.requireConnection(deviceJid).frozen = true
  }

  unfreeze(deviceJid: string): void {
    const connection = this.target.liveConnection(deviceJid)
    if (connection) connection.frozen = false
  }

  /** 515 restart, 503 unavailable, 401 device_removed, 440 replaced, 500 (unknown child → badSession). */
  streamError(deviceJid: string, code: StreamErrorCode): void {
    this.target.kick(this.requireConnection(deviceJid), streamErrorNode(code))
  }

  /** `<xmlstreamend/>`: the client closes with 428 (socket.js:681). */
  streamEnd(deviceJid: string): void {
    this.target.kick(this.requireConnection(deviceJid), { tag: 'xmlstreamend', attrs: {} })
  }

  /** The device's next login is answered with `<failure reason=…/>` (socket.js:798-801). */
  failureNextLogin(deviceJid: string, reason = 401): void {
    this.failNextLogin.set(this.target.deviceKey(deviceJid), reason)
  }

  /**
   * The device's next login is frozen the moment the server has handed over its offline backlog: the backlog goes
   * out, nothing the client answers reaches the server. Unlike `freeze` after a `login` event, no receipt can slip
   * in first, however late the test gets to run.
   */
  freezeNextLogin(deviceJid: string): void {
    this.freezeAtLogin.add(this.target.deviceKey(deviceJid))
  }

  /** The next `n` message stanzas from the device get no server ack. */
  dropAcks(deviceJid: string, n = 1): void {
    this.droppedAcks.set(this.target.deviceKey(deviceJid), n)
  }

  /** The next `n` message stanzas from the device are refused with `<ack error=code>` and not relayed. */
  ackError(deviceJid: string, code: number, n = 1): void {
    this.ackErrors.set(this.target.deviceKey(deviceJid), { code, remaining: n })
  }

  /** Every forwarded receipt waits `ms` more. */
  delayReceipts(ms: number): void {
    this.receiptDelayMs = ms
  }

  /** The next `n` receipts are swallowed by the server. */
  dropReceipts(n = 1): void {
    this.receiptDrops += n
  }

  /** The next stanza delivered to the device is delivered twice. */
  duplicateNextDelivery(deviceJid: string, n = 1): void {
    this.duplicates.set(this.target.deviceKey(deviceJid), n)
  }

  /** The next message a virtual sender (customer or phone) sends carries corrupted ciphertext. */
  corruptNextFrom(phone: string, n = 1): void {
    this.corrupt.set(phone.replace(/\D/g, ''), n)
  }

  /**
   * The next message stanza delivered to this virtual user (customer or phone) arrives with corrupted ciphertext:
   * the user cannot decrypt it and asks the sender for a retry, as a real phone does.
   */
  corruptNextTo(phone: string, n = 1): void {
    this.corruptTo.set(phone.replace(/\D/g, ''), n)
  }

  /** The next `n` media uploads are answered with HTTP 500. */
  failUploads(n = 1): void {
    this.uploadFailures += n
  }

  /** Refs already handed out stop working: scanQr rejects them. */
  expireQr(): void {
    this.qrEpoch++
  }

  // ---- consumed by the simulator ----------------------------------------------------------------------

  takeLoginFailure(deviceKey: string): number | undefined {
    const reason = this.failNextLogin.get(deviceKey)
    this.failNextLogin.delete(deviceKey)
    return reason
  }

  takeFreezeAtLogin(deviceKey: string): boolean {
    return this.freezeAtLogin.delete(deviceKey)
  }

  takeAckFault(deviceKey: string): { drop: true } | { error: number } | undefined {
    const error = this.ackErrors.get(deviceKey)
    if (error && error.remaining > 0) {
      if (--error.remaining === 0) this.ackErrors.delete(deviceKey)
      return { error: error.code }
    }
    if (take(this.droppedAcks, deviceKey)) return { drop: true }
    return undefined
  }

  takeDuplicate(deviceKey: string): boolean {
    return take(this.duplicates, deviceKey)
  }

  takeCorruption(phone: string): boolean {
    return take(this.corrupt, phone)
  }

  takeCorruptionTo(phone: string): boolean {
    return take(this.corruptTo, phone)
  }

  takeReceiptDrop(): boolean {
    if (this.receiptDrops <= 0) return false
    this.receiptDrops--
    return true
  }

  takeUploadFailure(): boolean {
    if (this.uploadFailures <= 0) return false
    this.uploadFailures--
    return true
  }

  private requireConnection(deviceJid: string): Connection {
    const connection = this.target.liveConnection(deviceJid)
    if (!connection) throw new Error(`device ${deviceJid} is not connected`)
    return connection
  }
}

function take(counters: Map<string, number>, key: string): boolean {
  const n = counters.get(key) ?? 0
  if (n <= 0) return false
  if (n === 1) counters.delete(key)
  else counters.set(key, n - 1)
  return true
}

export function streamErrorNode(code: StreamErrorCode): BinaryNode {
  switch (code) {
    case 401:
      return { tag: 'stream:error', attrs: { code: '401' }, content: [{ tag: 'conflict', attrs: { type: 'device_removed' } }] }
    case 440:
      // No code attr: Baileys maps the <conflict> child to 440 connectionReplaced (generics.js:282-292).
      return { tag: 'stream:error', attrs: {}, content: [{ tag: 'conflict', attrs: { type: 'replaced' } }] }
    case 500:
      // Unknown child and no code → badSession 500.
      return { tag: 'stream:error', attrs: {}, content: [{ tag: 'bad-session', attrs: {} }] }
    default:
      return { tag: 'stream:error', attrs: { code: String(code) } }
  }
}
