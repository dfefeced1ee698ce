/**
 * The simulator as the load source and observer of bench/webhooks.ts and bench/sends.ts, in its own process: the
 * unmodified WaSimulator (with its HTTP control API, so bench/lib/gateway.ts pairs instances as usual) plus bench-only
 * commands over the IPC channel.
 *
 * Inbound (webhooks.ts): customers send text messages at a fixed rate, relayed to the daemon's Baileys sockets as
 * WhatsApp does. The previous in-process bench shared one event loop between simulator, daemon and receiver and
 * could offer ~300/s; this process alone, encrypting as it sends, about 250/s: per message the simulator encrypts
 * to both devices of the number (the phone, played by the simulator, and the daemon), decrypts the phone's copy
 * and handles the daemon's receipt.
 *
 * So the messages of a run are encrypted before it starts (untimed), with each customer's real Signal session to
 * the daemon's device, in the order they are sent — exactly the ciphertexts `Customer.sendText` would produce —
 * and during the run each is only relayed. Only the daemon's device gets them: the copy for the number's phone
 * (a simulated device, not under test) would cost the simulator an encryption and a decryption per message and
 * changes nothing the daemon sees. The first message of each customer (the Signal pre-key message, a session
 * set-up) goes through `sendText` as usual, before any run.
 *
 * Outbound (sends.ts): the time the simulator accepted each message stanza a client sent, which is when it sends
 * the server ack (relay.ts onClientMessage: `message` event, then the ack, in one call).
 *
 * Started by the benches through `spawnNode(…, { tsx: true })` (never a measured process). Prints one JSON line
 * like `npm run sim`: {"event":"started","wsUrl","controlUrl","rootPublicKey"}.
 *
 * IPC (besides the probe preload's {id, cmd}), answered {id, data} (data.error on failure):
 *  - {bench: 'customers', id, prefix, count} → creates customers `${prefix}0000…`; answers their phones
 *  - {bench: 'warm', id, to: string[], customers: string[], idPrefix} → each customer sends one text to each number
 *    through `sendText` (sets up the sessions); answers the WhatsApp ids
 *  - {bench: 'send', id, to: string[], customers: string[], rate, count, idPrefix, text}
 *      message i goes from customer i % n to number i % to.length, WhatsApp id `${idPrefix}${i}`, relayed at
 *      start + i / rate (open model: a late message never delays the next one's schedule). Answers
 *      {scheduled: number[], sent: number[], start, end, prepareMs} with epoch-ms times
 *      (performance.timeOrigin + performance.now(), comparable across processes on one machine): `sent` is when the
 *      stanza was handed to the daemon's socket.
 *  - {bench: 'accepted', id, ids: string[]} → for each message id, when the simulator accepted (and acked) that
 *    stanza from a client, epoch ms, or null when it has not (yet)
 */
import type { BinaryNode } from '@whiskeysockets/baileys'
import type { Device } from '../../test/wasim/accounts.js'
import { unixNow } from '../../test/wasim/context.js'
import { ControlServer } from '../../test/wasim/control-server.js'
import type { Customer } from '../../test/wasim/customer.js'
import type { OutboundTarget } from '../../test/wasim/relay.js'
import { WaSimulator } from '../../test/wasim/simulator.js'
import { signalAddress, takeBundle } from '../../test/wasim/virtual-user.js'

const now = () => performance.timeOrigin + performance.now()

const sim = await WaSimulator.start({ port: 0, media: false, preKeyCountFloor: Number(process.env.WASIM_PREKEY_COUNT_FLOOR ?? 812) })
const control = new ControlServer(sim)
await control.start(0)

/** Message id → when the simulator accepted the stanza from a client (the server ack goes out in the same call). */
const accepted = new Map<string, number>()
sim.on('message', ({ id }) => {
  if (!accepted.has(id)) accepted.set(id, now())
})

interface SendJob {
  to: string[]
  customers: string[]
  rate: number
  count: number
  idPrefix: string
  text: string
}

function customerOf(phone: string): Customer {
  const c = sim.customer(phone)
  if (!c) throw new Error(`no customer ${phone}`)
  return c
}

/** The linked companion devices of a number (the daemon's sockets). */
function companionsOf(phone: string): { conversation: string; devices: Device[] } {
  const account = sim.registry.lookupNumber(phone)
  if (!account) throw new Error(`${phone} is not on WhatsApp`)
  const devices = account.companions()
  if (devices.length === 0) throw new Error(`${phone} has no linked device`)
  return { conversation: account.pnJid, devices }
}

async function warm(job: { to: string[]; customers: string[]; idPrefix: string }): Promise<string[]> {
  const ids: string[] = []
  for (const [c, phone] of job.customers.entries()) {
    for (const [t, to] of job.to.entries()) {
      const id = `${job.idPrefix}${c * job.to.length + t}`
      await customerOf(phone).sendText(to, 'warm-up', { id })
      ids.push(id)
    }
  }
  return ids
}

/** One message, encrypted for the number's companions as VirtualUser.sendMessage would (virtual-user.ts). */
async function encryptText(customer: Customer, to: { conversation: string; devices: Device[] }, id: string, text: string) {
  const targets: OutboundTarget[] = []
  for (const device of to.devices) {
    const address = signalAddress(device)
    if (!(await customer.endpoint.hasSession(address))) await customer.endpoint.startSession(address, takeBundle(device))
    const { type, ciphertext } = await customer.endpoint.encrypt(address, { conversation: text })
    targets.push({ device, content: [{ tag: 'enc', attrs: { v: '2', type }, content: ciphertext }] })
  }
  const stanza: BinaryNode = { tag: 'message', attrs: { id, to: to.conversation, type: 'text', t: unixNow() } }
  return { sender: customer.device, stanza, targets }
}

async function send(job: SendJob) {
  const customers = job.customers.map(customerOf)
  const numbers = job.to.map(companionsOf)
  const prepared0 = now()
  const messages: Array<Awaited<ReturnType<typeof encryptText>>> = []
  for (let i = 0; i < job.count; i++) {
    messages.push(await encryptText(customers[i % customers.length] as Customer, numbers[i % numbers.length]!, `${job.idPrefix}${i}`, `${job.text} ${i}`))
  }
  const prepareMs = now() - prepared0
  const scheduled = new Array<number>(job.count).fill(Number.NaN)
  const sent = new Array<number>(job.count).fill(Number.NaN)
  const start = now()
  const interval = 1000 / job.rate
  let next = 0
  while (next < job.count) {
    const due = Math.min(job.count, Math.floor((now() - start) / interval) + 1)
    for (; next < due; next++) {
      const m = messages[next]!
      scheduled[next] = start + next * interval
      m.stanza.attrs.t = unixNow()
      sim.relay.route(m.sender, m.stanza, m.targets)
      sent[next] = now()
    }
    const wait = start + next * interval - now()
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)))
  }
  return { scheduled, sent, start, end: now(), prepareMs }
}

process.on('message', (message: { bench?: string; id?: number } & Record<string, unknown>) => {
  if (!message.bench) return
  const answer = (data: unknown) => process.send?.({ id: message.id, data })
  const fail = (err: unknown) => process.send?.({ id: message.id, data: { error: err instanceof Error ? err.message : String(err) } })
  try {
    if (message.bench === 'customers') {
      const phones: string[] = []
      for (let i = 0; i < Number(message.count); i++) {
        const phone = `${String(message.prefix)}${String(i).padStart(4, '0')}`
        sim.createCustomer({ phone, pushName: `Bench customer ${i}` })
        phones.push(phone)
      }
      answer(phones)
    } else if (message.bench === 'warm') {
      warm(message as unknown as { to: string[]; customers: string[]; idPrefix: string }).then(answer, fail)
    } else if (message.bench === 'send') {
      send(message as unknown as SendJob).then(answer, fail)
    } else if (message.bench === 'accepted') {
      answer((message.ids as string[]).map((id) => accepted.get(id) ?? null))
    }
  } catch (err) {
    fail(err)
  }
})

console.log(JSON.stringify({ event: 'started', wsUrl: sim.wsUrl, controlUrl: control.url, rootPublicKey: sim.rootPublicKeyBase64 }))

const shutdown = async () => {
  await control.stop()
  await sim.stop()
  process.exit(0)
}
process.once('SIGINT', () => void shutdown())
process.once('SIGTERM', () => void shutdown())
