import { proto, type BaileysEventMap, type BinaryNode, type WAMessageKey, type WASocket } from '@whiskeysockets/baileys'
import type { StatusReport } from '../messages/types.js'

const { Status } = proto.WebMessageInfo

/**
 * Statuses of messages this account sent, from every place Baileys puts them:
 * - the server ack (`<ack class="message">`): Baileys surfaces only acks *with* an error (messages-recv.js:1494-1568,
 *   `handleBadAck`), so a successful ack — our `sent` — is read off the socket's frame events directly;
 * - `messages.update` (receipts: delivered 3, read 4, played 5; ERROR 0 with the ack error in messageStubParameters);
 * - `messages.upsert` type `append` with fromMe and a status: after the first-login flush Baileys' event buffer can
 *   hold the update and deliver the status inside the upsert instead (Utils/event-buffer.js:59-74, doc §4.8).
 * Returns the function that detaches every listener.
 */
export function watchStatuses(socket: WASocket, onReport: (report: StatusReport) => void): () => void {
  const fromBaileys = (key: WAMessageKey, status: number | null | undefined, stub?: string[] | null) => {
    if (!key.fromMe || !key.id || status === null || status === undefined) return
    const report = toReport(key.id, status, stub)
    if (report) onReport(report)
  }
  const onUpdate = (updates: BaileysEventMap['messages.update']) => {
    for (const { key, update } of updates) fromBaileys(key, update.status, update.messageStubParameters)
  }
  const onUpsert = ({ messages, type }: BaileysEventMap['messages.upsert']) => {
    if (type !== 'append') return
    for (const m of messages) fromBaileys(m.key, m.status, m.messageStubParameters)
  }
  const onAck = (node: BinaryNode) => {
    const { id, error } = node.attrs
    if (!id) return
    if (error) onReport({ waMessageId: id, status: 'failed', waErrorCode: Number(error) || 0 })
    else onReport({ waMessageId: id, status: 'sent' })
  }
  socket.ev.on('messages.update', onUpdate)
  socket.ev.on('messages.upsert', onUpsert)
  socket.ws.on('CB:ack,class:message', onAck)
  return () => {
    socket.ev.off('messages.update', onUpdate)
    socket.ev.off('messages.upsert', onUpsert)
    socket.ws.off('CB:ack,class:message', onAck)
  }
}

/** Baileys' numeric status → ours. PENDING (1) is Baileys' own echo of a send (messages-send.js:1135-1138): no news. */
export function toReport(id: string, status: number, stub?: string[] | null): StatusReport | undefined {
  switch (status) {
    case Status.ERROR: {
      const code = Number(stub?.[0])
      return { waMessageId: id, status: 'failed', ...(Number.isFinite(code) && code > 0 ? { waErrorCode: code } : {}) }
    }
    case Status.SERVER_ACK:
      return { waMessageId: id, status: 'sent' }
    case Status.DELIVERY_ACK:
      return { waMessageId: id, status: 'delivered' }
    case Status.READ:
      return { waMessageId: id, status: 'read' }
    case Status.PLAYED:
      return { waMessageId: id, status: 'played' }
    default:
      return undefined
  }
}
