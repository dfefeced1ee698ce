/**
 * usync answers (doc §4.1, §8): device lists with key-index, the LID of every user (mandatory in rc14,
 * messages-send.js:312-315), and the `contact` protocol behind `sock.onWhatsApp()` (socket.js:222-246).
 */
import { getBinaryNodeChild, getBinaryNodeChildren, type BinaryNode } from '@whiskeysockets/baileys'
import type { Account, AccountRegistry } from './accounts.js'

export function answerUsync(registry: AccountRegistry, iq: BinaryNode): BinaryNode {
  const usync = getBinaryNodeChild(iq, 'usync')
  const query = getBinaryNodeChild(usync, 'query')
  const protocols = new Set(Array.isArray(query?.content) ? query.content.map(p => p.tag) : [])
  const users = getBinaryNodeChildren(getBinaryNodeChild(usync, 'list'), 'user').map(user => answerUser(registry, user, protocols))
  return {
    tag: 'iq',
    attrs: { from: 's.whatsapp.net', type: 'result', id: iq.attrs.id ?? '' },
    content: [
      {
        tag: 'usync',
        attrs: { sid: usync?.attrs.sid ?? '', mode: usync?.attrs.mode ?? 'query', context: usync?.attrs.context ?? 'interactive', last: 'true', index: '0' },
        content: [{ tag: 'list', attrs: {}, content: users }]
      }
    ]
  }
}

function answerUser(registry: AccountRegistry, user: BinaryNode, protocols: Set<string>): BinaryNode {
  const contact = getBinaryNodeChild(user, 'contact')
  const typedNumber = contact?.content ? Buffer.from(contact.content as Uint8Array).toString() : undefined
  const account = typedNumber ? registry.lookupNumber(typedNumber) : registry.resolve(user.attrs.jid ?? '')?.account
  const jid = user.attrs.jid ?? (account ? account.pnJid : `${(typedNumber ?? '').replace(/\D/g, '')}@s.whatsapp.net`)
  const content: BinaryNode[] = []
  if (protocols.has('contact')) content.push({ tag: 'contact', attrs: { type: account ? 'in' : 'out' } })
  if (protocols.has('devices') && account) content.push(deviceList(account))
  if (protocols.has('lid') && account) content.push({ tag: 'lid', attrs: { val: account.lidJid } })
  return { tag: 'user', attrs: { jid }, content }
}

/** Non-zero devices without key-index are dropped by the client (Utils/signal.js:149-151). */
function deviceList(account: Account): BinaryNode {
  const devices = [...account.devices.values()].sort((a, b) => a.id - b.id)
  return {
    tag: 'devices',
    attrs: {},
    content: [
      {
        tag: 'device-list',
        attrs: {},
        content: devices.map((d): BinaryNode => {
          const attrs: Record<string, string> = d.id === 0 ? { id: '0' } : { id: `${d.id}`, 'key-index': `${d.keyIndex}` }
          return { tag: 'device', attrs }
        })
      }
    ]
  }
}
