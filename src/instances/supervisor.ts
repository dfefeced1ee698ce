import { EventEmitter } from 'node:events'
import type { Logger } from '../logger.js'
import type { Config } from '../config.js'
import type { SessionStore } from '../whatsapp/auth-store.js'
import type { SentMessageLog } from '../whatsapp/sent-messages.js'
import type { ConnectionOptions, OwnIdentity, WaConnection } from '../whatsapp/connection.js'
import type { CloseInfo } from '../whatsapp/close-reason.js'
import { reconnectDelay } from './backoff.js'
import type { ConnectGate } from './connect-gate.js'
import type { InstancePatch, InstanceRepository } from './repository.js'
import type { InstanceStatus, QrIssued, StatusChange } from './status.js'

export interface SupervisorDeps {
  instanceId: string
  initialStatus: InstanceStatus
  repo: InstanceRepository
  store: SessionStore
  sentMessages: SentMessageLog
  /** Creates a socket (WaConnection, from the loaded WhatsApp runtime: src/whatsapp/loader.ts). */
  connect: (options: ConnectionOptions) => WaConnection
  /** Shared by every instance: each socket holds a slot from creation until open, its first QR, or close. */
  connectGate: ConnectGate
  logger: Logger
  sessions: Config['sessions']
  wsUrl: string | undefined
  now?: () => Date
}

export interface SupervisorEvents {
  status: [change: StatusChange]
  qr: [qr: QrIssued]
  /** Profile fields (phone, push name) changed without a status change. */
  profile: []
  /**
   * A socket was created, before it can receive a single frame: inbound handling attaches here, because offline
   * messages are processed (and their upserts flushed) before `open` may fire (Socket/socket.js:746-765, 832-838).
   */
  socket: [connection: WaConnection]
  /** A socket reached `open`; messaging attaches its handlers here. */
  open: [connection: WaConnection]
  /** The open socket closed. */
  closed: [connection: WaConnection]
  /** stop() was called: this supervisor will never connect again. */
  stopped: []
}

/** Baileys shows the first QR ref for `qrTimeout` or 60 s, each later one for `qrTimeout` or 20 s (Socket/socket.js:709-722). */
const FIRST_QR_MS = 60_000
const NEXT_QR_MS = 20_000

/**
 * Keeps one instance's WhatsApp session alive and owns its status. The reconnect policy switches on the close code
 * (see classifyClose), never on guesswork: 515 after pairing or on an open socket reconnects at once; 408/428/503/
 * 500 (and a 515 to a login) back off with full jitter; 401 wipes the credentials; 440 stops (reconnecting would
 * knock the other client off, forever); 403/411 stop (the account is refused); exhausted QR refs stop; too many
 * consecutive failures stop until the next boot.
 */
export class InstanceSupervisor extends EventEmitter<SupervisorEvents> {
  private statusValue: InstanceStatus
  private connection: WaConnection | undefined
  private openConnection: WaConnection | undefined
  private qrState: QrIssued | undefined
  private qrAttempt = 0
  private failures = 0
  /** Set between pair-success (515 while pairing) and the first `open` with the new credentials. */
  private justPaired = false
  /** A logout is under way: a socket closing meanwhile is not reconnected. */
  private disconnecting = false
  private reconnectTimer: NodeJS.Timeout | undefined
  /** Set while this instance waits for a connect slot: withdraws it from the gate's queue. */
  private cancelConnectRequest: (() => void) | undefined
  private stopped = false
  private readonly now: () => Date
  private readonly log: Logger

  constructor(private readonly deps: SupervisorDeps) {
    super()
    this.statusValue = deps.initialStatus
    this.now = deps.now ?? (() => new Date())
    this.log = deps.logger.child({ instanceId: deps.instanceId })
  }

  get id(): string {
    return this.deps.instanceId
  }

  get status(): InstanceStatus {
    return this.statusValue
  }

  get currentQr(): QrIssued | undefined {
    return this.statusValue === 'pending_qr' ? this.qrState : undefined
  }

  /** The socket while it is open, for sending. */
  get socket(): WaConnection | undefined {
    return this.openConnection
  }

  get isPaired(): boolean {
    return this.session === 'paired'
  }

  /**
   * What the session file holds. `unreadable`: it cannot be read (another GATEWAY_SECRET_KEY, a damaged file, no
   * file descriptors left) — never taken for "no credentials", which would start a QR cycle over the file.
   */
  get session(): 'paired' | 'unpaired' | 'unreadable' {
    if (!this.deps.store.isOpen) return 'unpaired'
    try {
      return this.deps.store.readCreds()?.account !== undefined ? 'paired' : 'unpaired'
    } catch (err) {
      this.log.error({ err }, 'session store unreadable')
      return 'unreadable'
    }
  }

  /**
   * Opens a socket — once the connect gate has a slot for it: with credentials it logs in (`connecting`), without
   * them it starts a QR cycle (`pending_qr`).
   */
  start(reason: string, code?: number): void {
    if (this.stopped || this.connection || this.cancelConnectRequest) return
    this.clearReconnect()
    this.qrAttempt = 0
    this.qrState = undefined
    const session = this.session
    if (session === 'unreadable') return this.setStatus('disconnected', 'session_store_error')
    this.setStatus(session === 'paired' ? 'connecting' : 'pending_qr', reason, code)
    let waiting = true
    const cancel = this.deps.connectGate.request((release) => {
      waiting = false
      this.cancelConnectRequest = undefined
      this.openSocket(release)
    })
    if (waiting) this.cancelConnectRequest = cancel
  }

  /** Bounces the connection without unpairing; with no credentials that is a fresh QR cycle. */
  restart(): void {
    this.failures = 0
    this.closeSocket('restart')
    this.start('restart')
  }

  /**
   * Logs out so the phone no longer lists the device, then wipes the credentials. When the socket is not open the
   * phone cannot be told; the credentials are wiped all the same.
   */
  async disconnect(reason = 'logout'): Promise<void> {
    this.clearReconnect()
    const open = this.openConnection
    if (open) {
      // Whatever closes the socket meanwhile must not schedule a reconnect: the instance is being logged out.
      this.disconnecting = true
      try {
        const closed = new Promise<void>((resolve) => open.once('close', () => resolve()))
        const loggedOut = await open.logout().then(
          () => true,
          (err: unknown) => (this.log.warn({ err }, 'logout request failed; wiping credentials anyway'), false),
        )
        // The server ends the socket after a logout; after a failed one it may stay up, and closeSocket ends it.
        if (loggedOut) await closed
      } finally {
        this.disconnecting = false
      }
    }
    this.clearReconnect()
    this.closeSocket(reason)
    this.forgetCredentials()
    if (this.statusValue !== 'disconnected') this.setStatus('disconnected', reason)
  }

  async requestPairingCode(phone: string): Promise<string> {
    if (!this.connection || this.statusValue !== 'pending_qr') throw new Error('not pairing')
    return this.connection.requestPairingCode(phone)
  }

  /** Sets a status without touching the socket (boot uses it for instances it does not start). */
  forceStatus(to: InstanceStatus, reason: string): void {
    this.setStatus(to, reason)
  }

  /** Shutdown: closes the socket without logging out and never reconnects. */
  stop(): void {
    this.stopped = true
    this.clearReconnect()
    this.closeSocket('shutdown')
    this.deps.store.close()
    this.emit('stopped')
  }

  /** Resolves with the status once the instance is `connected` or `disconnected`, is stopped, or `timeoutMs` passed. */
  whenSettled(timeoutMs: number): Promise<InstanceStatus> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.off('status', onStatus)
        this.off('stopped', done)
        resolve(this.statusValue)
      }
      const onStatus = (change: StatusChange) => {
        if (change.to === 'connected' || change.to === 'disconnected') done()
      }
      const timer = setTimeout(done, timeoutMs)
      timer.unref()
      if (this.stopped || this.statusValue === 'connected' || this.statusValue === 'disconnected') return done()
      this.on('status', onStatus)
      this.once('stopped', done)
    })
  }

  private openSocket(releaseSlot: () => void): void {
    let connection: WaConnection
    try {
      connection = this.deps.connect({
        store: this.deps.store,
        sentMessages: this.deps.sentMessages,
        logger: this.log,
        wsUrl: this.deps.wsUrl,
        qrTimeoutMs: this.deps.sessions.qrTimeoutMs,
        keepAliveIntervalMs: this.deps.sessions.keepAliveIntervalMs,
        syncFullHistory: this.deps.sessions.syncFullHistory,
      })
    } catch (err) {
      // The session file could not be read (another secret key, a damaged file, no file descriptors left). This may
      // run from the gate long after start() returned, so there is no caller to throw to: say so in the status.
      releaseSlot()
      this.log.error({ err }, 'could not create the socket: session store unreadable')
      return this.setStatus('disconnected', 'session_store_error')
    }
    // Released first, before the handlers below may start the next socket of this instance.
    connection.once('open', releaseSlot)
    connection.once('qr', releaseSlot)
    connection.once('close', releaseSlot)
    this.connection = connection
    this.emit('socket', connection)
    connection.on('qr', (qr) => this.onQr(qr))
    connection.on('open', (me) => this.onOpen(connection, me))
    connection.on('credentials', (paired) => this.onCredentials(connection, paired))
    connection.on('close', (info) => this.onClose(connection, info))
  }

  private onQr(qr: string): void {
    this.qrAttempt += 1
    const ttl = this.deps.sessions.qrTimeoutMs ?? (this.qrAttempt === 1 ? FIRST_QR_MS : NEXT_QR_MS)
    this.qrState = {
      instanceId: this.id,
      qr,
      attempt: this.qrAttempt,
      expiresAt: new Date(this.now().getTime() + ttl).toISOString(),
    }
    if (this.statusValue !== 'pending_qr') this.setStatus('pending_qr', 'qr_issued')
    this.emit('qr', this.qrState)
  }

  private onOpen(connection: WaConnection, me: OwnIdentity): void {
    if (connection !== this.connection) return
    const reason = this.justPaired ? 'paired' : 'connected'
    this.justPaired = false
    this.failures = 0
    this.openConnection = connection
    this.qrState = undefined
    this.setStatus('connected', reason, undefined, {
      phone: me.phone || null,
      lid: me.lid ?? null,
      ...(me.pushName ? { push_name: me.pushName } : {}),
      connected_at: this.now().toISOString(),
      has_credentials: 1,
    })
    this.emit('open', connection)
  }

  private onCredentials(connection: WaConnection, paired: boolean): void {
    if (connection !== this.connection || !paired) return
    const me = connection.identity()
    const row = this.deps.repo.get(this.id)
    if (!row) return
    const patch: InstancePatch = {}
    if (row.has_credentials !== 1) patch.has_credentials = 1
    if (me.phone && row.phone !== me.phone) patch.phone = me.phone
    if (me.lid && row.lid !== me.lid) patch.lid = me.lid
    if (me.pushName && row.push_name !== me.pushName) patch.push_name = me.pushName
    if (Object.keys(patch).length === 0) return
    this.deps.repo.update(this.id, patch, this.now().toISOString())
    this.emit('profile')
  }

  private onClose(connection: WaConnection, info: CloseInfo): void {
    const wasOpen = connection === this.openConnection
    if (wasOpen) {
      this.openConnection = undefined
      this.emit('closed', connection)
    }
    if (connection !== this.connection) return
    this.connection = undefined
    this.qrState = undefined
    if (this.stopped || this.disconnecting) return
    this.log.info({ code: info.code, reason: info.reason }, 'socket closed')
    switch (info.kind) {
      case 'restart_required':
        // After pair-success the server asks for a fresh socket with the new credentials (Socket/socket.js:791-796),
        // and it may ask an open socket to restart: both at once. A socket that never opened backs off like any
        // failure, so a server answering every login with 515 is not retried at handshake speed.
        if (this.statusValue !== 'pending_qr' && !wasOpen) return this.scheduleReconnect(info)
        this.justPaired ||= this.statusValue === 'pending_qr'
        return this.start(this.justPaired ? 'paired' : 'restart_required', info.code)
      case 'logged_out':
        this.forgetCredentials()
        return this.setStatus('disconnected', info.reason, info.code)
      case 'replaced':
        return this.setStatus('disconnected', 'replaced', info.code)
      case 'refused':
        // Retrying a refused account would only count against it; the credentials stay for an operator's restart.
        return this.setStatus('disconnected', info.reason, info.code)
      case 'qr_exhausted':
        return this.setStatus('disconnected', 'qr_attempts_exhausted', info.code)
      default:
        return this.scheduleReconnect(info)
    }
  }

  private scheduleReconnect(info: CloseInfo): void {
    this.failures += 1
    if (this.failures >= this.deps.sessions.maxConsecutiveFailures) {
      return this.setStatus('disconnected', 'too_many_failures', info.code)
    }
    const s = this.deps.sessions
    const delay = reconnectDelay(this.failures, {
      baseMs: s.backoffBaseMs,
      maxMs: s.backoffMaxMs,
      failuresBeforeLong: s.failuresBeforeLongBackoff,
      longMs: s.backoffLongMs,
    })
    const paired = this.isPaired
    this.setStatus(paired ? 'connecting' : 'pending_qr', info.reason, info.code)
    this.log.info({ delayMs: delay, failures: this.failures }, 'reconnect scheduled')
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      this.start(info.reason)
    }, delay)
  }

  private forgetCredentials(): void {
    if (this.deps.store.isOpen) this.deps.store.wipe()
    this.deps.repo.update(this.id, { has_credentials: 0, connected_at: null }, this.now().toISOString())
  }

  private closeSocket(reason: string): void {
    this.cancelConnectRequest?.()
    this.cancelConnectRequest = undefined
    const connection = this.connection
    this.connection = undefined
    this.qrState = undefined
    connection?.end({ kind: 'other', code: 0, reason })
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = undefined
  }

  private setStatus(to: InstanceStatus, reason: string, code?: number, patch: InstancePatch = {}): void {
    const from = this.statusValue
    const change: StatusChange = { instanceId: this.id, from, to, reason, at: this.now().toISOString(), ...(code ? { code } : {}) }
    if (from === to && Object.keys(patch).length === 0 && code === undefined) return
    this.statusValue = to
    try {
      this.deps.repo.changeStatus(change, patch)
    } catch (err) {
      // Called from Baileys' connection events and timers, where a throw would end the process (a full disk would
      // then restart it into the same failure). The change happened: memory follows the socket; the row and its
      // event (one transaction) are not written, and the next change that can be written brings the row up to date.
      this.log.error({ err, from, to, reason }, 'recording a status change failed')
    }
    if (from !== to) {
      this.log.info({ from, to, reason, code }, 'status changed')
      this.emit('status', change)
    } else if (Object.keys(patch).length > 0) {
      this.emit('profile')
    }
  }
}
