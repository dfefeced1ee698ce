/**
 * The baseline process for bench/sessions.ts, bench/restore.ts, bench/webhooks.ts and bench/sends.ts: bare Baileys sockets (`makeWASocket` with
 * in-memory auth, Baileys' defaults, a silent logger) logged in with the credentials of sessions a daemon paired,
 * and nothing else — no database, no HTTP, no event handling. Run only while no daemon uses those sessions (one
 * device, one connection).
 *
 * Env: BARE_WS_URL, BARE_SESSIONS_DIR, BARE_SECRET_KEY, BARE_IDS (comma-separated instance ids, may be empty),
 * BARE_OPEN (how many of them to open at start, default all), BARE_CONCURRENCY (opening at once, default 64).
 * IPC {type: 'grow', count} opens more, up to `count` in all; {type: 'arrivals'} (bench/webhooks.ts, the inbound
 * baseline) answers {event: 'arrivals', arrivals: [waId, epochMs][]} over IPC: when each WhatsApp id was first emitted
 * in `messages.upsert`, since the last such request.
 * {type: 'send', prefix, count, rate, to: string[]} (bench/sends.ts, the sustained-send baseline) sends `count` texts
 * at `rate` per second on schedule (open model): message i from socket i % n to `${to[⌊i / n⌋ % to.length]}` (a phone
 * number), WhatsApp id `${prefix}${i}`, through `sendMessage`; answers {event: 'sent', sent: [waId, epochMs][],
 * errors, firstError} once every send settled, with when each call was made.
 * Prints JSON lines: {"event":"ready", count, openMs} each time every requested socket is open,
 * {"event":"closed", id, code} for a socket that closes. SIGTERM ends the sockets and exits.
 */
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import makeWASocket, { type AuthenticationCreds, type SignalDataSet, type WASocket } from '@whiskeysockets/baileys'
import { makeMemoryAuthState, MemoryKeyStore, silentLogger } from '../../test/wasim/memory-auth.js'
import { SessionStore } from '../../src/whatsapp/auth-store.js'
import { Sealer } from '../../src/security/sealing.js'
import { mapBounded } from './load.js'

const env = process.env
const ids = (env.BARE_IDS ?? '').split(',').filter(Boolean)
const sessionsDir = env.BARE_SESSIONS_DIR ?? ''
const concurrency = Number(env.BARE_CONCURRENCY ?? 64)
const sealer = new Sealer(env.BARE_SECRET_KEY ?? '', 'sessions')
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`)
const sockets: WASocket[] = []
let stopping = false
/** WhatsApp id → when `messages.upsert` first carried it (epoch ms, comparable across processes on one machine). */
let arrivals = new Map<string, number>()

/** Creds and every stored key of one session, copied into memory. */
function loadSession(id: string): { creds: AuthenticationCreds; keys: MemoryKeyStore } {
  const store = SessionStore.open(sessionsDir, id, sealer)
  try {
    const state = store.authState()
    const index = new BetterSqlite3(path.join(sessionsDir, `${id}.db`), { readonly: true })
    const rows = index.prepare('SELECT type, id FROM keys').all() as Array<{ type: string; id: string }>
    index.close()
    const keys = new MemoryKeyStore()
    const byType = new Map<string, string[]>()
    for (const row of rows) byType.set(row.type, [...(byType.get(row.type) ?? []), row.id])
    for (const [type, typeIds] of byType) keys.set({ [type]: state.keys.get(type as 'session', typeIds) } as SignalDataSet)
    return { creds: state.creds, keys }
  } finally {
    store.close()
  }
}

function open(id: string): Promise<void> {
  const { creds, keys } = loadSession(id)
  const auth = makeMemoryAuthState(creds, keys)
  const sock = makeWASocket({ waWebSocketUrl: env.BARE_WS_URL, auth: auth.state, logger: silentLogger })
  sockets.push(sock)
  sock.ev.on('creds.update', auth.saveCreds)
  sock.ev.on('messages.upsert', ({ messages }) => {
    const at = performance.timeOrigin + performance.now()
    for (const m of messages) if (m.key.id && !arrivals.has(m.key.id)) arrivals.set(m.key.id, at)
  })
  return new Promise((resolve) => {
    sock.ev.on('connection.update', (u) => {
      if (u.connection === 'open') resolve()
      if (u.connection === 'close') {
        const code = (u.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output?.statusCode
        if (!stopping) print({ event: 'closed', id, code })
        resolve() // counted as done; the parent sees the `closed` line and fails the run
      }
    })
  })
}

let opened = 0
async function growTo(count: number): Promise<void> {
  const started = performance.now()
  const batch = ids.slice(opened, Math.min(count, ids.length))
  opened += batch.length
  await mapBounded(batch, concurrency, open)
  print({ event: 'ready', count: opened, openMs: performance.now() - started })
}

let growing = growTo(Number(env.BARE_OPEN ?? ids.length))
/** The sustained-send baseline: texts on a fixed schedule over every socket (see the header). */
async function sendAtRate(job: { prefix: string; count: number; rate: number; to: string[] }): Promise<void> {
  const sent: Array<[string, number]> = []
  const pending: Array<Promise<unknown>> = []
  let errors = 0
  let firstError: string | undefined
  const start = performance.now()
  for (let i = 0; i < job.count; i++) {
    const wait = start + (i * 1000) / job.rate - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const sock = sockets[i % sockets.length]!
    const to = `${job.to[Math.floor(i / sockets.length) % job.to.length]}@s.whatsapp.net`
    const id = `${job.prefix}${i}`
    sent.push([id, performance.timeOrigin + performance.now()])
    pending.push(
      sock.sendMessage(to, { text: `bare ${i}` }, { messageId: id }).catch((err: unknown) => {
        errors++
        firstError ??= err instanceof Error ? err.message : String(err)
      }),
    )
  }
  await Promise.all(pending)
  process.send?.({ event: 'sent', sent, errors, firstError })
}

process.on('message', (message: { type?: string; count?: number } & Record<string, unknown>) => {
  if (message.type === 'grow') growing = growing.then(() => growTo(Number(message.count)))
  if (message.type === 'send') void sendAtRate(message as unknown as { prefix: string; count: number; rate: number; to: string[] })
  if (message.type === 'arrivals') {
    process.send?.({ event: 'arrivals', arrivals: [...arrivals] })
    arrivals = new Map()
  }
})
// Idle: the sockets' own keep-alive timers are all that runs; this one only keeps a 0-socket process alive.
const idle = setInterval(() => undefined, 60_000)
process.once('SIGTERM', () => {
  stopping = true
  clearInterval(idle)
  for (const sock of sockets) sock.end(undefined)
  setTimeout(() => process.exit(0), 500).unref()
})
