/**
 * Test support: a real, unmodified Baileys client pointed at the simulator, with in-memory auth and helpers
 * that wait on its events (never on sleeps).
 */
import { EventEmitter } from 'node:events'
import makeWASocket, {
  type BaileysEventMap,
  type ConnectionState,
  type UserFacingSocketConfig,
  type WASocket
} from '@whiskeysockets/baileys'
import { makeMemoryAuthState, silentLogger, type MemoryAuthState } from './memory-auth.js'
import type { Phone } from './phone.js'
import type { WaSimulator } from './simulator.js'

export interface TestClient {
  sock: WASocket
  auth: MemoryAuthState
  /** Every connection.update so far, in order. */
  updates: Partial<ConnectionState>[]
  waitForUpdate(predicate: (u: Partial<ConnectionState>) => boolean, timeoutMs?: number): Promise<Partial<ConnectionState>>
  waitForEvent<K extends keyof BaileysEventMap>(name: K, predicate?: (p: BaileysEventMap[K]) => boolean, timeoutMs?: number): Promise<BaileysEventMap[K]>
  /** Highest status seen per message id, from messages.update and messages.upsert (doc §4.8). */
  statuses: Map<string, number>
  waitForStatus(id: string, atLeast: number, timeoutMs?: number): Promise<number>
  /** Resolves with the statusCode of the close (DisconnectReason). */
  waitForClose(timeoutMs?: number): Promise<number | undefined>
  end(): void
}

export type ClientOptions = Partial<UserFacingSocketConfig>

export function connectClient(sim: Pick<WaSimulator, 'wsUrl'>, auth: MemoryAuthState = makeMemoryAuthState(), options: ClientOptions = {}): TestClient {
  const sock = makeWASocket({
    waWebSocketUrl: sim.wsUrl,
    auth: auth.state,
    logger: silentLogger,
    markOnlineOnConnect: false,
    syncFullHistory: false,
    ...options
  })
  sock.ev.on('creds.update', auth.saveCreds)
  const updates: Partial<ConnectionState>[] = []
  sock.ev.on('connection.update', u => updates.push(u))

  const waitForEvent = <K extends keyof BaileysEventMap>(name: K, predicate: (p: BaileysEventMap[K]) => boolean = () => true, timeoutMs = 5000) =>
    new Promise<BaileysEventMap[K]>((resolve, reject) => {
      const listener = (payload: BaileysEventMap[K]) => {
        if (!predicate(payload)) return
        clearTimeout(timer)
        sock.ev.off(name, listener)
        resolve(payload)
      }
      const timer = setTimeout(() => {
        sock.ev.off(name, listener)
        reject(new Error(`client: no ${String(name)} matched within ${timeoutMs} ms`))
      }, timeoutMs)
      sock.ev.on(name, listener)
    })

  // Baileys may deliver the first status inside a held upsert rather than as messages.update (doc §4.8).
  const statuses = new Map<string, number>()
  const statusEvents = new EventEmitter()
  const noteStatus = (id: string | null | undefined, status: number | null | undefined) => {
    if (!id || typeof status !== 'number') return
    if (status > (statuses.get(id) ?? -1) || status === 0) statuses.set(id, status)
    statusEvents.emit('status', id)
  }
  sock.ev.on('messages.update', updates => updates.forEach(u => noteStatus(u.key.id, u.update.status)))
  sock.ev.on('messages.upsert', ({ messages }) => messages.forEach(m => noteStatus(m.key.id, m.status)))
  const waitForStatus = (id: string, atLeast: number, timeoutMs = 5000) =>
    new Promise<number>((resolve, reject) => {
      const check = () => {
        const status = statuses.get(id)
        if (status === undefined || (status < atLeast && status !== 0)) return false
        statusEvents.off('status', onStatus)
        clearTimeout(timer)
        resolve(status)
        return true
      }
      const onStatus = (changed: string) => changed === id && check()
      const timer = setTimeout(() => {
        statusEvents.off('status', onStatus)
        reject(new Error(`client: message ${id} did not reach status ${atLeast} within ${timeoutMs} ms (has ${statuses.get(id)})`))
      }, timeoutMs)
      statusEvents.on('status', onStatus)
      check()
    })

  const waitForUpdate = (predicate: (u: Partial<ConnectionState>) => boolean, timeoutMs = 5000) => {
    const seen = updates.find(predicate)
    return seen ? Promise.resolve(seen) : waitForEvent('connection.update', predicate, timeoutMs)
  }

  return {
    sock,
    auth,
    updates,
    statuses,
    waitForStatus,
    waitForUpdate,
    waitForEvent,
    async waitForClose(timeoutMs = 5000) {
      const update = await waitForUpdate(u => u.connection === 'close', timeoutMs)
      return closeCode(update)
    },
    end() {
      sock.end(undefined)
    }
  }
}

export function closeCode(update: Partial<ConnectionState>): number | undefined {
  const error = update.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined
  return error?.output?.statusCode
}

/**
 * QR-pairs a fresh client with `phone` and reconnects after the 515, resolving once `connection: 'open'`.
 * Returns the open client and the device JID.
 */
export async function pairClient(sim: WaSimulator, phone: Phone, options: ClientOptions = {}): Promise<{ client: TestClient; deviceJid: string }> {
  const first = connectClient(sim, makeMemoryAuthState(), options)
  const { qr } = await first.waitForUpdate(u => !!u.qr)
  const { deviceJid } = await phone.scanQr(qr ?? '')
  const code = await first.waitForClose()
  if (code !== 515) throw new Error(`expected 515 after pairing, got ${code}`)
  const client = connectClient(sim, first.auth, options)
  await client.waitForUpdate(u => u.connection === 'open')
  return { client, deviceJid }
}
