import { EventEmitter } from 'node:events'
import PQueue from 'p-queue'
import type { Config } from '../config.js'
import { AppError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Sealer } from '../security/sealing.js'
import { generateToken, hashToken } from '../security/tokens.js'
import { destroySessionFiles, SessionFilePool } from '../whatsapp/session-files.js'
import type { WhatsAppLoader } from '../whatsapp/loader.js'
import type { SentMessages } from '../whatsapp/sent-messages.js'
import type { WaConnection } from '../whatsapp/connection.js'
import type { Instance, InstanceRepository } from './repository.js'
import type { InstanceStatus, QrIssued, StatusChange } from './status.js'
import { ConnectGate } from './connect-gate.js'
import { InstanceSupervisor } from './supervisor.js'
import { newId } from '../ids.js'

export interface ManagerEvents {
  status: [change: StatusChange]
  qr: [qr: QrIssued]
  profile: [instanceId: string]
  /** A socket was created for the instance (before any frame arrives); see SupervisorEvents.socket. */
  socket: [instanceId: string, connection: WaConnection]
  open: [instanceId: string, connection: WaConnection]
  closed: [instanceId: string, connection: WaConnection]
  /** Stopped, about to be removed with its rows: the last moment its data can be looked up. */
  deleting: [instanceId: string]
  deleted: [instanceId: string]
}

export interface ManagerDeps {
  repo: InstanceRepository
  config: Pick<Config, 'sessionsDir' | 'sessions' | 'waWsUrl'>
  sealer: Sealer
  /** What each instance's sockets sent, for recipients' retry receipts. */
  sentMessages: SentMessages
  /** Baileys and the daemon's code on it, loaded on first need; supervisors exist only once it is loaded. */
  whatsapp: WhatsAppLoader
  logger: Logger
  now?: () => Date
}

/** Reasons a paired instance ended `disconnected` with that a boot retries (the others were decisions). */
const RETRIED_AT_BOOT = new Set(['too_many_failures', 'session_store_error'])

/** Every instance's supervisor, and the admin operations on them. Knows nothing of HTTP. */
export class InstanceManager extends EventEmitter<ManagerEvents> {
  private readonly supervisors = new Map<string, InstanceSupervisor>()
  private readonly now: () => Date
  private restored = false
  private readonly restoreQueue: PQueue
  /** Every socket of every instance is created through this bound (CONNECT_CONCURRENCY). */
  readonly connectGate: ConnectGate
  /** Session files open at once (SESSIONS_OPEN_FILES); idle instances hold none. */
  private readonly sessionFiles: SessionFilePool

  constructor(private readonly deps: ManagerDeps) {
    super()
    this.now = deps.now ?? (() => new Date())
    const sessions = deps.config.sessions
    this.restoreQueue = new PQueue({ concurrency: sessions.restoreConcurrency })
    // Baileys bounds each handshake step by connectTimeoutMs (connection.ts passes max(20 s, keep-alive);
    // Socket/socket.js:63, 291) but not the wait for <success> after ClientFinish, which the connection watchdog
    // ends later (2 keep-alive intervals + 5 s). A slot is freed after the first bound plus a margin.
    this.connectGate = new ConnectGate(sessions.connectConcurrency, Math.max(20_000, sessions.keepAliveIntervalMs) + 10_000)
    this.sessionFiles = new SessionFilePool(sessions.openSessionFiles)
  }

  get isRestored(): boolean {
    return this.restored
  }

  async create(input: { name?: string; tenantId?: string }): Promise<{ instance: Instance; token: string }> {
    await this.deps.whatsapp.load()
    const id = newId('inst', 9)
    const token = generateToken('wgi')
    const instance = this.deps.repo.insert(
      {
        id,
        name: input.name ?? null,
        tenant_id: input.tenantId ?? null,
        token_hash: hashToken(token),
        status: 'pending_qr',
        status_reason: 'created',
        has_credentials: 0,
        phone: null,
        lid: null,
        push_name: null,
        connected_at: null,
        last_disconnect_code: null,
        last_disconnect_reason: null,
        last_disconnect_at: null,
        pacing_ms: null,
      },
      this.now().toISOString(),
    )
    this.supervise(instance).start('created')
    return { instance, token }
  }

  get(id: string): Instance {
    const instance = this.deps.repo.get(id)
    if (!instance) throw new AppError('INSTANCE_NOT_FOUND')
    return instance
  }

  list(filter: { tenantId?: string } = {}): Instance[] {
    return this.deps.repo.list(filter)
  }

  supervisor(id: string): InstanceSupervisor {
    this.get(id)
    const supervisor = this.supervisors.get(id)
    if (!supervisor) throw new AppError('INSTANCE_NOT_FOUND')
    return supervisor
  }

  /** See InstanceRepository.writeWithStatusChanges: writes that commit with every status change (its event). */
  writeWithStatusChanges(write: (change: StatusChange) => void): () => void {
    return this.deps.repo.writeWithStatusChanges(write)
  }

  /** The live status, from memory (the send path asks on every request). */
  statusOf(id: string): InstanceStatus {
    const supervisor = this.supervisors.get(id)
    if (!supervisor) throw new AppError('INSTANCE_NOT_FOUND')
    return supervisor.status
  }

  qr(id: string): QrIssued {
    const qr = this.supervisor(id).currentQr
    if (!qr) throw new AppError('INSTANCE_NOT_PAIRING')
    return qr
  }

  async pairingCode(id: string, phone: string): Promise<string> {
    const supervisor = this.supervisor(id)
    if (supervisor.status !== 'pending_qr') throw new AppError('INSTANCE_NOT_PAIRING')
    try {
      return await supervisor.requestPairingCode(phone)
    } catch (err) {
      this.deps.logger.warn({ err, instanceId: id }, 'pairing code request failed')
      throw new AppError('PAIRING_CODE_FAILED')
    }
  }

  restart(id: string): void {
    this.supervisor(id).restart()
  }

  async disconnect(id: string): Promise<void> {
    await this.supervisor(id).disconnect('logout')
  }

  async delete(id: string): Promise<void> {
    const supervisor = this.supervisor(id)
    // An unreadable session cannot log out; the file goes all the same.
    if (supervisor.session === 'paired') await supervisor.disconnect('deleted')
    supervisor.stop()
    supervisor.removeAllListeners()
    this.supervisors.delete(id)
    this.emit('deleting', id)
    this.deps.repo.delete(id)
    destroySessionFiles(this.deps.config.sessionsDir, id)
    this.emit('deleted', id)
  }

  rotateToken(id: string): string {
    this.get(id)
    const token = generateToken('wgi')
    this.deps.repo.update(id, { token_hash: hashToken(token) }, this.now().toISOString())
    return token
  }

  /**
   * Boot: every instance that has credentials and was not stopped on purpose (RETRIED_AT_BOOT) reconnects, through
   * a bounded queue with jitter so a restart with hundreds of sessions is no thundering herd. An instance that was waiting for a QR
   * scan is *not* started (a restart must not turn into a QR storm): it becomes `disconnected` and needs a restart.
   */
  async restoreAll(): Promise<void> {
    const queue = this.restoreQueue
    const instances = this.deps.repo.list()
    // Already loaded when the daemon restores (it loads before listening if instances exist, so that no request
    // finds an instance without its supervisor); awaited here all the same, as supervise() needs it.
    if (instances.length > 0) await this.deps.whatsapp.load()
    for (const instance of instances) {
      const supervisor = this.supervise(instance)
      // Stopped on purpose (logout, replaced, never paired) stays stopped; given up after failures is tried again:
      // a restart is what an operator would do once the outage or the secret key is fixed.
      if (instance.status === 'disconnected' && !RETRIED_AT_BOOT.has(instance.status_reason ?? '')) continue
      const session = supervisor.session
      if (session !== 'paired') {
        supervisor.forceStatus('disconnected', session === 'unreadable' ? 'session_store_error' : 'pairing_interrupted_by_restart')
        continue
      }
      // Not connected until it reconnects: say so now rather than when its turn in the queue comes.
      supervisor.forceStatus('connecting', 'restoring')
      void queue.add(async () => {
        await jitter(250)
        supervisor.start('restored')
        await supervisor.whenSettled(30_000)
      })
    }
    await queue.onIdle()
    this.restored = true
  }

  /** Graceful shutdown: sockets close without logging out, so the next boot resumes them. */
  shutdown(): void {
    this.restoreQueue.clear()
    for (const supervisor of this.supervisors.values()) supervisor.stop()
  }

  private supervise(instance: Instance): InstanceSupervisor {
    const { SessionStore, WaConnection } = this.deps.whatsapp.runtime
    const store = SessionStore.open(this.deps.config.sessionsDir, instance.id, this.deps.sealer, {
      synchronous: this.deps.config.sessions.storeSynchronous,
      pool: this.sessionFiles,
    })
    const supervisor = new InstanceSupervisor({
      instanceId: instance.id,
      initialStatus: instance.status,
      repo: this.deps.repo,
      store,
      sentMessages: this.deps.sentMessages.forInstance(instance.id),
      connect: (options) => new WaConnection(options),
      connectGate: this.connectGate,
      logger: this.deps.logger,
      sessions: this.deps.config.sessions,
      wsUrl: this.deps.config.waWsUrl,
      now: this.now,
    })
    supervisor.on('status', (change) => this.emit('status', change))
    supervisor.on('qr', (qr) => this.emit('qr', qr))
    supervisor.on('profile', () => this.emit('profile', instance.id))
    supervisor.on('socket', (connection) => this.emit('socket', instance.id, connection))
    supervisor.on('open', (connection) => this.emit('open', instance.id, connection))
    supervisor.on('closed', (connection) => this.emit('closed', instance.id, connection))
    this.supervisors.set(instance.id, supervisor)
    return supervisor
  }
}

function jitter(maxMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * maxMs)))
}
