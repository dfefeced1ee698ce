/**
 * Responder side of WhatsApp's Noise_XX_25519_AESGCM_SHA256 handshake and the transport cipher after it.
 * Mirrors the initiator in Utils/noise-handler.js:38-100 (hash/salt/key mixing, one shared counter during
 * the handshake, transport keys = HKDF(empty, salt) with [0:32] client→server and [32:64] server→client).
 */
import { aesDecryptGCM, aesEncryptGCM, Curve, hkdf, NOISE_MODE, NOISE_WA_HEADER, proto, sha256 } from '@whiskeysockets/baileys'
import { randomKeyPair, type KeyPair } from './keys.js'

const EMPTY = Buffer.alloc(0)

function ivFor(counter: number): Buffer {
  const iv = Buffer.alloc(12)
  iv.writeUInt32BE(counter, 8)
  return iv
}

export interface ClientFinish {
  /** The client's long-term Noise static key: the credential a device logs in with. */
  clientStatic: Buffer
  payload: proto.ClientPayload
}

export class NoiseResponder {
  private hash: Buffer
  private salt: Buffer
  private key: Buffer
  private counter = 0
  private readonly ephemeral: KeyPair = randomKeyPair()
  private transport?: TransportCipher

  constructor(
    private readonly serverStatic: KeyPair,
    private readonly certChain: Buffer
  ) {
    // NOISE_MODE is exactly 32 bytes, so it is used as the initial hash as is (noise-handler.js:40-41).
    this.hash = Buffer.from(NOISE_MODE)
    this.salt = this.hash
    this.key = this.hash
    this.mixHash(NOISE_WA_HEADER)
  }

  /** Consumes ClientHello, returns the encoded ServerHello HandshakeMessage. */
  respondToHello(frame: Buffer): Buffer {
    const hello = proto.HandshakeMessage.decode(frame).clientHello
    if (!hello?.ephemeral || hello.ephemeral.length !== 32) throw new Error('bad ClientHello')
    const clientEphemeral = Buffer.from(hello.ephemeral)
    this.mixHash(clientEphemeral)
    this.mixHash(this.ephemeral.public)
    this.mixKey(Curve.sharedKey(this.ephemeral.private, clientEphemeral))
    const encryptedStatic = this.encrypt(this.serverStatic.public)
    this.mixKey(Curve.sharedKey(this.serverStatic.private, clientEphemeral))
    const encryptedCert = this.encrypt(this.certChain)
    return Buffer.from(
      proto.HandshakeMessage.encode({
        serverHello: { ephemeral: this.ephemeral.public, static: encryptedStatic, payload: encryptedCert }
      }).finish()
    )
  }

  /** Consumes ClientFinish; afterwards `transport` is available. */
  readFinish(frame: Buffer): ClientFinish {
    const finish = proto.HandshakeMessage.decode(frame).clientFinish
    if (!finish?.static || !finish.payload) throw new Error('bad ClientFinish')
    const clientStatic = this.decrypt(Buffer.from(finish.static))
    this.mixKey(Curve.sharedKey(this.ephemeral.private, clientStatic))
    const payload = proto.ClientPayload.decode(this.decrypt(Buffer.from(finish.payload)))
    const keys = hkdf(EMPTY, 64, { salt: this.salt, info: '' })
    this.transport = new TransportCipher(Buffer.from(keys.subarray(0, 32)), Buffer.from(keys.subarray(32, 64)))
    return { clientStatic, payload }
  }

  get cipher(): TransportCipher {
    if (!this.transport) throw new Error('handshake not finished')
    return this.transport
  }

  private mixHash(data: Uint8Array): void {
    this.hash = sha256(Buffer.concat([this.hash, data]))
  }

  private mixKey(ikm: Uint8Array): void {
    const out = hkdf(Buffer.from(ikm), 64, { salt: this.salt, info: '' })
    this.salt = Buffer.from(out.subarray(0, 32))
    this.key = Buffer.from(out.subarray(32, 64))
    this.counter = 0
  }

  private encrypt(plaintext: Uint8Array): Buffer {
    const ciphertext = aesEncryptGCM(plaintext, this.key, ivFor(this.counter++), this.hash)
    this.mixHash(ciphertext)
    return ciphertext
  }

  private decrypt(ciphertext: Buffer): Buffer {
    const plaintext = aesDecryptGCM(ciphertext, this.key, ivFor(this.counter++), this.hash)
    this.mixHash(ciphertext)
    return plaintext
  }
}

/** AES-256-GCM with a per-direction counter IV and empty AAD (noise-handler.js:13-37). */
export class TransportCipher {
  private readCounter = 0
  private writeCounter = 0

  constructor(
    private readonly readKey: Buffer,
    private readonly writeKey: Buffer
  ) {}

  decrypt(ciphertext: Uint8Array): Buffer {
    return aesDecryptGCM(ciphertext, this.readKey, ivFor(this.readCounter++), EMPTY)
  }

  encrypt(plaintext: Uint8Array): Buffer {
    return aesEncryptGCM(plaintext, this.writeKey, ivFor(this.writeCounter++), EMPTY)
  }
}
