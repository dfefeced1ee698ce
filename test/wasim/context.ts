/** The pieces of the simulator that the protocol modules share; implemented by WaSimulator. */
import type { BinaryNode } from '@whiskeysockets/baileys'
import type { AccountRegistry, Device } from './accounts.js'
import type { Connection } from './connection.js'
import type { SimEventMap, SimEventName } from './events.js'
import type { Faults } from './faults.js'

/** A device the simulator plays itself (a phone or a customer): it consumes stanzas instead of a socket. */
export interface VirtualActor {
  receive(node: BinaryNode): Promise<void>
}

export interface SimContext {
  readonly registry: AccountRegistry
  readonly faults: Faults
  /** Base delay for every receipt forwarded to a client (the `receiptDelayMs` option). */
  readonly receiptDelayMs: number
  /** Benchmarks only: the least pre-key count the server reports (the `preKeyCountFloor` option). */
  readonly preKeyCountFloor?: number
  /** host:port of the HTTPS media server, when media is on. */
  readonly mediaHost?: string
  emit<K extends SimEventName>(name: K, payload: SimEventMap[K]): void
  connectionOf(device: Device): Connection | undefined
  actorOf(device: Device): VirtualActor | undefined
  /** Called when a companion's one-time pre-keys change (the phone may now send the history bootstrap). */
  onKeysUploaded(device: Device): void
}

export function unixNow(): string {
  return `${Math.floor(Date.now() / 1000)}`
}

let stanzaCounter = 0
/** Ids for server-originated stanzas. */
export function nextServerId(): string {
  return `sim.${Date.now().toString(36)}.${(stanzaCounter++).toString(36)}`
}
