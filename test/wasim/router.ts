/**
 * Dispatch of the stanzas a logged-in (or registering) client sends, by tag and xmlns. Replies to iqs the
 * server itself sent (pair-success) are routed back to whoever awaits them.
 */
import type { BinaryNode } from '@whiskeysockets/baileys'
import type { Connection } from './connection.js'
import type { SimContext } from './context.js'
import { answerIq, type IqHooks } from './iq-handlers.js'
import { retryKey, type Relay } from './relay.js'

export interface RouterHost {
  ctx: SimContext
  relay: Relay
  /** Resolves a pending server→client iq; returns false when nobody waits for this id. */
  resolveReply(connection: Connection, reply: BinaryNode): boolean
  hooksFor(connection: Connection): IqHooks
}

export function routeNode(host: RouterHost, connection: Connection, node: BinaryNode): void {
  const device = connection.device
  switch (node.tag) {
    case 'iq':
      if (node.attrs.type === 'result' || node.attrs.type === 'error') {
        host.resolveReply(connection, node)
        return
      }
      connection.send(answerIq(host.ctx, host.hooksFor(connection), device, node))
      return
    case 'message':
      if (device) host.relay.onClientMessage(connection, device, node)
      return
    case 'receipt':
      if (device) host.relay.onReceipt(device, node)
      return
    case 'ack':
      // Clients ack every message/receipt/notification; a nack carries `error` (messages-recv.js:1370-1389).
      if (device && node.attrs.id) {
        if (node.attrs.class === 'message') host.relay.settle(device, [node.attrs.id])
        if (node.attrs.class === 'receipt' && node.attrs.type === 'retry') host.relay.settle(device, [retryKey(node.attrs.id)])
      }
      host.ctx.emit('ack', {
        from: device ? device.account.pnDeviceJid(device.id) : '',
        id: node.attrs.id ?? '',
        class: node.attrs.class ?? '',
        error: node.attrs.error
      })
      return
    default:
      // presence, chatstate, ib (unified_session), call: nothing a 1:1 simulator must answer.
      return
  }
}
