/**
 * In-memory Baileys auth state (creds + a Map-backed SignalKeyStore). Used by the simulator's virtual devices
 * and by tests that drive a real Baileys client without touching disk.
 */
import {
  initAuthCreds,
  type AuthenticationCreds,
  type AuthenticationState,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore
} from '@whiskeysockets/baileys'
import pino from 'pino'

export const silentLogger = pino({ level: 'silent' })

export class MemoryKeyStore implements SignalKeyStore {
  private readonly data = new Map<string, unknown>()

  get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]): { [id: string]: SignalDataTypeMap[T] } {
    const result: { [id: string]: SignalDataTypeMap[T] } = {}
    for (const id of ids) {
      const value = this.data.get(`${type}/${id}`)
      if (value !== undefined) result[id] = value as SignalDataTypeMap[T]
    }
    return result
  }

  set(data: SignalDataSet): void {
    for (const [type, entries] of Object.entries(data)) {
      for (const [id, value] of Object.entries(entries ?? {})) {
        if (value === null || value === undefined) this.data.delete(`${type}/${id}`)
        else this.data.set(`${type}/${id}`, value)
      }
    }
  }

  clear(): void {
    this.data.clear()
  }
}

export interface MemoryAuthState {
  state: AuthenticationState
  /** Pass to `sock.ev.on('creds.update', saveCreds)`; keeps `state.creds` current (Baileys mutates it too). */
  saveCreds: (update: Partial<AuthenticationCreds>) => void
}

export function makeMemoryAuthState(creds: AuthenticationCreds = initAuthCreds(), keys = new MemoryKeyStore()): MemoryAuthState {
  const state: AuthenticationState = { creds, keys }
  return { state, saveCreds: update => Object.assign(state.creds, update) }
}
