/**
 * A user the simulator plays on its own device 0: encrypts messages to every device of the peer (fetching
 * bundles from the server registry, which consumes one-time pre-keys), decrypts what it receives, sends and
 * records receipts, and answers retry receipts. Customers and phones build on it.
 */
import { EventEmitter } from 'node:events'
import { generateMessageIDV2, getBinaryNodeChild, getBinaryNodeChildren, proto, type BinaryNode } from '@whiskeysockets/baileys'
import type { Account, AccountRegistry, Device } from './accounts.js'
import { unixNow, type VirtualActor } from './context.js'
import { breakMac, type Faults } from './faults.js'
import type { OutboundTarget, Relay } from './relay.js'
import { SignalEndpoint, type EncType, type KeyBundle } from './virtual-device.js'
import { consumeOneTimePreKey } from './accounts.js'

export interface ReceivedMessage {
  id: string
  /** The sender's device JID as delivered (PN form for PN-addressed chats). */
  from: string
  /** Decrypted content; a DSM copy is unwrapped to the message the other device sent. */
  message: proto.IMessage
  /** For copies of the own account's messages: the chat they were sent to. */
  recipient?: string
  offline: boolean
  at: number
}

export interface ReceivedReceipt {
  ids: string[]
  from: string
  /** undefined = delivered */
  type?: string
  at: number
}

export type AutoReceipt = 'none' | 'delivered' | 'read'

export interface VirtualUserHost {
  registry: AccountRegistry
  relay: Relay
  faults: Faults
}

export class VirtualUser implements VirtualActor {
  readonly endpoint = new SignalEndpoint()
  readonly device: Device
  readonly received: ReceivedMessage[] = []
  readonly receipts: ReceivedReceipt[] = []
  /** Messages whose decryption failed (e.g. after a corrupt-ciphertext fault towards this user). */
  decryptFailures = 0
  autoReceipt: AutoReceipt = 'delivered'
  private readonly events = new EventEmitter()
  private readonly sentContent = new Map<string, { conversation: string; content: proto.IMessage }>()
  /** Retry receipts sent per message id (a real client gives up after 5, Defaults/index.js maxMsgRetryCount). */
  private readonly retriesAsked = new Map<string, number>()

  constructor(
    protected readonly host: VirtualUserHost,
    readonly account: Account,
    kind: 'phone' | 'customer'
  ) {
    this.device = account.addDevice(kind, this.endpoint.publishKeys())
  }

  get phone(): string {
    return this.account.phone
  }

  get lid(): string {
    return this.account.lid
  }

  get jid(): string {
    return this.account.pnJid
  }

  async sendText(toPhone: string, text: string, opts: { id?: string } = {}): Promise<{ id: string }> {
    return this.sendMessage(toPhone, { conversation: text }, opts)
  }

  /** Encrypts `content` to every device of the peer and (as DSM) to this account's other devices. */
  async sendMessage(toPhone: string, content: proto.IMessage, opts: { id?: string } = {}): Promise<{ id: string }> {
    const peer = this.host.registry.lookupNumber(toPhone)
    if (!peer) throw new Error(`${toPhone} is not on WhatsApp`)
    const id = opts.id ?? generateMessageIDV2(this.jid)
    const conversation = peer.pnJid
    this.sentContent.set(id, { conversation, content })
    const corrupt = this.host.faults.takeCorruption(this.phone)
    const targets: OutboundTarget[] = []
    for (const device of sortedDevices(peer)) {
      targets.push(await this.encryptTo(device, content, corrupt))
    }
    for (const device of sortedDevices(this.account)) {
      if (device === this.device) continue
      targets.push(await this.encryptTo(device, { deviceSentMessage: { destinationJid: conversation, message: content } }, false))
    }
    this.host.relay.route(this.device, messageStanza(id, conversation, content), targets)
    return { id }
  }

  /** Sends `n` texts back to back (a burst); resolves with their ids in order. */
  async sendBurst(toPhone: string, n: number, text: (i: number) => string = i => `burst ${i + 1}/${n}`): Promise<string[]> {
    const ids: string[] = []
    for (let i = 0; i < n; i++) ids.push((await this.sendText(toPhone, text(i))).id)
    return ids
  }

  /** Sends read/played (or, without type, delivered) receipts for messages the peer sent. */
  async sendReceipt(toPhone: string, ids: string[], type?: 'read' | 'played'): Promise<void> {
    const peer = this.host.registry.lookupNumber(toPhone)
    if (!peer) throw new Error(`${toPhone} is not on WhatsApp`)
    this.host.relay.onReceipt(this.device, receiptStanza(peer.pnJid, ids, type))
  }

  waitForMessage(predicate: (m: ReceivedMessage) => boolean = () => true, timeoutMs = 5000): Promise<ReceivedMessage> {
    return this.waitFor('message', this.received, predicate, timeoutMs)
  }

  waitForReceipt(predicate: (r: ReceivedReceipt) => boolean = () => true, timeoutMs = 5000): Promise<ReceivedReceipt> {
    return this.waitFor('receipt', this.receipts, predicate, timeoutMs)
  }

  async receive(node: BinaryNode): Promise<void> {
    if (node.tag === 'message') await this.onMessage(node)
    else if (node.tag === 'receipt') await this.onReceipt(node)
  }

  // ---- receiving -----------------------------------------------------------------------------------

  private async onMessage(node: BinaryNode): Promise<void> {
    const sender = this.host.registry.device(node.attrs.from ?? '')
    if (!sender) return
    for (const enc of getBinaryNodeChildren(node, 'enc')) {
      if (!(enc.content instanceof Uint8Array)) continue
      let decoded: proto.Message
      try {
        decoded = await this.endpoint.decrypt(signalAddress(sender), enc.attrs.type as EncType, enc.content)
      } catch {
        this.decryptFailures++
        this.askForRetry(node, sender)
        continue
      }
      const entry: ReceivedMessage = {
        id: node.attrs.id ?? '',
        from: node.attrs.from ?? '',
        message: decoded.deviceSentMessage?.message ?? decoded,
        recipient: node.attrs.recipient,
        offline: !!node.attrs.offline,
        at: Date.now()
      }
      this.received.push(entry)
      this.events.emit('message', entry)
      this.onReceived(entry, sender, node)
    }
  }

  /** Asks the sender of a message this user received to send it again (a retry receipt, as for a lost copy). */
  requestResend(messageId: string): void {
    const entry = this.received.find((m) => m.id === messageId)
    const sender = entry && this.host.registry.device(entry.from)
    if (!sender) throw new Error(`${this.phone}: no received message ${messageId}`)
    this.askForRetry({ tag: 'message', attrs: { id: messageId, from: entry.from } }, sender)
  }

  /**
   * What a phone does with a message it cannot decrypt: a retry receipt to the sending device, carrying the attempt
   * count and this device's registration id (the shape Baileys sends itself, Socket/messages-recv.js:463-514). The
   * sender then fetches a fresh bundle and sends the message again under the same id (messages-recv.js:1040-1150),
   * which it can only do if it still has the message (its `getMessage`).
   */
  private askForRetry(node: BinaryNode, sender: Device): void {
    const id = node.attrs.id ?? ''
    const count = (this.retriesAsked.get(id) ?? 0) + 1
    if (sender.account === this.account || count > MAX_RETRIES) return
    this.retriesAsked.set(id, count)
    const registration = Buffer.alloc(4)
    registration.writeUInt32BE(this.endpoint.creds.registrationId)
    this.host.relay.onReceipt(this.device, {
      tag: 'receipt',
      attrs: { id, type: 'retry', to: node.attrs.from ?? '', t: unixNow() },
      content: [
        { tag: 'retry', attrs: { count: `${count}`, id, t: node.attrs.t ?? unixNow(), v: '1', error: '0' } },
        { tag: 'registration', attrs: {}, content: registration },
      ],
    })
  }

  /** Hook for subclasses; customers send their automatic receipts here. */
  protected onReceived(entry: ReceivedMessage, sender: Device, node: BinaryNode): void {
    if (sender.account === this.account || node.attrs.category === 'peer' || this.autoReceipt === 'none') return
    this.host.relay.onReceipt(this.device, receiptStanza(node.attrs.from ?? '', [entry.id]))
    if (this.autoReceipt === 'read') this.host.relay.onReceipt(this.device, receiptStanza(node.attrs.from ?? '', [entry.id], 'read'))
  }

  private async onReceipt(node: BinaryNode): Promise<void> {
    const ids = [node.attrs.id ?? '', ...getBinaryNodeChildren(getBinaryNodeChild(node, 'list'), 'item').map(i => i.attrs.id ?? '')]
    if (node.attrs.type === 'retry') {
      await this.resend(node)
      return
    }
    const receipt: ReceivedReceipt = { ids, from: node.attrs.from ?? '', type: node.attrs.type, at: Date.now() }
    this.receipts.push(receipt)
    this.events.emit('receipt', receipt)
  }

  /**
   * A device could not decrypt: start a fresh session from a new bundle and send the message again. The new session
   * only closes the old one (libsignal SessionBuilder.initOutgoing keeps it in the record), as a real client's does:
   * messages the asker already encrypted under the old session still decrypt. Deleting the record here would make
   * every message the asker sends before it processes the resend undecryptable (seen in the soak, scripts/soak.ts).
   */
  private async resend(receipt: BinaryNode): Promise<void> {
    const asker = this.host.registry.device(receipt.attrs.from ?? '')
    const sent = this.sentContent.get(receipt.attrs.id ?? '')
    if (!asker || !sent) return
    const count = getBinaryNodeChild(receipt, 'retry')?.attrs.count ?? '1'
    await this.endpoint.startSession(signalAddress(asker), takeBundle(asker))
    const target = await this.encryptTo(asker, sent.content, false)
    for (const enc of target.content) enc.attrs.count = count
    const stanza = messageStanza(receipt.attrs.id ?? '', sent.conversation, sent.content)
    this.host.relay.route(this.device, stanza, [target])
  }

  // ---- sending -------------------------------------------------------------------------------------

  /** A peer (category="peer") message to one of this account's own devices, e.g. the history bootstrap. */
  protected async sendPeerMessage(device: Device, content: proto.IMessage): Promise<string> {
    const id = generateMessageIDV2(this.jid)
    const target = await this.encryptTo(device, content, false)
    const stanza: BinaryNode = { tag: 'message', attrs: { id, to: this.account.pnJid, type: 'text', category: 'peer', t: unixNow() } }
    this.host.relay.route(this.device, stanza, [target])
    return id
  }

  protected async encryptTo(device: Device, content: proto.IMessage, corrupt: boolean): Promise<OutboundTarget> {
    const address = signalAddress(device)
    if (!(await this.endpoint.hasSession(address))) {
      await this.endpoint.startSession(address, takeBundle(device))
    }
    const { type, ciphertext } = await this.endpoint.encrypt(address, content)
    if (corrupt) breakMac(ciphertext)
    const attrs: Record<string, string> = { v: '2', type }
    const mediaType = mediaTypeOf(content)
    if (mediaType) attrs.mediatype = mediaType
    return { device, content: [{ tag: 'enc', attrs, content: ciphertext }] }
  }

  private waitFor<T>(event: string, seen: T[], predicate: (x: T) => boolean, timeoutMs: number): Promise<T> {
    const existing = seen.find(predicate)
    if (existing) return Promise.resolve(existing)
    return new Promise((resolve, reject) => {
      const onEvent = (x: T) => {
        if (!predicate(x)) return
        clearTimeout(timer)
        this.events.off(event, onEvent)
        resolve(x)
      }
      const timer = setTimeout(() => {
        this.events.off(event, onEvent)
        reject(new Error(`${this.phone}: no ${event} matched within ${timeoutMs} ms`))
      }, timeoutMs)
      this.events.on(event, onEvent)
    })
  }
}

const MAX_RETRIES = 5

/** Virtual endpoints address every peer by its LID device JID, as rc14 clients do (Signal/libsignal.js:329-344). */
export function signalAddress(device: Device): string {
  return device.account.lidDeviceJid(device.id)
}

/** The bundle the server would hand out for the device; consumes one of its one-time pre-keys. */
export function takeBundle(device: Device): KeyBundle {
  const { keys } = device
  return { registrationId: keys.registrationId, identityKey: keys.identityKey, signedPreKey: keys.signedPreKey, preKey: consumeOneTimePreKey(keys) }
}

function sortedDevices(account: Account): Device[] {
  return [...account.devices.values()].sort((a, b) => a.id - b.id)
}

const MEDIA_TYPES: Array<[keyof proto.IMessage, string]> = [
  ['imageMessage', 'image'],
  ['videoMessage', 'video'],
  ['audioMessage', 'audio'],
  ['documentMessage', 'document'],
  ['stickerMessage', 'sticker']
]

function mediaTypeOf(content: proto.IMessage): string | undefined {
  const inner = content.deviceSentMessage?.message ?? content
  return MEDIA_TYPES.find(([key]) => !!inner[key])?.[1]
}

function messageStanza(id: string, conversation: string, content: proto.IMessage): BinaryNode {
  const type = content.reactionMessage ? 'reaction' : mediaTypeOf(content) ? 'media' : 'text'
  return { tag: 'message', attrs: { id, to: conversation, type, t: unixNow() } }
}

function receiptStanza(to: string, ids: string[], type?: string): BinaryNode {
  const attrs: Record<string, string> = { id: ids[0] ?? '', to, t: unixNow() }
  if (type) attrs.type = type
  const rest = ids.slice(1)
  return {
    tag: 'receipt',
    attrs,
    content: rest.length ? [{ tag: 'list', attrs: {}, content: rest.map(id => ({ tag: 'item', attrs: { id } })) }] : undefined
  }
}
