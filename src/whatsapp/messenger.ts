import { SocketClosedError, type Messenger } from '../messages/ports.js'
import type { OutboundMessage, StatusReport } from '../messages/types.js'
import type { WaConnection } from './connection.js'
import { send } from './outbound.js'
import { lookupOnWhatsApp } from './recipients.js'
import { watchStatuses } from './status-feed.js'

/** The messaging domain's view of one open socket. */
export class BaileysMessenger implements Messenger {
  private closed = false

  constructor(private readonly connection: WaConnection) {
    connection.once('close', () => (this.closed = true))
  }

  lookup(candidates: readonly string[]): Promise<string | null> {
    if (this.closed) return Promise.reject(new SocketClosedError())
    return lookupOnWhatsApp(this.connection.socket, candidates)
  }

  async send(message: OutboundMessage, jid: string, bytes: Buffer | undefined): Promise<void> {
    if (this.closed) throw new SocketClosedError()
    try {
      await send(this.connection, jid, message, bytes)
    } catch (err) {
      // Baileys throws Boom 428 "Connection Closed" when the socket is gone (Socket/socket.js sendRawMessage).
      if (this.closed || (err as { output?: { statusCode?: number } }).output?.statusCode === 428) throw new SocketClosedError(err)
      throw err
    }
  }

  onStatus(listener: (report: StatusReport) => void): () => void {
    return watchStatuses(this.connection.socket, listener)
  }
}
