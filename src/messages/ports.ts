import type { OutboundMessage, StatusReport } from './types.js'

/**
 * What the messaging domain needs from one open WhatsApp socket. src/whatsapp/messenger.ts implements it over
 * Baileys; unit tests use plain fakes.
 */
export interface Messenger {
  /** WhatsApp's contact lookup: the JID of the first candidate WhatsApp knows, or null when none is on WhatsApp. */
  lookup(candidates: readonly string[]): Promise<string | null>
  /** Hands the message to the socket under its pre-generated id; resolves once written (the ack comes later). */
  send(message: OutboundMessage, jid: string, mediaBytes: Buffer | undefined): Promise<void>
  /** Server acks, receipts and refusals of messages sent from this account; returns the unsubscribe function. */
  onStatus(listener: (report: StatusReport) => void): () => void
}

/** The socket closed under a send: not the message's fault, it is sent again on the next open socket. */
export class SocketClosedError extends Error {
  constructor(cause?: unknown) {
    super('The WhatsApp socket closed', { cause })
    this.name = 'SocketClosedError'
  }
}
