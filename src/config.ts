import path from 'node:path'
import { parseCidrList, type CidrList } from './net/cidr.js'

/** Everything the daemon reads from its environment, validated once at start and then frozen. */
export interface Config {
  readonly port: number
  readonly host: string
  readonly publicUrl: string
  readonly dataDir: string
  readonly sessionsDir: string
  readonly adminToken: string | undefined
  readonly secretKey: string | undefined
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  readonly logPretty: boolean
  readonly allowPrivateCidrs: CidrList
  /** Reverse proxies whose X-Forwarded-For is believed (TRUST_PROXY); empty: the peer address is the client. */
  readonly trustedProxies: CidrList
  readonly waWsUrl: string | undefined
  readonly plixaCoreUrl: string | undefined
  readonly plixaCoreSecret: string | undefined
  readonly limits: {
    readonly mediaMaxBytes: number
    readonly documentMaxBytes: number
    readonly mediaFetchTimeoutMs: number
    readonly bodyMaxBytes: number
  }
  readonly sessions: {
    /** How many instances boot restores at once; the rest wait in a jittered queue. */
    readonly restoreConcurrency: number
    /**
     * How many sockets may be between creation and `open` (or their first QR, or close) at once, over every
     * instance: boot restores, reconnects after a mass drop, restarts, new pairings.
     */
    readonly connectConcurrency: number
    /** Session files (SQLite connections) open at once; the least recently used beyond this is closed. */
    readonly openSessionFiles: number
    readonly qrTimeoutMs: number | undefined
    readonly keepAliveIntervalMs: number
    readonly syncFullHistory: boolean
    /** SQLite `synchronous` of the session files: NORMAL survives a process crash, FULL also power loss. */
    readonly storeSynchronous: 'NORMAL' | 'FULL'
    readonly backoffBaseMs: number
    readonly backoffMaxMs: number
    /** After this many consecutive failed connects the backoff jumps to minutes (`backoffLongMs`). */
    readonly failuresBeforeLongBackoff: number
    readonly backoffLongMs: number
    /** After this many consecutive failed connects the instance goes to `disconnected`. */
    readonly maxConsecutiveFailures: number
  }
  readonly sending: {
    /** Delay between two sends of one instance; 0 sends as fast as WhatsApp acks. */
    readonly pacingMs: number
    readonly waitSentTimeoutMs: number
    readonly idempotencyTtlMs: number
    /** After WhatsApp answers a send with a rate error (429, 463) the instance's queue stops this long. */
    readonly ratePauseMs: number
  }
  readonly webhooks: {
    readonly retryScheduleMs: readonly number[]
    readonly timeoutMs: number
    readonly perEndpointConcurrency: number
    readonly secretGraceMs: number
  }
  readonly events: {
    /**
     * Days an event, its deliveries and their attempts are kept once every delivery is over (succeeded or failed);
     * 0 keeps them forever. An event with a pending delivery is never deleted.
     */
    readonly retentionDays: number
    /**
     * How often each connected instance replays journal entries at least this old whose upsert never came
     * (INBOUND_JOURNAL_SWEEP_MS): Baileys can swallow an upsert while the socket stays up.
     */
    readonly journalSweepMs: number
  }
  readonly messages: {
    /**
     * Days a message (inbound or outbound, with its text) is kept once its status is final (received, sent, delivered,
     * read, played, failed); 0 keeps them forever. A message still to be sent (`queued`) is never deleted.
     */
    readonly retentionDays: number
  }
  readonly media: {
    readonly retentionDays: number
    readonly linkTtlSeconds: number
    readonly inlineMaxBytes: number
  }
  readonly authFailures: { readonly max: number; readonly windowMs: number }
  readonly pairing: {
    /** Lifetime of a signed pairing-page link (`POST /api/v1/instances/:id/pairing-link`). */
    readonly linkTtlSeconds: number
  }
  /** `/metrics` without the admin bearer, for scrapers on a trusted network. */
  readonly metricsPublic: boolean
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

/** Reads one variable at a time, collecting every problem so the operator sees them all at once. */
class EnvReader {
  readonly problems: string[] = []
  constructor(private readonly env: Env) {}

  string(name: string): string | undefined {
    const value = this.env[name]?.trim()
    return value === '' ? undefined : value
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`)
      return fallback
    }
    return value
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name)?.toLowerCase()
    if (raw === undefined) return fallback
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true
    if (['0', 'false', 'no', 'off'].includes(raw)) return false
    this.problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`)
    return fallback
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    if ((allowed as readonly string[]).includes(raw)) return raw as T
    this.problems.push(`${name}=${JSON.stringify(raw)}: expected one of ${allowed.join(', ')}`)
    return fallback
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    try {
      const url = new URL(raw)
      if (protocols.includes(url.protocol)) return raw
    } catch {
      // reported below
    }
    this.problems.push(`${name}=${JSON.stringify(raw)}: expected a ${protocols.join(' or ')} URL`)
    return undefined
  }

  durations(name: string, fallback: number[]): number[] {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    const parts = raw.split(',').map((part) => part.trim())
    const values = parts.map(Number)
    // An empty part ("60000," or ",,") is a mistake, not a retry at once: Number('') would read it as 0.
    if (parts.some((part) => part === '') || values.some((v) => !Number.isInteger(v) || v < 0)) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected comma-separated milliseconds, e.g. 60000,300000`)
      return fallback
    }
    return values
  }

  cidrs(name: string): CidrList {
    try {
      return parseCidrList(this.string(name) ?? '')
    } catch (err) {
      this.problems.push(`${name}: ${(err as Error).message}`)
      return parseCidrList('')
    }
  }
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const MIB = 1024 * 1024

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const e = new EnvReader(env)
  const port = e.int('PORT', 8080, 0, 65_535)
  const host = e.string('HOST') ?? '0.0.0.0'
  const secretKey = e.string('GATEWAY_SECRET_KEY')
  if (secretKey !== undefined && secretKey.length < 32) {
    e.problems.push('GATEWAY_SECRET_KEY: must be at least 32 characters (e.g. `openssl rand -base64 32`)')
  }
  const adminToken = e.string('GATEWAY_ADMIN_TOKEN')
  if (adminToken !== undefined && adminToken.length < 16) {
    e.problems.push('GATEWAY_ADMIN_TOKEN: must be at least 16 characters')
  }
  const plixaCoreUrl = e.url('PLIXA_CORE_URL', ['http:', 'https:'])
  const plixaCoreSecret = e.string('PLIXA_CORE_SECRET')
  if ((plixaCoreUrl === undefined) !== (plixaCoreSecret === undefined)) {
    e.problems.push('PLIXA_CORE_URL and PLIXA_CORE_SECRET: set both or neither')
  }
  const mediaMaxBytes = e.int('MEDIA_MAX_BYTES', 16 * MIB, 1024, 2048 * MIB)
  const documentMaxBytes = e.int('DOCUMENT_MAX_BYTES', 100 * MIB, 1024, 2048 * MIB)
  const restoreConcurrency = e.int('RESTORE_CONCURRENCY', 8, 1, 256)
  const config: Config = {
    port,
    host,
    publicUrl: (e.url('PUBLIC_URL', ['http:', 'https:']) ?? `http://localhost:${port}`).replace(/\/$/, ''),
    dataDir: path.resolve(cwd, e.string('DATA_DIR') ?? './data'),
    sessionsDir: path.resolve(cwd, e.string('SESSIONS_DIR') ?? './sessions'),
    adminToken,
    secretKey,
    logLevel: e.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    logPretty: e.bool('LOG_PRETTY', Boolean(process.stdout.isTTY)),
    allowPrivateCidrs: e.cidrs('ALLOW_PRIVATE_WEBHOOK_CIDRS'),
    trustedProxies: e.cidrs('TRUST_PROXY'),
    waWsUrl: e.url('WA_WS_URL', ['ws:', 'wss:']),
    plixaCoreUrl,
    plixaCoreSecret,
    limits: {
      mediaMaxBytes,
      documentMaxBytes,
      mediaFetchTimeoutMs: e.int('MEDIA_FETCH_TIMEOUT_MS', 30_000, 100, 10 * MINUTE),
      // Base64 of the largest media or document plus JSON framing; anything larger is refused before parsing.
      bodyMaxBytes: Math.ceil((Math.max(mediaMaxBytes, documentMaxBytes) * 4) / 3) + 64 * 1024,
    },
    sessions: {
      restoreConcurrency,
      // Defaults to the restore bound, so raising RESTORE_CONCURRENCY alone is not silently capped by this one.
      connectConcurrency: e.int('CONNECT_CONCURRENCY', restoreConcurrency, 1, 256),
      openSessionFiles: e.int('SESSIONS_OPEN_FILES', 128, 1, 100_000),
      qrTimeoutMs: env.QR_TIMEOUT_MS === undefined ? undefined : e.int('QR_TIMEOUT_MS', 20_000, 100, 10 * MINUTE),
      keepAliveIntervalMs: e.int('KEEPALIVE_INTERVAL_MS', 25_000, 100, 10 * MINUTE),
      syncFullHistory: e.bool('SYNC_FULL_HISTORY', false),
      storeSynchronous: e.oneOf('SESSIONS_SYNCHRONOUS', ['NORMAL', 'FULL'], 'NORMAL'),
      backoffBaseMs: e.int('RECONNECT_BASE_MS', 1_000, 1, HOUR),
      backoffMaxMs: e.int('RECONNECT_MAX_MS', 60_000, 1, 24 * HOUR),
      failuresBeforeLongBackoff: e.int('RECONNECT_FAILURES_BEFORE_LONG_BACKOFF', 10, 1, 1000),
      backoffLongMs: e.int('RECONNECT_LONG_MS', 5 * MINUTE, 1, 24 * HOUR),
      maxConsecutiveFailures: e.int('RECONNECT_MAX_FAILURES', 30, 1, 100_000),
    },
    sending: {
      pacingMs: e.int('SEND_PACING_MS', 0, 0, MINUTE),
      waitSentTimeoutMs: e.int('WAIT_SENT_TIMEOUT_MS', 15_000, 100, 2 * MINUTE),
      idempotencyTtlMs: e.int('IDEMPOTENCY_TTL_MS', 24 * HOUR, 1_000, 30 * 24 * HOUR),
      ratePauseMs: e.int('SEND_RATE_PAUSE_MS', 5 * MINUTE, 0, 24 * HOUR),
    },
    webhooks: {
      retryScheduleMs: e.durations('WEBHOOK_RETRY_SCHEDULE_MS', [MINUTE, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 12 * HOUR]),
      timeoutMs: e.int('WEBHOOK_TIMEOUT_MS', 10_000, 100, MINUTE),
      // An endpoint gets at most concurrency / its answer time deliveries a second, and drains a backlog from any pause
      // at that rate: 4 slots meant 200/s at a 20 ms answer, and in bench/webhooks.ts (inbound at 300/s) p99s of
      // 102–266 ms where 16 gave 37–83 ms. A hanging receiver still holds only its own 16 slots.
      perEndpointConcurrency: e.int('WEBHOOK_CONCURRENCY_PER_ENDPOINT', 16, 1, 256),
      secretGraceMs: e.int('WEBHOOK_SECRET_GRACE_MS', 24 * HOUR, 0, 30 * 24 * HOUR),
    },
    events: {
      retentionDays: e.int('EVENTS_RETENTION_DAYS', 7, 0, 3650),
      journalSweepMs: e.int('INBOUND_JOURNAL_SWEEP_MS', MINUTE, 50, HOUR),
    },
    messages: {
      retentionDays: e.int('MESSAGES_RETENTION_DAYS', 90, 0, 3650),
    },
    media: {
      retentionDays: e.int('MEDIA_RETENTION_DAYS', 30, 0, 3650),
      linkTtlSeconds: e.int('MEDIA_LINK_TTL_SECONDS', 24 * 3600, 60, 30 * 24 * 3600),
      inlineMaxBytes: e.int('MEDIA_INLINE_MAX_BYTES', 1 * MIB, 0, 16 * MIB),
    },
    authFailures: {
      max: e.int('AUTH_FAILURES_MAX', 20, 1, 1_000_000),
      windowMs: e.int('AUTH_FAILURES_WINDOW_MS', MINUTE, 1_000, HOUR),
    },
    pairing: {
      linkTtlSeconds: e.int('PAIRING_LINK_TTL_SECONDS', 15 * 60, 30, 24 * 3600),
    },
    metricsPublic: e.bool('METRICS_PUBLIC', false),
  }
  if (e.problems.length > 0) throw new ConfigError(e.problems)
  return deepFreeze(config)
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
