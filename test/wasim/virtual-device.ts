/**
 * A Signal endpoint played by the simulator (a customer's phone, or an account's own phone): Baileys' own
 * Signal repository (DEFAULT_CONNECTION_CONFIG.makeSignalRepository) over an in-memory store, so what it
 * encrypts the real client decrypts and vice versa (doc §5 B).
 */
import {
  addTransactionCapability,
  Curve,
  DEFAULT_CONNECTION_CONFIG,
  encodeWAMessage,
  initAuthCreds,
  proto,
  unpadRandomMax16,
  type SignalKeyStore,
  type SignalRepositoryWithLIDStore
} from '@whiskeysockets/baileys'
import type { PreKeyRegistry } from './accounts.js'
import { MemoryKeyStore, silentLogger } from './memory-auth.js'

const ONE_TIME_PRE_KEYS = 20

export type EncType = 'pkmsg' | 'msg'

/** A key bundle as the server hands it out (doc §4.2). */
export interface KeyBundle {
  registrationId: number
  identityKey: Buffer
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer }
  preKey?: { keyId: number; publicKey: Buffer }
}

export class SignalEndpoint {
  readonly creds = initAuthCreds()
  private readonly repository: SignalRepositoryWithLIDStore

  /** `store`: where its keys live (in memory unless a benchmark gives it the daemon's own store). */
  constructor(private readonly store: SignalKeyStore = new MemoryKeyStore()) {
    const keys = addTransactionCapability(this.store, silentLogger, { maxCommitRetries: 1, delayBetweenTriesMs: 0 })
    this.repository = DEFAULT_CONNECTION_CONFIG.makeSignalRepository({ creds: this.creds, keys }, silentLogger)
  }

  /** Generates one-time pre-keys and returns the registry entry the server publishes for this endpoint. */
  publishKeys(count = ONE_TIME_PRE_KEYS): PreKeyRegistry {
    const oneTimePreKeys = new Map<number, Buffer>()
    const stored: Record<string, { private: Uint8Array; public: Uint8Array }> = {}
    for (let i = 0; i < count; i++) {
      const keyId = this.creds.nextPreKeyId++
      const pair = Curve.generateKeyPair()
      stored[keyId] = pair
      oneTimePreKeys.set(keyId, Buffer.from(pair.public))
    }
    this.store.set({ 'pre-key': stored })
    const { signedPreKey } = this.creds
    return {
      registrationId: this.creds.registrationId,
      identityKey: Buffer.from(this.creds.signedIdentityKey.public),
      signedPreKey: {
        keyId: signedPreKey.keyId,
        publicKey: Buffer.from(signedPreKey.keyPair.public),
        signature: Buffer.from(signedPreKey.signature)
      },
      oneTimePreKeys
    }
  }

  async hasSession(jid: string): Promise<boolean> {
    return (await this.repository.validateSession(jid)).exists
  }

  async startSession(jid: string, bundle: KeyBundle): Promise<void> {
    await this.repository.injectE2ESession({
      jid,
      session: {
        registrationId: bundle.registrationId,
        identityKey: withTypePrefix(bundle.identityKey),
        signedPreKey: { ...bundle.signedPreKey, publicKey: withTypePrefix(bundle.signedPreKey.publicKey) },
        ...(bundle.preKey ? { preKey: { ...bundle.preKey, publicKey: withTypePrefix(bundle.preKey.publicKey) } } : {})
      }
    })
  }

  async dropSession(jid: string): Promise<void> {
    await this.repository.deleteSession([jid])
  }

  async encrypt(jid: string, message: proto.IMessage): Promise<{ type: EncType; ciphertext: Buffer }> {
    const { type, ciphertext } = await this.repository.encryptMessage({ jid, data: encodeWAMessage(message) })
    return { type, ciphertext: Buffer.from(ciphertext) }
  }

  async decrypt(jid: string, type: EncType, ciphertext: Uint8Array): Promise<proto.Message> {
    const padded = await this.repository.decryptMessage({ jid, type, ciphertext })
    return proto.Message.decode(unpadRandomMax16(padded))
  }
}

function withTypePrefix(key: Buffer): Buffer {
  return key.length === 33 ? key : Buffer.concat([Buffer.from([5]), key])
}
