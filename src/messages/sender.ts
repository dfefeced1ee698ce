import PQueue from 'p-queue'
import type { Logger } from '../logger.js'
import type { OutboundMediaStore } from './media-store.js'
import { SocketClosedError, type Messenger } from './ports.js'
import type { RecipientResolver } from './recipients.js'
import type { Message, MessageRepository } from './repository.js'
import { SocketLifetime } from './socket-lifetime.js'
import { RATE_ERROR_CODES, type StatusTracker } from './status-tracker.js'
import type { MessageType, OutboundMessage, OutboundPayload, StatusReport, StoredMedia } from './types.js'

/**
 * A send that throws for another reason than a closed socket (e.g. a media upload refused), or whose recipient
 * lookup gets no answer, is tried this often in all, RETRY_DELAY_MS × n after its n-th failure. Counted apart
 * from the row's `attempts`, which also counts the resends after a reconnect: those are not failures.
 */
const MAX_TRIES = 3
const RETRY_DELAY_MS = 1_000

export interface SenderDeps {
  repo: MessageRepository
  tracker: StatusTracker
  recipients: RecipientResolver
  media: OutboundMediaStore
  logger: Logger
  /** Delay between two sends of this instance (instances.pacing_ms, else config.sending.pacingMs). */
  pacingMs(instanceId: string): number
  ratePauseMs: number
}

type Outcome = 'done' | 'retry' | 'socket_gone'

/**
 * One instance's send queue. The queue *is* the table: queued rows in seq order. A p-queue of concurrency 1 runs
 * one drain at a time while a socket is attached; the drain hands each row to WhatsApp under its pre-generated id
 * and moves on without waiting for the server ack (statuses follow as reports).
 *
 * Crash and reconnect safety: every attach starts over from the oldest queued row, so rows whose send started but
 * whose ack never arrived (a crash or a socket drop in between) are sent again *with the same WhatsApp id*. The
 * server and the recipient's clients treat a stanza id they already have as the same message (Baileys' own retry
 * path, messages-recv.js handleRetry → relayMessage with the original id, relies on that), so the reconciliation
 * can produce at most a redelivery of one message, never a second, different one.
 */
class InstanceSender {
  private readonly queue = new PQueue({ concurrency: 1 })
  private messenger: Messenger | undefined
  private owner: object | undefined
  private unsubscribe: (() => void) | undefined
  /** The attached socket's: a send stuck on a dead socket frees the queue as soon as the socket goes away. */
  private socketLife: SocketLifetime | undefined
  private cursor = 0
  private scheduled = false
  private pausedUntil = 0
  private resumeTimer: NodeJS.Timeout | undefined
  private stopped = false
  /** Failed tries per queued message (see MAX_TRIES); an entry goes when its message leaves the queue. */
  private readonly failedTries = new Map<string, number>()

  constructor(
    readonly instanceId: string,
    private readonly deps: SenderDeps,
  ) {}

  get current(): Messenger | undefined {
    return this.messenger
  }

  get isPaused(): boolean {
    return Date.now() < this.pausedUntil
  }

  attach(messenger: Messenger, owner: object): void {
    this.detach()
    this.messenger = messenger
    this.owner = owner
    this.cursor = 0
    this.socketLife = new SocketLifetime()
    this.unsubscribe = messenger.onStatus((report) => this.onReport(report))
    this.deps.logger.info({ instanceId: this.instanceId }, 'socket open; sending queued messages')
    this.kick()
  }

  detach(owner?: object): void {
    if (owner !== undefined && owner !== this.owner) return
    this.unsubscribe?.()
    this.unsubscribe = undefined
    // A send still running fails now; its row stays queued and is sent again, under the same WhatsApp id, on the
    // next socket.
    this.socketLife?.end()
    this.socketLife = undefined
    this.messenger = undefined
    this.owner = undefined
  }

  /** New rows were queued (or a pause ended): make sure a drain runs. */
  kick(): void {
    if (this.scheduled || this.stopped || !this.messenger) return
    this.scheduled = true
    this.queue.add(() => this.drain()).catch((err: unknown) => this.deps.logger.error({ err, instanceId: this.instanceId }, 'send queue failed'))
  }

  /** Stops after the send in flight; resolves when it is done. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.resumeTimer)
    this.detach()
    await this.queue.onIdle()
  }

  private async drain(): Promise<void> {
    this.scheduled = false
    const messenger = this.messenger
    while (messenger && this.messenger === messenger && !this.stopped) {
      if (this.isPaused) return this.scheduleResume()
      const row = this.deps.repo.nextQueued(this.instanceId, this.cursor)
      if (!row) return
      const outcome = await this.sendOne(messenger, row)
      if (outcome === 'socket_gone') return
      if (outcome === 'retry') {
        await delay(RETRY_DELAY_MS * (this.failedTries.get(row.id) ?? 1))
        continue
      }
      this.failedTries.delete(row.id)
      this.cursor = row.seq
      const pacing = this.deps.pacingMs(this.instanceId)
      if (pacing > 0) await delay(pacing)
    }
  }

  private async sendOne(messenger: Messenger, row: Message): Promise<Outcome> {
    let jid = row.jid
    if (!jid) {
      // Queued while the instance was connecting: resolve now (see service.ts for when resolution happens).
      const found = await this.deps.recipients.resolve(this.instanceId, row.phone, messenger)
      if (found.kind === 'not_on_whatsapp') {
        await this.deps.tracker.fail(row, 'PHONE_NOT_ON_WHATSAPP')
        return 'done'
      }
      if (found.kind === 'unknown') {
        if (this.messenger !== messenger) return 'socket_gone'
        // No answer from WhatsApp: retried a few times, not forever — the rows behind this one wait meanwhile.
        return this.failedTry(row, 'Could not find out whether the phone is on WhatsApp')
      }
      jid = found.jid
      this.deps.repo.setJid(row.id, jid, new Date().toISOString())
    }
    let bytes: Buffer | undefined
    const media = row.media ? (JSON.parse(row.media) as StoredMedia) : null
    if (media) {
      try {
        bytes = await this.deps.media.read(media)
      } catch (err) {
        this.deps.logger.error({ err, messageId: row.id }, 'outbound media file is missing')
        await this.deps.tracker.fail(row, 'SEND_FAILED', null, 'The media file of this message is gone')
        return 'done'
      }
    }
    this.deps.tracker.sendStarted(row.id).catch((err: unknown) => this.deps.logger.warn({ err, messageId: row.id }, 'noting a send start failed'))
    try {
      const life = this.socketLife
      const send = messenger.send(toOutbound(row, media), jid, bytes)
      await (life ? life.race(send) : send)
      return 'done'
    } catch (err) {
      if (err instanceof SocketClosedError || this.messenger !== messenger) return 'socket_gone'
      this.deps.logger.warn({ err, messageId: row.id, tries: (this.failedTries.get(row.id) ?? 0) + 1 }, 'send failed')
      return this.failedTry(row, `${(err as Error).message}`.slice(0, 200))
    }
  }

  /** Counts a failed try: 'retry' while tries are left, else the message fails with `reason`. */
  private async failedTry(row: Message, reason: string): Promise<Outcome> {
    const tries = (this.failedTries.get(row.id) ?? 0) + 1
    this.failedTries.set(row.id, tries)
    if (tries < MAX_TRIES) return 'retry'
    this.failedTries.delete(row.id)
    const fresh = this.deps.repo.get(row.id)
    if (fresh) await this.deps.tracker.fail(fresh, 'SEND_FAILED', null, reason)
    return 'done'
  }

  private onReport(report: StatusReport): void {
    this.deps.tracker.report(this.instanceId, report).then(
      (change) => {
        // Stop and report: more sends into a rate limit deepen it (Baileys: "retrying counts as another reach out").
        if (change && report.status === 'failed' && report.waErrorCode !== undefined && RATE_ERROR_CODES.has(report.waErrorCode)) {
          this.pausedUntil = Date.now() + this.deps.ratePauseMs
          this.deps.logger.warn({ instanceId: this.instanceId, waCode: report.waErrorCode, pauseMs: this.deps.ratePauseMs }, 'WhatsApp rate error; send queue paused')
          this.scheduleResume()
        }
      },
      (err: unknown) => {
        // Baileys' receipt handling has already answered the server: the report is lost (a full disk); the message
        // keeps its last stored status.
        this.deps.logger.error({ err, instanceId: this.instanceId, waMessageId: report.waMessageId, status: report.status }, 'recording a status report failed')
      },
    )
  }

  private scheduleResume(): void {
    clearTimeout(this.resumeTimer)
    this.resumeTimer = setTimeout(() => this.kick(), Math.max(0, this.pausedUntil - Date.now()))
    this.resumeTimer.unref()
  }
}

function toOutbound(row: Message, media: StoredMedia | null): OutboundMessage {
  return {
    waMessageId: row.wa_message_id,
    type: row.type as MessageType,
    text: row.text,
    payload: JSON.parse(row.payload) as OutboundPayload,
    media,
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Every instance's sender; the composition root attaches a Messenger when a socket opens and detaches it on close. */
export class OutboundDispatcher {
  private readonly senders = new Map<string, InstanceSender>()

  constructor(private readonly deps: SenderDeps) {}

  sender(instanceId: string): InstanceSender {
    let sender = this.senders.get(instanceId)
    if (!sender) {
      sender = new InstanceSender(instanceId, this.deps)
      this.senders.set(instanceId, sender)
    }
    return sender
  }

  messenger(instanceId: string): Messenger | undefined {
    return this.senders.get(instanceId)?.current
  }

  attach(instanceId: string, messenger: Messenger, owner: object): void {
    this.sender(instanceId).attach(messenger, owner)
  }

  detach(instanceId: string, owner: object): void {
    this.senders.get(instanceId)?.detach(owner)
  }

  notify(instanceId: string): void {
    this.senders.get(instanceId)?.kick()
  }

  forget(instanceId: string): void {
    const sender = this.senders.get(instanceId)
    this.senders.delete(instanceId)
    void sender?.stop()
  }

  async stop(): Promise<void> {
    await Promise.all([...this.senders.values()].map((s) => s.stop()))
  }
}
