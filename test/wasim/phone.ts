/**
 * The account's primary device (device 0), played by the simulator: it links companions (QR scan or
 * pairing code), unlinks them, types messages (companions get the DSM copy) and, right after a companion's
 * first login, sends the history bootstrap a real phone sends (doc §5), which carries the push name.
 */
import { deflateSync } from 'node:zlib'
import { proto } from '@whiskeysockets/baileys'
import type { Account, Device } from './accounts.js'
import type { KeyPair } from './keys.js'
import { VirtualUser, type VirtualUserHost } from './virtual-user.js'

export interface PhoneHost extends VirtualUserHost {
  linkByQr(phone: Phone, qr: string): Promise<{ deviceJid: string }>
  linkByCode(phone: Phone, code: string): Promise<{ deviceJid: string }>
  unlink(device: Device): void
}

export class Phone extends VirtualUser {
  constructor(
    private readonly phoneHost: PhoneHost,
    account: Account
  ) {
    super(phoneHost, account, 'phone')
  }

  /** The account signature key: the phone's Signal identity, which signs every companion's ADV identity. */
  get identity(): KeyPair {
    const pair = this.endpoint.creds.signedIdentityKey
    return { private: Buffer.from(pair.private), public: Buffer.from(pair.public) }
  }

  get pushName(): string {
    return this.account.pushName
  }

  /** The phone's camera: links the companion currently showing this QR. Resolves once the link is verified. */
  scanQr(qr: string): Promise<{ deviceJid: string }> {
    return this.phoneHost.linkByQr(this, qr)
  }

  /** Types the 8-character code a companion got from `requestPairingCode(phone)`. */
  enterPairingCode(code: string): Promise<{ deviceJid: string }> {
    return this.phoneHost.linkByCode(this, code)
  }

  linkedDevices(): string[] {
    return this.account.companions().map(d => this.account.pnDeviceJid(d.id))
  }

  /** "Log out" a companion from the phone: stream:error 401 device_removed if online, failure 401 later. */
  async unlink(deviceJid: string): Promise<void> {
    const device = this.host.registry.device(deviceJid)
    if (!device || device.account !== this.account || device.kind !== 'companion') throw new Error(`${deviceJid} is not linked to ${this.phone}`)
    this.phoneHost.unlink(device)
  }

  /** INITIAL_BOOTSTRAP with an inline payload, so Baileys needs no media download (Utils/history.js:119-129). */
  async sendHistoryBootstrap(companion: Device, contacts: Account[]): Promise<string> {
    const history = proto.HistorySync.encode({
      syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
      progress: 100,
      phoneNumberToLidMappings: contacts.map(a => ({ pnJid: a.pnJid, lidJid: a.lidJid }))
    }).finish()
    return this.sendPeerMessage(companion, {
      protocolMessage: {
        type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
        historySyncNotification: {
          syncType: proto.Message.HistorySyncType.INITIAL_BOOTSTRAP,
          chunkOrder: 0,
          progress: 100,
          initialHistBootstrapInlinePayload: deflateSync(history)
        }
      }
    })
  }
}
