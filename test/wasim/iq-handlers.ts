/**
 * Answers to the iqs a logged-in client sends (doc §3). Every iq gets a result: an unanswered one stalls
 * Baileys for defaultQueryTimeoutMs (socket.js:107-113), an error result throws (socket.js:136-138).
 */
import {
  getBinaryNodeChild,
  getBinaryNodeChildBuffer,
  getBinaryNodeChildren,
  type BinaryNode
} from '@whiskeysockets/baileys'
import { consumeOneTimePreKey, type Device, type PreKeyRegistry } from './accounts.js'
import type { SimContext } from './context.js'
import { answerUsync } from './usync.js'

export type IqAnswer = BinaryNode | BinaryNode[] | undefined

/** Lets the simulator intercept iqs that need more than an answer (logout, pairing code, media). */
export interface IqHooks {
  onRemoveCompanion(device: Device): void
  onCompanionHello(iq: BinaryNode): BinaryNode[] | undefined
  onCompanionFinish(iq: BinaryNode): void
  mediaConn(): BinaryNode | undefined
}

export function result(iq: BinaryNode, content?: BinaryNode[]): BinaryNode {
  return { tag: 'iq', attrs: { from: 's.whatsapp.net', type: 'result', id: iq.attrs.id ?? '' }, content }
}

export function answerIq(ctx: SimContext, hooks: IqHooks, device: Device | undefined, iq: BinaryNode): BinaryNode {
  const first = Array.isArray(iq.content) ? iq.content[0] : undefined
  const child = first?.tag
  const xmlns = iq.attrs.xmlns
  ctx.emit('iq', { from: device ? device.account.pnDeviceJid(device.id) : undefined, xmlns, type: iq.attrs.type, child })
  switch (xmlns) {
    case 'encrypt':
      return result(iq, device ? answerEncrypt(ctx, device, iq, child) : undefined)
    case 'usync':
      return answerUsync(ctx.registry, iq)
    case 'abt':
      // Props 10518, 9666 and 14303 switch tctoken features on (chats.js:754-796); none are set here.
      return result(iq, [{ tag: 'props', attrs: { protocol: '1', hash: 'wasim', refresh: '86400' } }])
    case 'blocklist':
      return result(iq, [{ tag: 'list', attrs: {} }])
    case 'privacy':
      return result(iq, child === 'privacy' && iq.attrs.type === 'get' ? [privacySettings()] : undefined)
    case 'w:sync:app:state':
      return result(iq, [appStateSync(iq)])
    case 'w:m':
      return result(iq, child === 'media_conn' ? optional(hooks.mediaConn()) : undefined)
    case 'md':
      return answerMd(hooks, device, iq, child)
    default:
      // w:p ping, passive, w:stats, urn:xmpp:whatsapp:dirty, tokens, profile pictures…: an empty result.
      return result(iq)
  }
}

function optional(node: BinaryNode | undefined): BinaryNode[] | undefined {
  return node ? [node] : undefined
}

function answerMd(hooks: IqHooks, device: Device | undefined, iq: BinaryNode, child: string | undefined): BinaryNode {
  if (child === 'remove-companion-device' && device) hooks.onRemoveCompanion(device)
  if (child === 'link_code_companion_reg') {
    const stage = getBinaryNodeChild(iq, 'link_code_companion_reg')?.attrs.stage
    if (stage === 'companion_hello') return result(iq, hooks.onCompanionHello(iq))
    if (stage === 'companion_finish') hooks.onCompanionFinish(iq)
  }
  return result(iq)
}

function answerEncrypt(ctx: SimContext, device: Device, iq: BinaryNode, child: string | undefined): BinaryNode[] | undefined {
  if (iq.attrs.type === 'get' && child === 'count') {
    const count = Math.max(device.keys.oneTimePreKeys.size, ctx.preKeyCountFloor ?? 0)
    return [{ tag: 'count', attrs: { value: `${count}` } }]
  }
  if (iq.attrs.type === 'get' && child === 'digest') return [digest(device.keys)]
  if (iq.attrs.type === 'get' && child === 'key') return [keyBundles(ctx, iq)]
  if (iq.attrs.type === 'set' && getBinaryNodeChild(iq, 'list')) {
    storeUploadedKeys(device.keys, iq)
    ctx.onKeysUploaded(device)
  }
  if (iq.attrs.type === 'set' && child === 'rotate') {
    const skey = getBinaryNodeChild(getBinaryNodeChild(iq, 'rotate'), 'skey')
    if (skey) device.keys.signedPreKey = parseSignedKey(skey)
  }
  return undefined
}

/** Utils/signal.js:181-200 (getNextPreKeysNode): registration, identity, list of keys, skey. */
function storeUploadedKeys(keys: PreKeyRegistry, iq: BinaryNode): void {
  const registration = getBinaryNodeChildBuffer(iq, 'registration')
  const identity = getBinaryNodeChildBuffer(iq, 'identity')
  if (registration) keys.registrationId = Buffer.from(registration).readUInt32BE(0)
  if (identity) keys.identityKey = Buffer.from(identity)
  for (const key of getBinaryNodeChildren(getBinaryNodeChild(iq, 'list'), 'key')) {
    const id = getBinaryNodeChildBuffer(key, 'id')
    const value = getBinaryNodeChildBuffer(key, 'value')
    if (id && value) keys.oneTimePreKeys.set(Buffer.from(id).readUIntBE(0, id.length), Buffer.from(value))
  }
  const skey = getBinaryNodeChild(iq, 'skey')
  if (skey) keys.signedPreKey = parseSignedKey(skey)
}

function parseSignedKey(skey: BinaryNode): PreKeyRegistry['signedPreKey'] {
  const id = getBinaryNodeChildBuffer(skey, 'id')
  const value = getBinaryNodeChildBuffer(skey, 'value')
  const signature = getBinaryNodeChildBuffer(skey, 'signature')
  if (!id || !value || !signature) throw new Error('incomplete skey')
  return { keyId: Buffer.from(id).readUIntBE(0, id.length), publicKey: Buffer.from(value), signature: Buffer.from(signature) }
}

/** The digest only has to exist; Baileys re-uploads when it is missing (socket.js:142-153). */
function digest(keys: PreKeyRegistry): BinaryNode {
  return {
    tag: 'digest',
    attrs: {},
    content: [
      { tag: 'type', attrs: {}, content: Buffer.from([5]) },
      { tag: 'registration', attrs: {}, content: uint(keys.registrationId, 4) },
      { tag: 'identity', attrs: {}, content: keys.identityKey }
    ]
  }
}

/**
 * Key bundles for `<key><user jid reason?/>…` in PN or LID form, bare or with device; each bundle
 * consumes a one-time pre-key (parsed in Utils/signal.js:100-137). Unknown devices yield an <error>.
 */
function keyBundles(ctx: SimContext, iq: BinaryNode): BinaryNode {
  const users = getBinaryNodeChildren(getBinaryNodeChild(iq, 'key'), 'user').map(user => {
    const jid = user.attrs.jid ?? ''
    const device = ctx.registry.device(jid)
    if (!device) return { tag: 'user', attrs: { jid }, content: [{ tag: 'error', attrs: { code: '404', text: 'item-not-found' } }] }
    return { tag: 'user', attrs: { jid }, content: bundleContent(device.keys) }
  })
  return { tag: 'list', attrs: {}, content: users }
}

export function bundleContent(keys: PreKeyRegistry): BinaryNode[] {
  const content: BinaryNode[] = [
    { tag: 'registration', attrs: {}, content: uint(keys.registrationId, 4) },
    { tag: 'type', attrs: {}, content: Buffer.from([5]) },
    { tag: 'identity', attrs: {}, content: keys.identityKey },
    {
      tag: 'skey',
      attrs: {},
      content: [
        { tag: 'id', attrs: {}, content: uint(keys.signedPreKey.keyId, 3) },
        { tag: 'value', attrs: {}, content: keys.signedPreKey.publicKey },
        { tag: 'signature', attrs: {}, content: keys.signedPreKey.signature }
      ]
    }
  ]
  const preKey = consumeOneTimePreKey(keys)
  if (preKey) {
    content.push({
      tag: 'key',
      attrs: {},
      content: [
        { tag: 'id', attrs: {}, content: uint(preKey.keyId, 3) },
        { tag: 'value', attrs: {}, content: preKey.publicKey }
      ]
    })
  }
  return content
}

/** `all` makes readMessages send `read` rather than `read-self` (messages-send.js:126-131). */
function privacySettings(): BinaryNode {
  const categories = ['readreceipts', 'last', 'online', 'profile', 'status', 'groupadd', 'calladd']
  return { tag: 'privacy', attrs: {}, content: categories.map(name => ({ tag: 'category', attrs: { name, value: 'all' } })) }
}

/** Every requested collection must come back, or Baileys loops (chats.js:434-527, chat-utils.js:248-283). */
function appStateSync(iq: BinaryNode): BinaryNode {
  const collections = getBinaryNodeChildren(getBinaryNodeChild(iq, 'sync'), 'collection')
  return {
    tag: 'sync',
    attrs: {},
    content: collections.map(c => ({ tag: 'collection', attrs: { name: c.attrs.name ?? '', version: c.attrs.version ?? '0' } }))
  }
}

export function uint(value: number, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes)
  buf.writeUIntBE(value, 0, bytes)
  return buf
}
