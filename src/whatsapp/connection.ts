import { EventEmitter } from 'node:events'
import makeWASocket, {
  Browsers,
  jidDecode,
  proto,
  makeCacheableSignalKeyStore,
  type AnyMessageContent,
  type AuthenticationCreds,
  type MiscMessageGenerationOptions,
  type WASocket,
} from '@whiskeysockets/baileys'
import type { Logger } from '../logger.js'
import { classifyClose, type CloseInfo } from './close-reason.js'
import type { SessionStore } from './auth-store.js'
import { BoundedCache } from '../bounded-cache.js'
import { journalingKeys, type InboundJournal } from './inbound-journal.js'
import { serialiseSignalTransactions } from './one-signal-transaction.js'
import { pruningSessions } from './session-pruning.js'
import type { SentMessageLog } from './sent-messages.js'

export interface ConnectionOptions {
  store: SessionStore
  /** What this instance sent, kept to answer recipients' retry receipts. */
  sentMessages: SentMessageLog
  logger: Logger
  /** The WhatsApp Web socket; undefined means WhatsApp's own. */
  wsUrl?: string
  qrTimeoutMs?: number
  keepAliveIntervalMs: number
  syncFullHistory: boolean
}

export interface OwnIdentity {
  phone: string
  lid: string | undefined
  pushName: string | undefined
}

export interface ConnectionEvents {
  qr: [qr: string]
  open: [me: OwnIdentity]
  /** Credentials changed; `paired` says whether they now identify a linked device. */
  credentials: [paired: boolean]
  close: [info: CloseInfo]
}

/**
 * One Baileys socket, from open to close. It never reconnects by itself: the instance supervisor decides what a
 * close means. Everything Baileys-specific about the lifecycle stays in this file.
 */
const FIVE_MINUTES = 5 * 60_000

export class WaConnection extends EventEmitter<ConnectionEvents> {
  readonly socket: WASocket
  /** Decrypted stanzas not recorded yet, committed with the Signal state (inbound-listener.ts). */
  readonly journal: InboundJournal
  private closed = false
  private lastFrameAt = Date.now()
  private readonly watchdog: NodeJS.Timeout
  private readonly creds: AuthenticationCreds

  constructor(private readonly opts: ConnectionOptions) {
    super()
    const auth = opts.store.authState()
    this.creds = auth.creds
    if (!isPaired(auth.creds) && auth.creds.me) {
      // A pairing code was requested and never entered: requestPairingCode stored `me` (Socket/socket.js:601-606),
      // and with `me` set Baileys logs in instead of registering (socket.js:320-325) — a login the server refuses
      // for a device it never paired. Unpaired, this socket starts over: a fresh QR cycle.
      delete auth.creds.me
      delete auth.creds.pairingCode
    }
    const baileysLogger = opts.logger.child({ module: 'baileys' }, { level: process.env.BAILEYS_LOG_LEVEL ?? 'silent' })
    // Our cache, not the default: Baileys' default for this one (a NodeCache with a 10-minute check interval) is
    // never closed, so each socket left one behind (Utils/auth-utils.js:17-23). Same 5-minute life.
    this.journal = opts.store.journal
    const cached = makeCacheableSignalKeyStore(auth.keys, baileysLogger, new BoundedCache(2_000, FIVE_MINUTES))
    const keys = journalingKeys(pruningSessions(cached), this.journal)
    this.socket = makeWASocket({
      auth: { creds: auth.creds, keys },
      logger: baileysLogger,
      browser: Browsers.ubuntu('Plixa Gateway'),
      ...(opts.wsUrl ? { waWebSocketUrl: opts.wsUrl } : {}),
      ...(opts.qrTimeoutMs ? { qrTimeout: opts.qrTimeoutMs } : {}),
      keepAliveIntervalMs: opts.keepAliveIntervalMs,
      connectTimeoutMs: Math.max(20_000, opts.keepAliveIntervalMs),
      markOnlineOnConnect: false,
      syncFullHistory: opts.syncFullHistory,
      shouldSyncHistoryMessage: () => opts.syncFullHistory,
      // Memory discipline: Baileys' default caches are unbounded TTL maps; these are size-capped.
      msgRetryCounterCache: new BoundedCache(1_000),
      // Baileys' default lifetime for device lists (Defaults/index.js:46): a contact's new device is seen in time even
      // when its device notification was missed.
      userDevicesCache: new BoundedCache(2_000, FIVE_MINUTES),
      mediaCache: new BoundedCache(200),
      // Baileys' retry manager (its default): bounded LRUs of recent messages and retry counts. Without it a message
      // that fails to decrypt holds the instance's whole inbound queue for 2 s before the retry receipt goes
      // (Socket/messages-recv.js:442-460 awaits requestPlaceholderResend's delay, :56-69, inside the message mutex).
      // Its cache lives 5 minutes in memory; the sent-message log answers retries after that and after a restart.
      enableRecentMessageCache: true,
      getMessage: async (key) => {
        const content = key.id ? opts.sentMessages.recall(key.id) : undefined
        return content ? proto.Message.decode(content) : undefined
      },
    })
    serialiseSignalTransactions(this.socket, keys)
    this.socket.ev.on('creds.update', () => {
      // Baileys has already merged the update into the creds object (Socket/socket.js:855).
      auth.saveCreds()
      if (!opts.store.isOpen) return
      this.emit('credentials', isPaired(this.creds))
    })
    this.socket.ev.on('connection.update', (update) => {
      if (update.qr) this.emit('qr', update.qr)
      if (update.connection === 'open') this.emit('open', this.identity())
      if (update.connection === 'close') this.finish(classifyClose(update.lastDisconnect?.error))
    })
    this.socket.ws.on('frame', () => {
      this.lastFrameAt = Date.now()
    })
    // Baileys' keep-alive notices silence only while its ping timer runs; this watchdog covers every phase.
    // Two intervals plus a margin: Baileys itself gives up after one interval + 5 s (Socket/socket.js:530-560).
    const silenceLimit = opts.keepAliveIntervalMs * 2 + 5_000
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastFrameAt > silenceLimit) {
        opts.logger.warn({ silenceMs: Date.now() - this.lastFrameAt }, 'socket silent past the keep-alive window; restarting it')
        this.end({ kind: 'connection_lost', code: 408, reason: 'watchdog_silence' })
      }
    }, opts.keepAliveIntervalMs)
    this.watchdog.unref()
  }

  identity(): OwnIdentity {
    const me = this.creds.me
    return {
      phone: jidDecode(me?.id)?.user ?? '',
      lid: me?.lid ? jidDecode(me.lid)?.user : undefined,
      pushName: me?.name && me.name !== '~' ? me.name : undefined,
    }
  }

  /** Sends, and remembers what was sent so a recipient's retry receipt can be answered with the same message. */
  async sendMessage(jid: string, content: AnyMessageContent, options: MiscMessageGenerationOptions): Promise<void> {
    const sent = await this.socket.sendMessage(jid, content, options)
    if (sent?.key.id && sent.message) this.opts.sentMessages.remember(sent.key.id, proto.Message.encode(sent.message).finish())
  }

  async requestPairingCode(phone: string): Promise<string> {
    return this.socket.requestPairingCode(phone)
  }

  /** Logs out: WhatsApp removes the linked device from the phone; the close that follows carries 401. */
  async logout(): Promise<void> {
    await this.socket.logout()
  }

  /** Closes the socket without logging out (shutdown, restart); the close event reports `info`. */
  end(info: CloseInfo = { kind: 'other', code: 0, reason: 'closed_by_daemon' }): void {
    if (this.closed) return
    this.finish(info)
    void this.socket.end(undefined)
  }

  private finish(info: CloseInfo): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.watchdog)
    this.socket.ev.removeAllListeners('creds.update')
    this.socket.ev.removeAllListeners('connection.update')
    this.emit('close', info)
  }
}

/** Paired once pair-success stored the ADV-signed account identity; a requested pairing code alone sets only `me`. */
function isPaired(creds: AuthenticationCreds): boolean {
  return Boolean(creds.account && creds.me?.id)
}
