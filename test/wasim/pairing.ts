/**
 * Companion linking, server and phone side: pair-device refs, the QR string, the signed device identity
 * (ADV) the phone issues, verification of the companion's pair-device-sign, and the pairing-code (link code)
 * key exchange. Pure functions over bytes and nodes; the simulator wires them to connections.
 */
import { randomBytes, randomInt } from 'node:crypto'
import {
  aesDecryptCTR,
  aesDecryptGCM,
  aesEncryptCTR,
  Curve,
  derivePairingCodeKey,
  getBinaryNodeChild,
  getBinaryNodeChildBuffer,
  hkdf,
  hmacSign,
  proto,
  WA_ADV_ACCOUNT_SIG_PREFIX,
  WA_ADV_DEVICE_SIG_PREFIX,
  type BinaryNode
} from '@whiskeysockets/baileys'
import type { PreKeyRegistry } from './accounts.js'
import { sign, strictVerify, type KeyPair } from './keys.js'

export const SERVER_JID = 's.whatsapp.net'

export interface ParsedQr {
  ref: string
  noiseKey: Buffer
  identityKey: Buffer
  advSecret: Buffer
  platformId: string
}

/** Utils/companion-reg-client-utils.js:31-33: `https://wa.me/settings/linked_devices#ref,noise,identity,adv,platform` */
export function parseQr(qr: string): ParsedQr {
  const fragment = qr.includes('#') ? qr.slice(qr.indexOf('#') + 1) : qr
  const [ref, noise, identity, adv, platformId] = fragment.split(',')
  if (!ref || !noise || !identity || !adv) throw new Error(`not a WhatsApp pairing QR: ${qr}`)
  return {
    ref,
    noiseKey: Buffer.from(noise, 'base64'),
    identityKey: Buffer.from(identity, 'base64'),
    advSecret: Buffer.from(adv, 'base64'),
    platformId: platformId ?? ''
  }
}

export function newPairingRef(): string {
  return `2@${randomBytes(24).toString('base64')}`
}

/** socket.js:694-726 answers it and shows one ref per qrTimeout; running out closes with 408. */
export function pairDeviceIq(id: string, refs: string[]): BinaryNode {
  return {
    tag: 'iq',
    attrs: { from: SERVER_JID, type: 'set', id, xmlns: 'md' },
    content: [{ tag: 'pair-device', attrs: {}, content: refs.map(ref => ({ tag: 'ref', attrs: {}, content: Buffer.from(ref) })) }]
  }
}

/** The registry entry a registering companion announces in its ClientPayload (validate-connection.js:117-126). */
export function keysFromPairingData(data: proto.ClientPayload.IDevicePairingRegistrationData): PreKeyRegistry {
  if (!data.eRegid || !data.eIdent || !data.eSkeyId || !data.eSkeyVal || !data.eSkeySig) {
    throw new Error('incomplete devicePairingData')
  }
  return {
    registrationId: Buffer.from(data.eRegid).readUInt32BE(0),
    identityKey: Buffer.from(data.eIdent),
    signedPreKey: {
      keyId: Buffer.from(data.eSkeyId).readUIntBE(0, 3),
      publicKey: Buffer.from(data.eSkeyVal),
      signature: Buffer.from(data.eSkeySig)
    },
    oneTimePreKeys: new Map()
  }
}

export interface IssuedIdentity {
  /** Encoded ADVDeviceIdentity */
  details: Buffer
  /** Encoded ADVSignedDeviceIdentityHMAC, the content of <device-identity> in pair-success */
  hmacWrapped: Buffer
  keyIndex: number
}

/** What the phone signs when it links a companion (doc §2.3; checked in validate-connection.js:128-166). */
export function issueDeviceIdentity(account: KeyPair, companionIdentity: Buffer, advSecret: Buffer, keyIndex: number): IssuedIdentity {
  const details = Buffer.from(
    proto.ADVDeviceIdentity.encode({
      rawId: randomInt(1, 2 ** 31),
      timestamp: Math.floor(Date.now() / 1000),
      keyIndex
    }).finish()
  )
  const accountSignature = sign(account.private, Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, details, companionIdentity]))
  const signed = Buffer.from(
    proto.ADVSignedDeviceIdentity.encode({ details, accountSignatureKey: account.public, accountSignature }).finish()
  )
  const hmac = hmacSign(signed, advSecret)
  const hmacWrapped = Buffer.from(proto.ADVSignedDeviceIdentityHMAC.encode({ details: signed, hmac }).finish())
  return { details, hmacWrapped, keyIndex }
}

export function pairSuccessIq(id: string, identity: IssuedIdentity, deviceJid: string, lidJid: string, bizName?: string): BinaryNode {
  const content: BinaryNode[] = [
    { tag: 'device-identity', attrs: {}, content: identity.hmacWrapped },
    { tag: 'platform', attrs: { name: 'android' } },
    { tag: 'device', attrs: { jid: deviceJid, lid: lidJid } }
  ]
  if (bizName) content.push({ tag: 'biz', attrs: { name: bizName } })
  return { tag: 'iq', attrs: { from: SERVER_JID, type: 'set', id, xmlns: 'md' }, content: [{ tag: 'pair-success', attrs: {}, content }] }
}

/**
 * Checks the companion's <pair-device-sign> reply: same details the phone issued, a real account signature,
 * and a device signature made with the companion identity key (validate-connection.js:153-160).
 */
export function verifyPairDeviceSign(reply: BinaryNode, issued: IssuedIdentity, companionIdentity: Buffer, account: KeyPair): boolean {
  const identityNode = getBinaryNodeChild(getBinaryNodeChild(reply, 'pair-device-sign'), 'device-identity')
  if (!(identityNode?.content instanceof Uint8Array)) return false
  const signed = proto.ADVSignedDeviceIdentity.decode(identityNode.content)
  if (!signed.details || !signed.accountSignature || !signed.deviceSignature) return false
  if (!Buffer.from(signed.details).equals(issued.details)) return false
  const accountMsg = Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, issued.details, companionIdentity])
  const deviceMsg = Buffer.concat([WA_ADV_DEVICE_SIG_PREFIX, issued.details, companionIdentity, account.public])
  return strictVerify(account.public, accountMsg, signed.accountSignature) && strictVerify(companionIdentity, deviceMsg, signed.deviceSignature)
}

// ---- pairing code (link code) -------------------------------------------------------------------------

/** What a companion sent in `link_code_companion_reg stage=companion_hello` (socket.js:602-651). */
export interface CompanionHello {
  phone: string
  wrappedEphemeral: Buffer
  noiseKey: Buffer
}

export function parseCompanionHello(iq: BinaryNode): CompanionHello | undefined {
  const reg = getBinaryNodeChild(iq, 'link_code_companion_reg')
  const wrapped = getBinaryNodeChildBuffer(reg, 'link_code_pairing_wrapped_companion_ephemeral_pub')
  const noiseKey = getBinaryNodeChildBuffer(reg, 'companion_server_auth_key_pub')
  if (!reg || reg.attrs.stage !== 'companion_hello' || !wrapped || !noiseKey) return undefined
  return { phone: (reg.attrs.jid ?? '').split('@')[0] ?? '', wrappedEphemeral: Buffer.from(wrapped), noiseKey: Buffer.from(noiseKey) }
}

/** The phone's half of the code exchange, started when the user types the code on the phone. */
export interface PrimaryCodeExchange {
  ref: Buffer
  primaryEphemeral: KeyPair
  companionEphemeralPub: Buffer
  notification: BinaryNode
}

/** Unwraps `salt(32) ‖ iv(16) ‖ AES-CTR(pub)` with PBKDF2(code, salt) (messages-recv.js:1016-1023). */
async function unwrapWithCode(code: string, wrapped: Buffer): Promise<Buffer> {
  const key = await derivePairingCodeKey(code, wrapped.subarray(0, 32))
  return aesDecryptCTR(wrapped.subarray(48, 80), key, wrapped.subarray(32, 48))
}

async function wrapWithCode(code: string, pub: Buffer): Promise<Buffer> {
  const salt = randomBytes(32)
  const iv = randomBytes(16)
  const key = await derivePairingCodeKey(code, salt)
  return Buffer.concat([salt, iv, aesEncryptCTR(pub, key, iv)])
}

/**
 * Builds the `<notification type="link_code_companion_reg">` the server pushes once the phone accepted the
 * code (handled in messages-recv.js:881-940). A wrong code yields a wrong companion key; the exchange then
 * fails when the companion's bundle does not decrypt.
 */
export async function startCodeExchange(code: string, hello: CompanionHello, accountIdentity: KeyPair, notificationId: string): Promise<PrimaryCodeExchange> {
  const companionEphemeralPub = await unwrapWithCode(code, hello.wrappedEphemeral)
  const primaryEphemeral = Curve.generateKeyPair() as KeyPair
  const ref = Buffer.from(newPairingRef())
  const notification: BinaryNode = {
    tag: 'notification',
    attrs: { from: SERVER_JID, type: 'link_code_companion_reg', id: notificationId, t: `${Math.floor(Date.now() / 1000)}` },
    content: [
      {
        tag: 'link_code_companion_reg',
        attrs: {},
        content: [
          { tag: 'link_code_pairing_ref', attrs: {}, content: ref },
          { tag: 'primary_identity_pub', attrs: {}, content: accountIdentity.public },
          { tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: await wrapWithCode(code, Buffer.from(primaryEphemeral.public)) }
        ]
      }
    ]
  }
  return { ref, primaryEphemeral: { private: Buffer.from(primaryEphemeral.private), public: Buffer.from(primaryEphemeral.public) }, companionEphemeralPub, notification }
}

/**
 * Reads `stage=companion_finish`, decrypts the key bundle and derives the ADV secret both sides now share
 * (the companion's derivation is messages-recv.js:886-905). Returns the companion identity key and secret.
 */
export function finishCodeExchange(exchange: PrimaryCodeExchange, finishIq: BinaryNode, accountIdentity: KeyPair): { companionIdentity: Buffer; advSecret: Buffer } {
  const reg = getBinaryNodeChild(finishIq, 'link_code_companion_reg')
  const wrappedBundle = getBinaryNodeChildBuffer(reg, 'link_code_pairing_wrapped_key_bundle')
  const ref = getBinaryNodeChildBuffer(reg, 'link_code_pairing_ref')
  if (!wrappedBundle || !ref || !Buffer.from(ref).equals(exchange.ref)) throw new Error('companion_finish does not match the exchange')
  const bundle = Buffer.from(wrappedBundle)
  const companionShared = Curve.sharedKey(exchange.primaryEphemeral.private, exchange.companionEphemeralPub)
  const bundleKey = hkdf(companionShared, 32, { salt: bundle.subarray(0, 32), info: 'link_code_pairing_key_bundle_encryption_key' })
  const plain = aesDecryptGCM(bundle.subarray(44), Buffer.from(bundleKey), bundle.subarray(32, 44), Buffer.alloc(0))
  const companionIdentity = plain.subarray(0, 32)
  const primaryIdentity = plain.subarray(32, 64)
  const random = plain.subarray(64, 96)
  if (!primaryIdentity.equals(accountIdentity.public)) throw new Error('companion bundle names another primary')
  const identityShared = Curve.sharedKey(accountIdentity.private, companionIdentity)
  const advSecret = Buffer.from(hkdf(Buffer.concat([companionShared, identityShared, random]), 32, { info: 'adv_secret' }))
  return { companionIdentity: Buffer.from(companionIdentity), advSecret }
}
