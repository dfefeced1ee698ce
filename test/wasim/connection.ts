/**
 * One client WebSocket: Noise handshake, then a stream of binary nodes in both directions.
 * Inbound nodes are decoded strictly in order (decodeBinaryNode is async because of zlib).
 */
import { EventEmitter } from 'node:events'
import { decodeBinaryNode, encodeBinaryNode, type BinaryNode } from '@whiskeysockets/baileys'
import type { WebSocket, RawData } from 'ws'
import { encodeFrame, FrameReader } from './framing.js'
import { NoiseResponder, type ClientFinish } from './noise.js'
import type { CertAuthority } from './certs.js'
import type { Device } from './accounts.js'

/** `ending`: the server said its last word (a stream error, a failure); it sends and handles nothing more. */
export type ConnectionState = 'handshake' | 'open' | 'ending' | 'closed'

export interface ConnectionEvents {
  handshake: [ClientFinish]
  node: [BinaryNode]
  close: []
}

let nextConnectionId = 1

export class Connection extends EventEmitter<ConnectionEvents> {
  readonly id = nextConnectionId++
  state: ConnectionState = 'handshake'
  /** Set once the handshake identified a registering client (QR/pairing code) or a logged-in device. */
  device?: Device
  clientFinish?: ClientFinish
  /** While frozen nothing is sent and inbound nodes are dropped, so the client's keep-alive times out (408). */
  frozen = false
  private readonly reader = new FrameReader()
  private readonly noise: NoiseResponder
  private sawHello = false
  private inbound: Promise<void> = Promise.resolve()

  constructor(
    private readonly socket: WebSocket,
    authority: CertAuthority
  ) {
    super()
    this.noise = new NoiseResponder(authority.serverStatic, authority.chain)
    socket.on('message', data => this.onData(toBuffer(data)))
    socket.on('close', () => this.markClosed())
    socket.on('error', () => this.markClosed())
  }

  get isOpen(): boolean {
    return this.state === 'open'
  }

  send(node: BinaryNode): void {
    if (this.state !== 'open' || this.frozen) return
    const plaintext = encodeBinaryNode(node)
    this.socket.send(encodeFrame(this.noise.cipher.encrypt(plaintext)))
  }

  /**
   * Ends the stream from the server's side: `last` is the final node sent, after which nothing the client sends is
   * handled (an XMPP stream error ends the stream), so a receipt racing the 440 is not heard, as on the real server.
   * The socket closes after `closeAfterMs` unless the client closes it first, as Baileys does on a stream error.
   */
  end(last: BinaryNode, closeAfterMs: number): void {
    this.send(last)
    if (this.state === 'open') this.state = 'ending'
    setTimeout(() => this.close(), closeAfterMs).unref()
  }

  close(): void {
    if (this.state === 'closed') return
    this.socket.close()
    this.markClosed()
  }

  private onData(data: Buffer): void {
    let frames: Buffer[]
    try {
      frames = this.reader.push(data)
    } catch {
      this.close()
      return
    }
    for (const frame of frames) this.onFrame(frame)
  }

  private onFrame(frame: Buffer): void {
    if (this.state === 'closed') return
    if (!this.sawHello) {
      this.sawHello = true
      this.guard(() => this.socket.send(encodeFrame(this.noise.respondToHello(frame))))
      return
    }
    if (!this.clientFinish) {
      this.guard(() => {
        this.clientFinish = this.noise.readFinish(frame)
        this.state = 'open'
        this.emit('handshake', this.clientFinish)
      })
      return
    }
    // Decrypt synchronously (the counter must advance in arrival order), decode in order.
    let plaintext: Buffer
    try {
      plaintext = this.noise.cipher.decrypt(frame)
    } catch {
      this.close()
      return
    }
    this.inbound = this.inbound
      .then(() => decodeBinaryNode(plaintext))
      .then(node => {
        if (!this.frozen && this.state === 'open') this.emit('node', node)
      })
      .catch(() => this.close())
  }

  private guard(step: () => void): void {
    try {
      step()
    } catch {
      this.close()
    }
  }

  private markClosed(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.emit('close')
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}
