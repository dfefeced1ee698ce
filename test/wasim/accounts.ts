/**
 * Accounts (a phone number with a stable LID), their devices, and the pre-key registry the server keeps for
 * each device. Device 0 is always the account's phone; companions (real Baileys clients) get ids from 1 up.
 */
import { createHash } from 'node:crypto'
import { jidDecode, type BinaryNode } from '@whiskeysockets/baileys'

export const PN_SERVER = 's.whatsapp.net'
export const LID_SERVER = 'lid'

/** What the server stores of a device's Signal identity: everything a key bundle is built from. */
export interface PreKeyRegistry {
  registrationId: number
  /** 32-byte identity public key (no 0x05 prefix) */
  identityKey: Buffer
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer }
  /** One-time pre-keys, consumed by the first bundle fetch that hands them out. */
  oneTimePreKeys: Map<number, Buffer>
}

export type DeviceKind = 'phone' | 'companion' | 'customer'

export interface Device {
  readonly account: Account
  readonly id: number
  readonly kind: DeviceKind
  keys: PreKeyRegistry
  /** Companions only: the Noise static key recorded at pairing, the login credential. */
  noiseKey?: Buffer
  keyIndex: number
  /** Stanzas that waited for the device to come online; delivered at login with offline="1". */
  offlineQueue: BinaryNode[]
  /** The phone sends the history bootstrap after the first login following pairing. */
  needsHistoryBootstrap: boolean
}

export class Account {
  readonly devices = new Map<number, Device>()
  private nextCompanionId = 1
  private nextKeyIndex = 1

  constructor(
    readonly phone: string,
    readonly lid: string,
    public pushName: string
  ) {}

  get pnJid(): string {
    return `${this.phone}@${PN_SERVER}`
  }

  get lidJid(): string {
    return `${this.lid}@${LID_SERVER}`
  }

  pnDeviceJid(device: number): string {
    return device === 0 ? this.pnJid : `${this.phone}:${device}@${PN_SERVER}`
  }

  lidDeviceJid(device: number): string {
    return device === 0 ? this.lidJid : `${this.lid}:${device}@${LID_SERVER}`
  }

  addDevice(kind: DeviceKind, keys: PreKeyRegistry, noiseKey?: Buffer): Device {
    const id = kind === 'companion' ? this.nextCompanionId++ : 0
    const device: Device = {
      account: this,
      id,
      kind,
      keys,
      noiseKey,
      keyIndex: kind === 'companion' ? this.nextKeyIndex++ : 0,
      offlineQueue: [],
      needsHistoryBootstrap: kind === 'companion'
    }
    this.devices.set(id, device)
    return device
  }

  companions(): Device[] {
    return [...this.devices.values()].filter(d => d.kind === 'companion')
  }
}

/** A stable 15-digit LID user for a phone number: the same number always maps to the same LID. */
export function lidForPhone(phone: string): string {
  const digest = createHash('sha256').update(`wasim-lid:${phone}`).digest()
  const n = digest.readBigUInt64BE(0) % 10n ** 14n
  return (10n ** 14n + n).toString()
}

export class AccountRegistry {
  private readonly byPhone = new Map<string, Account>()
  private readonly byLid = new Map<string, Account>()
  /** "phone:device" of companions that were unlinked or logged out: their logins get failure 401. */
  private readonly removed = new Set<string>()

  create(phone: string, pushName: string): Account {
    const digits = normalizePhone(phone)
    if (this.byPhone.has(digits)) throw new Error(`account ${digits} already exists`)
    const account = new Account(digits, lidForPhone(digits), pushName)
    this.byPhone.set(digits, account)
    this.byLid.set(account.lid, account)
    return account
  }

  get(phone: string): Account | undefined {
    return this.byPhone.get(normalizePhone(phone))
  }

  all(): Account[] {
    return [...this.byPhone.values()]
  }

  /**
   * The account a number as typed belongs to. Brazilian mobiles (55 + 2-digit area + 9 + 8 digits) are
   * reachable with or without the ninth digit, as on the real service.
   */
  lookupNumber(number: string): Account | undefined {
    const digits = normalizePhone(number)
    const exact = this.byPhone.get(digits)
    if (exact) return exact
    if (digits.startsWith('55') && digits.length === 12) return this.byPhone.get(`${digits.slice(0, 4)}9${digits.slice(4)}`)
    if (digits.startsWith('55') && digits.length === 13 && digits[4] === '9') {
      return this.byPhone.get(`${digits.slice(0, 4)}${digits.slice(5)}`)
    }
    return undefined
  }

  /** Resolves a PN or LID JID (with or without device) to its account and device id. */
  resolve(jid: string): { account: Account; deviceId: number } | undefined {
    const decoded = jidDecode(jid)
    if (!decoded?.user) return undefined
    const account =
      decoded.server === LID_SERVER ? this.byLid.get(decoded.user) : decoded.server === PN_SERVER ? this.byPhone.get(decoded.user) : undefined
    return account ? { account, deviceId: decoded.device ?? 0 } : undefined
  }

  device(jid: string): Device | undefined {
    const found = this.resolve(jid)
    return found?.account.devices.get(found.deviceId)
  }

  removeDevice(device: Device): void {
    device.account.devices.delete(device.id)
    this.removed.add(`${device.account.phone}:${device.id}`)
  }

  wasRemoved(phone: string, deviceId: number): boolean {
    return this.removed.has(`${phone}:${deviceId}`)
  }
}

export function normalizePhone(phone: string): string {
  const digits = phone.replace(/@.*$/, '').replace(/:\d+$/, '').replace(/\D/g, '')
  if (!digits) throw new Error(`not a phone number: ${phone}`)
  return digits
}

/** Takes one one-time pre-key out of the registry (each is handed out once), or undefined when exhausted. */
export function consumeOneTimePreKey(keys: PreKeyRegistry): { keyId: number; publicKey: Buffer } | undefined {
  const first = keys.oneTimePreKeys.entries().next()
  if (first.done) return undefined
  const [keyId, publicKey] = first.value
  keys.oneTimePreKeys.delete(keyId)
  return { keyId, publicKey }
}
