/**
 * WaSimulator: the composition root and public API. A WebSocket endpoint speaking the WhatsApp Web protocol
 * to unmodified Baileys, accounts with phones and customers it plays itself, an HTTPS media host, fault
 * injection, and events tests wait on.
 */
import { EventEmitter } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { BinaryNode } from '@whiskeysockets/baileys'
import { WebSocketServer } from 'ws'
import { AccountRegistry, normalizePhone, type Device, type PreKeyRegistry } from './accounts.js'
import { createCertAuthority, type CertAuthority } from './certs.js'
import { Connection } from './connection.js'
import { nextServerId, unixNow, type SimContext, type VirtualActor } from './context.js'
import { Customer } from './customer.js'
import type { SimEventMap, SimEventName } from './events.js'
import { Faults, streamErrorNode, type FaultTarget } from './faults.js'
import type { IqHooks } from './iq-handlers.js'
import { randomSeed } from './keys.js'
import { MEDIA_CA_PATH, MediaServer } from './media-server.js'
import type { ClientFinish } from './noise.js'
import {
  finishCodeExchange,
  issueDeviceIdentity,
  keysFromPairingData,
  newPairingRef,
  pairDeviceIq,
  pairSuccessIq,
  parseCompanionHello,
  parseQr,
  startCodeExchange,
  verifyPairDeviceSign,
  type CompanionHello,
  type PrimaryCodeExchange
} from './pairing.js'
import { Phone, type PhoneHost } from './phone.js'
import { Relay } from './relay.js'
import { routeNode, type RouterHost } from './router.js'
import { trustRootKey } from './trust.js'

export interface WaSimulatorOptions {
  /** WebSocket port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number
  /** pair-device refs per registration (each shown for the client's qrTimeout); default 6. */
  qrRefs?: number
  /** Derives the root/intermediate/server keys; the same seed gives the same root key. Random when absent. */
  rootKeySeed?: string
  /** Start the HTTPS media host (default true). */
  media?: boolean
  /** Delay every forwarded receipt by this much (see doc §4.8 on Baileys' event buffer). Default 0. */
  receiptDelayMs?: number
  /** Grace period before the server closes a socket it sent a stream:error/failure to. Default 1000 ms. */
  kickCloseMs?: number
  /**
   * Benchmarks only: the `encrypt` count iq answers at least this many one-time pre-keys (default 0 = the real
   * count). A freshly paired Baileys client then skips generating and uploading its 812 pre-keys
   * (Socket/socket.js:409-433), which is most of a pairing's CPU. Real WhatsApp reports what the device holds on
   * the server; with this set, the phone's history bootstrap (which waits for uploaded keys) is not sent either.
   */
  preKeyCountFloor?: number
}

/** A registering client between its handshake and its pair-success. */
interface Registration {
  refs: string[]
  qrEpoch: number
  keys: PreKeyRegistry
  noiseKey: Buffer
  codeRequest?: CompanionHello
  codeExchange?: { exchange: PrimaryCodeExchange; finished: (iq: BinaryNode) => void }
}

interface PendingReply {
  resolve(node: BinaryNode): void
  timer: NodeJS.Timeout
}

const REPLY_TIMEOUT_MS = 10_000

export class WaSimulator extends EventEmitter implements SimContext, FaultTarget, PhoneHost, RouterHost {
  readonly registry = new AccountRegistry()
  readonly faults: Faults
  readonly relay: Relay
  readonly media?: MediaServer
  readonly receiptDelayMs: number
  readonly preKeyCountFloor: number
  readonly rootKeySeed: string
  /** Every event emitted so far, oldest first (tests can assert order). */
  readonly eventLog: Array<{ name: SimEventName; payload: unknown; at: number }> = []
  wsUrl = ''
  private readonly authority: CertAuthority
  private readonly qrRefs: number
  private readonly kickCloseMs: number
  private readonly connections = new Set<Connection>()
  private handshaking = 0
  private peakHandshaking = 0
  private readonly online = new Map<Device, Connection>()
  private readonly registrations = new Map<Connection, Registration>()
  private readonly actors = new Map<Device, VirtualActor>()
  private readonly phones = new Map<string, Phone>()
  private readonly customers = new Map<string, Customer>()
  private readonly pendingReplies = new Map<string, PendingReply>()
  private http?: Server
  private wss?: WebSocketServer

  private constructor(options: WaSimulatorOptions) {
    super()
    this.rootKeySeed = options.rootKeySeed ?? randomSeed()
    this.authority = createCertAuthority(this.rootKeySeed)
    this.qrRefs = options.qrRefs ?? 6
    this.receiptDelayMs = options.receiptDelayMs ?? 0
    this.kickCloseMs = options.kickCloseMs ?? 1000
    this.preKeyCountFloor = options.preKeyCountFloor ?? 0
    this.faults = new Faults(this)
    this.relay = new Relay(this)
    if (options.media !== false) {
      this.media = new MediaServer({
        shouldFailUpload: () => this.faults.takeUploadFailure(),
        onUpload: (path, bytes, ok) => this.emit('upload', { path, bytes, ok })
      })
    }
  }

  static async start(options: WaSimulatorOptions = {}): Promise<WaSimulator> {
    const sim = new WaSimulator(options)
    await sim.listen(options.port ?? 0)
    await sim.media?.start()
    return sim
  }

  /** The 32-byte root public key clients must trust (the form WA_CERT_DETAILS.PUBLIC_KEY holds). */
  get rootPublicKey(): Uint8Array {
    return new Uint8Array(this.authority.root.public)
  }

  get rootPublicKeyBase64(): string {
    return this.authority.root.public.toString('base64')
  }

  get mediaCaPath(): string {
    return MEDIA_CA_PATH
  }

  get mediaHost(): string | undefined {
    return this.media?.host
  }

  /** Makes Baileys in this process accept the simulator's certificate chain. */
  trustInProcess(): void {
    trustRootKey(this.rootPublicKey)
  }

  async stop(): Promise<void> {
    for (const pending of this.pendingReplies.values()) clearTimeout(pending.timer)
    this.pendingReplies.clear()
    for (const connection of this.connections) connection.close()
    await new Promise<void>(resolve => (this.wss ? this.wss.close(() => resolve()) : resolve()))
    if (this.http) {
      this.http.closeAllConnections()
      await new Promise<void>(resolve => this.http?.close(() => resolve()))
    }
    await this.media?.stop()
  }

  // ---- people ----------------------------------------------------------------------------------------

  /** An account whose primary device (device 0) the simulator plays; companions link to it. */
  createPhone(opts: { phone: string; pushName?: string }): Phone {
    const account = this.registry.create(opts.phone, opts.pushName ?? 'WaSim Phone')
    const phone = new Phone(this, account)
    this.actors.set(phone.device, phone)
    this.phones.set(account.phone, phone)
    return phone
  }

  /** Another WhatsApp user the daemon talks to. */
  createCustomer(opts: { phone: string; pushName?: string }): Customer {
    const account = this.registry.create(opts.phone, opts.pushName ?? 'WaSim Customer')
    const customer = new Customer(this, account)
    this.actors.set(customer.device, customer)
    this.customers.set(account.phone, customer)
    return customer
  }

  phone(number: string): Phone | undefined {
    return this.phones.get(normalizePhone(number))
  }

  customer(number: string): Customer | undefined {
    return this.customers.get(normalizePhone(number))
  }

  listPhones(): Phone[] {
    return [...this.phones.values()]
  }

  listCustomers(): Customer[] {
    return [...this.customers.values()]
  }

  // ---- observation -----------------------------------------------------------------------------------

  /** PN device JIDs of companions with a live, logged-in connection. */
  connectedDevices(): string[] {
    return [...this.online.entries()].filter(([, c]) => c.isOpen).map(([d]) => d.account.pnDeviceJid(d.id))
  }

  /**
   * WebSockets accepted that have neither finished the Noise handshake nor closed: now, and the most at once since
   * the simulator started (a client's connect rate as the server sees it).
   */
  get handshakes(): { inProgress: number; peak: number } {
    return { inProgress: this.handshaking, peak: this.peakHandshaking }
  }

  /** Ids of the message stanzas the device sent, in order (including resends). */
  messagesSentBy(deviceJid: string): string[] {
    const device = this.registry.device(deviceJid)
    return device ? this.relay.messagesSentBy(device) : []
  }

  override emit<K extends SimEventName>(name: K, payload: SimEventMap[K]): boolean {
    this.eventLog.push({ name, payload, at: Date.now() })
    return super.emit(name, payload)
  }

  /** Resolves with the next `name` event matching `predicate`; rejects after `timeoutMs`. */
  waitFor<K extends SimEventName>(name: K, predicate: (p: SimEventMap[K]) => boolean = () => true, timeoutMs = 5000): Promise<SimEventMap[K]> {
    return new Promise((resolve, reject) => {
      const listener = (payload: SimEventMap[K]) => {
        if (!predicate(payload)) return
        clearTimeout(timer)
        this.off(name, listener)
        resolve(payload)
      }
      const timer = setTimeout(() => {
        this.off(name, listener)
        reject(new Error(`no '${name}' event matched within ${timeoutMs} ms`))
      }, timeoutMs)
      this.on(name, listener)
    })
  }

  // ---- SimContext / FaultTarget ----------------------------------------------------------------------

  connectionOf(device: Device): Connection | undefined {
    return this.online.get(device)
  }

  actorOf(device: Device): VirtualActor | undefined {
    return this.actors.get(device)
  }

  liveConnection(deviceJid: string): Connection | undefined {
    const device = this.registry.device(deviceJid)
    return device ? this.online.get(device) : undefined
  }

  deviceKey(deviceJid: string): string {
    const found = this.registry.resolve(deviceJid)
    if (!found) throw new Error(`unknown device ${deviceJid}`)
    return `${found.account.phone}:${found.deviceId}`
  }

  /**
   * Sends a terminal stanza (stream:error, failure, xmlstreamend), handles nothing more, and lets the client close;
   * the server closes after a grace period. Closing at once would race the client's async frame decoding and turn
   * every code into 428 (socket.js:676-681).
   */
  kick(connection: Connection, node: BinaryNode): void {
    this.detach(connection)
    connection.end(node, this.kickCloseMs)
  }

  onKeysUploaded(device: Device): void {
    this.sendHistoryBootstrapIfDue(device)
  }

  // ---- PhoneHost -------------------------------------------------------------------------------------

  async linkByQr(phone: Phone, qr: string): Promise<{ deviceJid: string }> {
    const parsed = parseQr(qr)
    const entry = [...this.registrations.entries()].find(([c, r]) => c.isOpen && r.noiseKey.equals(parsed.noiseKey))
    if (!entry) throw new Error('no connected client shows this QR')
    const [connection, registration] = entry
    if (!registration.refs.includes(parsed.ref) || registration.qrEpoch !== this.faults.qrEpoch) throw new Error('QR code expired')
    if (!registration.keys.identityKey.equals(parsed.identityKey)) throw new Error('QR identity key does not match the registration')
    return this.completeLink(connection, registration, phone, parsed.advSecret)
  }

  async linkByCode(phone: Phone, code: string): Promise<{ deviceJid: string }> {
    const entry = [...this.registrations.entries()].find(([c, r]) => c.isOpen && r.codeRequest?.phone === phone.phone)
    if (!entry) throw new Error(`no client requested a pairing code for ${phone.phone}`)
    const [connection, registration] = entry
    const request = registration.codeRequest
    if (!request) throw new Error('unreachable')
    const exchange = await startCodeExchange(code.replace(/-/g, '').toUpperCase(), request, phone.identity, nextServerId())
    const finishIq = await new Promise<BinaryNode>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('companion did not finish the code exchange')), REPLY_TIMEOUT_MS)
      registration.codeExchange = { exchange, finished: iq => (clearTimeout(timer), resolve(iq)) }
      connection.send(exchange.notification)
    })
    let shared: { companionIdentity: Buffer; advSecret: Buffer }
    try {
      shared = finishCodeExchange(exchange, finishIq, phone.identity)
    } catch {
      throw new Error('wrong pairing code')
    }
    if (!shared.companionIdentity.equals(registration.keys.identityKey)) throw new Error('companion identity does not match the registration')
    return this.completeLink(connection, registration, phone, shared.advSecret)
  }

  unlink(device: Device): void {
    this.registry.removeDevice(device)
    const connection = this.online.get(device)
    if (connection) this.kick(connection, streamErrorNode(401))
    this.emit('logout', { deviceJid: device.account.pnDeviceJid(device.id), reason: 'phone' })
  }

  // ---- RouterHost ------------------------------------------------------------------------------------

  get ctx(): SimContext {
    return this
  }

  resolveReply(connection: Connection, reply: BinaryNode): boolean {
    const key = `${connection.id}/${reply.attrs.id}`
    const pending = this.pendingReplies.get(key)
    if (!pending) return false
    this.pendingReplies.delete(key)
    clearTimeout(pending.timer)
    pending.resolve(reply)
    return true
  }

  hooksFor(connection: Connection): IqHooks {
    return {
      onRemoveCompanion: device => this.removeByClient(device),
      onCompanionHello: iq => this.onCompanionHello(connection, iq),
      onCompanionFinish: iq => this.registrations.get(connection)?.codeExchange?.finished(iq),
      mediaConn: () => this.media?.mediaConnNode()
    }
  }

  // ---- connections -----------------------------------------------------------------------------------

  private async listen(port: number): Promise<void> {
    const http = createServer((_req, res) => res.writeHead(426).end('WebSocket only'))
    const wss = new WebSocketServer({ server: http, path: '/ws/chat' })
    wss.on('connection', socket => this.accept(new Connection(socket, this.authority)))
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen(port, '127.0.0.1', () => resolve())
    })
    this.http = http
    this.wss = wss
    this.wsUrl = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws/chat`
  }

  private accept(connection: Connection): void {
    this.connections.add(connection)
    this.peakHandshaking = Math.max(this.peakHandshaking, ++this.handshaking)
    let handshaking = true
    const handshakeOver = () => {
      if (handshaking) this.handshaking--
      handshaking = false
    }
    connection.once('handshake', handshakeOver)
    connection.once('close', handshakeOver)
    connection.on('handshake', finish => this.onHandshake(connection, finish))
    connection.on('node', node => {
      try {
        routeNode(this, connection, node)
      } catch {
        connection.close()
      }
    })
    connection.on('close', () => {
      this.connections.delete(connection)
      const device = connection.device
      // Also for a connection the server kicked (already detached): its unanswered stanzas are not lost.
      this.relay.requeueUnanswered(connection)
      this.detach(connection)
      this.emit('close', { connectionId: connection.id, deviceJid: device ? device.account.pnDeviceJid(device.id) : undefined })
    })
  }

  /** Forgets the connection as a device's live session (it may still be open until the client closes). */
  private detach(connection: Connection): void {
    this.registrations.delete(connection)
    const device = connection.device
    if (device && this.online.get(device) === connection) this.online.delete(device)
  }

  private onHandshake(connection: Connection, finish: ClientFinish): void {
    const registering = !!finish.payload.devicePairingData && !finish.payload.passive
    this.emit('connection', { connectionId: connection.id, registering })
    if (registering) this.startRegistration(connection, finish)
    else this.login(connection, finish)
  }

  /** A client without creds: hand it pair-device refs (socket.js:694-726). */
  private startRegistration(connection: Connection, finish: ClientFinish): void {
    const data = finish.payload.devicePairingData
    if (!data) return
    const refs = Array.from({ length: this.qrRefs }, newPairingRef)
    this.registrations.set(connection, { refs, qrEpoch: this.faults.qrEpoch, keys: keysFromPairingData(data), noiseKey: finish.clientStatic })
    connection.send(pairDeviceIq(nextServerId(), refs))
    this.emit('pairing', { connectionId: connection.id, qrRefs: refs })
  }

  /** The device is authenticated by the Noise static key recorded at pairing (doc §1.3). */
  private login(connection: Connection, { clientStatic, payload }: ClientFinish): void {
    const phone = String(payload.username ?? '')
    const deviceId = payload.device ?? 0
    const device = this.registry.get(phone)?.devices.get(deviceId)
    const jid = device ? device.account.pnDeviceJid(deviceId) : `${phone}:${deviceId}@s.whatsapp.net`
    const key = `${phone}:${deviceId}`
    const forced = this.faults.takeLoginFailure(key)
    if (!device || device.kind !== 'companion' || !device.noiseKey?.equals(clientStatic) || forced !== undefined) {
      const reason = forced ?? 401
      this.kick(connection, { tag: 'failure', attrs: { reason: `${reason}`, location: 'wasim' } })
      this.emit('login-failed', { deviceJid: jid, reason })
      return
    }
    const previous = this.online.get(device)
    if (previous && previous !== connection) this.kick(previous, streamErrorNode(440))
    connection.device = device
    this.online.set(device, connection)
    // Baileys reads only `t` and `lid` (socket.js:746-790).
    connection.send({
      tag: 'success',
      attrs: { t: unixNow(), props: '1', creation: unixNow(), location: 'wasim', lid: device.account.lidDeviceJid(device.id) }
    })
    const offlineCount = this.relay.flushOffline(device, connection)
    if (this.faults.takeFreezeAtLogin(key)) connection.frozen = true
    this.emit('login', { deviceJid: jid, connectionId: connection.id, offlineCount })
    this.sendHistoryBootstrapIfDue(device)
  }

  /** Pair-success, verify the companion's pair-device-sign, record the device, then 515 (doc §2.3-2.5). */
  private async completeLink(connection: Connection, registration: Registration, phone: Phone, advSecret: Buffer): Promise<{ deviceJid: string }> {
    const account = phone.account
    const device = account.addDevice('companion', registration.keys, registration.noiseKey)
    const deviceJid = account.pnDeviceJid(device.id)
    const issued = issueDeviceIdentity(phone.identity, registration.keys.identityKey, advSecret, device.keyIndex)
    const reply = await this.request(connection, pairSuccessIq(nextServerId(), issued, deviceJid, account.lidDeviceJid(device.id)))
    if (reply.attrs.type !== 'result' || !verifyPairDeviceSign(reply, issued, registration.keys.identityKey, phone.identity)) {
      account.devices.delete(device.id)
      throw new Error('companion rejected the pairing or signed it wrongly')
    }
    this.registrations.delete(connection)
    this.emit('paired', { deviceJid, lidJid: account.lidDeviceJid(device.id), phone: account.phone })
    this.kick(connection, streamErrorNode(515))
    return { deviceJid }
  }

  private request(connection: Connection, iq: BinaryNode): Promise<BinaryNode> {
    return new Promise((resolve, reject) => {
      const key = `${connection.id}/${iq.attrs.id}`
      const timer = setTimeout(() => {
        this.pendingReplies.delete(key)
        reject(new Error(`no reply to ${iq.attrs.id}`))
      }, REPLY_TIMEOUT_MS)
      this.pendingReplies.set(key, { resolve, timer })
      connection.send(iq)
    })
  }

  private onCompanionHello(connection: Connection, iq: BinaryNode): BinaryNode[] | undefined {
    const registration = this.registrations.get(connection)
    const hello = parseCompanionHello(iq)
    if (!registration || !hello) return undefined
    registration.codeRequest = hello
    return [{ tag: 'link_code_companion_reg', attrs: {}, content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from(newPairingRef()) }] }]
  }

  /** `sock.logout()` sends remove-companion-device and closes itself with 401 (socket.js:572-595). */
  private removeByClient(device: Device): void {
    this.registry.removeDevice(device)
    this.emit('logout', { deviceJid: device.account.pnDeviceJid(device.id), reason: 'client' })
  }

  /** After a companion's first login the phone pushes the history bootstrap; it needs the uploaded pre-keys. */
  private sendHistoryBootstrapIfDue(device: Device): void {
    if (!device.needsHistoryBootstrap || device.keys.oneTimePreKeys.size === 0 || !this.online.get(device)?.isOpen) return
    const phone = this.phones.get(device.account.phone)
    if (!phone) return
    device.needsHistoryBootstrap = false
    const contacts = this.registry.all().filter(a => a !== device.account)
    phone.sendHistoryBootstrap(device, contacts).catch(() => (device.needsHistoryBootstrap = true))
  }
}

