/**
 * Message and receipt routing between devices (doc §4.4-4.7, §5): server acks, per-device fan-out of <enc>
 * nodes, the sender's own devices getting `recipient`, the offline queue, and receipt translation.
 */
import { getBinaryNodeChild, getBinaryNodeChildren, type BinaryNode } from '@whiskeysockets/baileys'
import type { Account, Device } from './accounts.js'
import type { Connection } from './connection.js'
import { breakMac } from './faults.js'
import { unixNow, type SimContext } from './context.js'

/** Receipt types the server consumes itself instead of forwarding (doc §4.7). */
const SWALLOWED_RECEIPTS = new Set(['read-self', 'peer_msg', 'hist_sync', 'sender', 'server-error'])

export interface OutboundTarget {
  device: Device
  /** Content of the delivered stanza: usually one <enc>, maybe plus <device-identity>. */
  content: BinaryNode[]
}

export class Relay {
  /** Ids of message stanzas each device sent, in order (for exactly-once assertions). */
  private readonly sentIds = new Map<Device, string[]>()
  /**
   * Message stanzas (and retry receipts) handed to a real client that it has not answered yet (no receipt, no ack).
   * Like the real server, the simulator keeps them: when the connection ends they go back to the front of the offline
   * queue and are delivered again (offline="1") at the next login — a client that crashed before its receipt loses
   * nothing, and a retry request whose resend died with the socket is asked again.
   * Kept per connection, so a connection the server ended itself (kick: stream:error, 440 …) gives its stanzas back
   * too, even when the device already logged in again on a newer connection.
   */
  private readonly unanswered = new Map<Connection, Map<string, BinaryNode>>()

  constructor(private readonly ctx: SimContext) {}

  messagesSentBy(device: Device): string[] {
    return [...(this.sentIds.get(device) ?? [])]
  }

  // ---- messages ------------------------------------------------------------------------------------

  /** A <message> stanza from a real client. */
  onClientMessage(connection: Connection, sender: Device, stanza: BinaryNode): void {
    const { id, to } = stanza.attrs
    if (!id || !to) return
    const fault = this.ctx.faults.takeAckFault(deviceKey(sender))
    if (fault && 'error' in fault) {
      connection.send(messageAck(stanza, fault.error))
      return
    }
    const targets = this.targetsOf(sender, stanza)
    this.route(sender, stanza, targets)
    if (!fault) connection.send(messageAck(stanza))
  }

  /**
   * Delivers one logical message to each target device. `stanza.attrs.to` is the conversation (the peer);
   * its addressing (PN or LID) decides the `from` form the recipients see.
   */
  route(sender: Device, stanza: BinaryNode, targets: OutboundTarget[]): void {
    const { id = '', to = '', type = 'text' } = stanza.attrs
    const list = this.sentIds.get(sender) ?? []
    list.push(id)
    this.sentIds.set(sender, list)
    for (const target of targets) {
      this.deliver(target.device, deliveryStanza(sender, target, stanza))
    }
    this.ctx.emit('message', {
      from: sender.account.pnDeviceJid(sender.id),
      to,
      id,
      type,
      recipients: targets.map(t => t.device.account.pnDeviceJid(t.device.id))
    })
  }

  /** Hands a stanza to a device: its socket, its virtual actor, or its offline queue. */
  deliver(device: Device, node: BinaryNode): void {
    const actor = this.ctx.actorOf(device)
    if (actor) {
      const corrupt = node.tag === 'message' && this.ctx.faults.takeCorruptionTo(device.account.phone)
      actor.receive(corrupt ? withBrokenMac(node) : node).catch(() => undefined)
      return
    }
    const connection = this.ctx.connectionOf(device)
    if (!connection?.isOpen) {
      device.offlineQueue.push(node)
      return
    }
    this.sendKept(connection, node)
    if (this.ctx.faults.takeDuplicate(deviceKey(device))) connection.send(node)
  }

  /** Sends a stanza the device must answer, and keeps it until it does (see `unanswered`). */
  private sendKept(connection: Connection, node: BinaryNode): void {
    connection.send(node)
    const key = node.tag === 'message' ? node.attrs.id : node.tag === 'receipt' && node.attrs.type === 'retry' && node.attrs.id ? retryKey(node.attrs.id) : undefined
    if (key) {
      const pending = this.unanswered.get(connection) ?? new Map<string, BinaryNode>()
      pending.set(key, node)
      this.unanswered.set(connection, pending)
    }
  }

  /** The device answered these message ids (receipt of any type, or an ack/nack): the server may forget them. */
  settle(device: Device, ids: readonly string[]): void {
    for (const [connection, pending] of this.unanswered) {
      if (connection.device !== device) continue
      for (const id of ids) pending.delete(id)
    }
  }

  /**
   * A connection ended: what its device never answered on it is queued again, oldest first, ahead of newer stanzas;
   * if the device is already logged in again on another connection, it is delivered there at once.
   */
  requeueUnanswered(connection: Connection): number {
    const pending = this.unanswered.get(connection)
    this.unanswered.delete(connection)
    const device = connection.device
    if (!device || !pending || pending.size === 0) return 0
    const nodes = [...pending.values()].map((n) => ({ ...n, attrs: Object.fromEntries(Object.entries(n.attrs).filter(([k]) => k !== 'offline')) }))
    const live = this.ctx.connectionOf(device)
    if (live && live !== connection && live.isOpen) for (const node of nodes) this.deliver(device, node)
    else device.offlineQueue.unshift(...nodes)
    return nodes.length
  }

  /**
   * Sends everything queued while the device was away, then `<ib><offline count>` (socket.js:832-841). Kept until
   * answered like any delivery: a connection that ends mid-backlog gets it again at the next login.
   */
  flushOffline(device: Device, connection: Connection): number {
    const queued = device.offlineQueue.splice(0)
    for (const node of queued) this.sendKept(connection, { ...node, attrs: { ...node.attrs, offline: '1' } })
    connection.send({ tag: 'ib', attrs: { from: 's.whatsapp.net' }, content: [{ tag: 'offline', attrs: { count: `${queued.length}` } }] })
    return queued.length
  }

  private targetsOf(sender: Device, stanza: BinaryNode): OutboundTarget[] {
    const extras = getBinaryNodeChildren(stanza, 'device-identity')
    const participants = getBinaryNodeChild(stanza, 'participants')
    if (participants) {
      return getBinaryNodeChildren(participants, 'to').flatMap(to => {
        const device = this.ctx.registry.device(to.attrs.jid ?? '')
        const enc = getBinaryNodeChild(to, 'enc')
        return device && enc && device !== sender ? [{ device, content: [enc, ...extras] }] : []
      })
    }
    // Peer messages and retry resends carry one <enc> addressed by `to` itself (messages-send.js:748-775).
    const device = this.ctx.registry.device(stanza.attrs.to ?? '')
    const encs = getBinaryNodeChildren(stanza, 'enc')
    return device && encs.length && device !== sender ? [{ device, content: [...encs, ...extras] }] : []
  }

  // ---- receipts ------------------------------------------------------------------------------------

  /**
   * A receipt from any device. Delivered/read/played go to every device of the original sender;
   * `inactive` becomes a plain delivery (Baileys maps it to no status, generics.js:265-282); retry receipts
   * go to the one device named in `to`; self/peer bookkeeping receipts stop here.
   */
  onReceipt(from: Device, receipt: BinaryNode): void {
    const { to = '', type } = receipt.attrs
    const ids = receiptIds(receipt)
    this.ctx.emit('receipt', { from: from.account.pnDeviceJid(from.id), to, ids, type })
    this.settle(from, ids)
    if (type && SWALLOWED_RECEIPTS.has(type)) return
    if (type === 'retry') {
      const target = this.ctx.registry.device(to)
      if (target) this.deliver(target, retryStanza(from, receipt))
      return
    }
    const owner = this.ctx.registry.resolve(to)?.account
    if (!owner || this.ctx.faults.takeReceiptDrop()) return
    const forwarded = forwardedReceipt(from.account, receipt, type === 'inactive' ? undefined : type)
    const delay = this.ctx.receiptDelayMs + this.ctx.faults.receiptDelayMs
    const send = () => {
      for (const device of owner.devices.values()) this.deliver(device, forwarded)
    }
    if (delay > 0) setTimeout(send, delay).unref()
    else send()
  }
}

/** Retry receipts are tracked beside message ids under their own key: they carry the id of the message they ask for. */
export function retryKey(messageId: string): string {
  return `retry:${messageId}`
}

export function deviceKey(device: Device): string {
  return `${device.account.phone}:${device.id}`
}

function messageAck(stanza: BinaryNode, error?: number): BinaryNode {
  const attrs: Record<string, string> = { class: 'message', id: stanza.attrs.id ?? '', from: stanza.attrs.to ?? '', t: unixNow() }
  if (stanza.attrs.type) attrs.type = stanza.attrs.type
  if (error !== undefined) attrs.error = `${error}`
  return { tag: 'ack', attrs }
}

/**
 * What the recipient device sees (doc §4.6): `from` is the sender's device JID in the conversation's
 * addressing (it is the Signal address), the other form rides along as sender_lid / sender_pn.
 */
function deliveryStanza(sender: Device, target: OutboundTarget, original: BinaryNode): BinaryNode {
  const conversation = original.attrs.to ?? ''
  const lidAddressed = conversation.endsWith('@lid')
  const senderAccount = sender.account
  const attrs: Record<string, string> = {
    id: original.attrs.id ?? '',
    type: original.attrs.type ?? 'text',
    t: original.attrs.t ?? unixNow(),
    notify: senderAccount.pushName
  }
  if (lidAddressed) {
    attrs.from = senderAccount.lidDeviceJid(sender.id)
    attrs.sender_pn = senderAccount.pnDeviceJid(sender.id)
    attrs.addressing_mode = 'lid'
  } else {
    attrs.from = senderAccount.pnDeviceJid(sender.id)
    attrs.sender_lid = senderAccount.lidDeviceJid(sender.id)
  }
  if (original.attrs.category) attrs.category = original.attrs.category
  if (original.attrs.edit) attrs.edit = original.attrs.edit
  // Copies to the sender's own devices name the peer (decode-wa-message.js:117-127); peer messages do not.
  if (target.device.account === senderAccount && original.attrs.category !== 'peer' && conversation) {
    const peer = conversation.replace(/:\d+@/, '@')
    if (!isSameUser(peer, senderAccount)) attrs.recipient = peer
  }
  return { tag: 'message', attrs, content: target.content }
}

function isSameUser(jid: string, account: Account): boolean {
  const user = jid.split('@')[0]
  return user === account.phone || user === account.lid
}

function receiptIds(receipt: BinaryNode): string[] {
  const ids = receipt.attrs.id ? [receipt.attrs.id] : []
  const list = getBinaryNodeChild(receipt, 'list')
  for (const item of getBinaryNodeChildren(list, 'item')) if (item.attrs.id) ids.push(item.attrs.id)
  return ids
}

function forwardedReceipt(reader: Account, receipt: BinaryNode, type: string | undefined): BinaryNode {
  const lidAddressed = (receipt.attrs.to ?? '').endsWith('@lid')
  const attrs: Record<string, string> = {
    from: lidAddressed ? reader.lidJid : reader.pnJid,
    id: receipt.attrs.id ?? '',
    t: receipt.attrs.t ?? unixNow()
  }
  if (type) attrs.type = type
  const list = getBinaryNodeChild(receipt, 'list')
  return { tag: 'receipt', attrs, content: list ? [list] : undefined }
}

/** A copy of a message stanza whose ciphertexts fail their MAC check. */
function withBrokenMac(node: BinaryNode): BinaryNode {
  if (!Array.isArray(node.content)) return node
  const content = node.content.map((child) => {
    if (child.tag !== 'enc' || !(child.content instanceof Uint8Array)) return child
    const bytes = Buffer.from(child.content)
    breakMac(bytes)
    return { ...child, content: bytes }
  })
  return { ...node, content }
}

/** Retry receipts name the asking device in `from` (messages-recv.js:1196-1199 uses it as participant). */
function retryStanza(from: Device, receipt: BinaryNode): BinaryNode {
  const lidAddressed = (receipt.attrs.to ?? '').endsWith('@lid')
  const attrs: Record<string, string> = {
    from: lidAddressed ? from.account.lidDeviceJid(from.id) : from.account.pnDeviceJid(from.id),
    id: receipt.attrs.id ?? '',
    type: 'retry',
    t: receipt.attrs.t ?? unixNow()
  }
  return { tag: 'receipt', attrs, content: receipt.content }
}
