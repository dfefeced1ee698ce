import QRCode from 'qrcode'
import { ApiClient, ApiError } from './api.js'
import { UsageError, type CliArgs } from './args.js'
import { connectedAs, instanceDetails, instancesTable, type InstanceView } from './format.js'

export interface CliContext {
  args: CliArgs
  env: Record<string, string | undefined>
  out(text: string): void
  err(text: string): void
  /** Aborted on Ctrl-C: long-running commands (qr, events) stop reading their stream. */
  signal: AbortSignal
  isTty: boolean
}

type Command = (ctx: CliContext, operands: string[]) => Promise<number>

function adminClient(ctx: CliContext): ApiClient {
  const token = ctx.args.token ?? ctx.env.GATEWAY_ADMIN_TOKEN
  if (!token) throw new UsageError('an admin token is needed: --token <token> or GATEWAY_ADMIN_TOKEN')
  return new ApiClient(ctx.args.url, { kind: 'bearer', token })
}

function operand(operands: string[], index: number, name: string): string {
  const value = operands[index]
  if (!value) throw new UsageError(`missing <${name}>`)
  return value
}

const idPath = (id: string) => `/api/v1/instances/${encodeURIComponent(id)}`

function printInstance(ctx: CliContext, instance: InstanceView): void {
  ctx.out(ctx.args.json ? JSON.stringify(instance, null, 2) : instanceDetails(instance))
}

const instances: Record<string, Command> = {
  async list(ctx) {
    const list = await adminClient(ctx).call<InstanceView[]>('GET', `/api/v1/instances${ctx.args.tenant ? `?tenant_id=${encodeURIComponent(ctx.args.tenant)}` : ''}`)
    ctx.out(ctx.args.json ? JSON.stringify(list, null, 2) : instancesTable(list))
    return 0
  },
  async create(ctx) {
    const body = { ...(ctx.args.name ? { name: ctx.args.name } : {}), ...(ctx.args.tenant ? { tenant_id: ctx.args.tenant } : {}) }
    const created = await adminClient(ctx).call<InstanceView>('POST', '/api/v1/instances', body)
    if (ctx.args.json) {
      ctx.out(JSON.stringify(created, null, 2))
      return 0
    }
    ctx.out(instanceDetails(created))
    ctx.out(`token:           ${created.token ?? '-'}   (shown once: keep it for sending)`)
    ctx.out(`\nNext: wagw qr ${created.id}   (or: wagw pairing-link ${created.id})`)
    return 0
  },
  async get(ctx, ops) {
    printInstance(ctx, await adminClient(ctx).call<InstanceView>('GET', idPath(operand(ops, 0, 'id'))))
    return 0
  },
  async restart(ctx, ops) {
    const instance = await adminClient(ctx).call<InstanceView>('POST', `${idPath(operand(ops, 0, 'id'))}/restart`)
    ctx.out(ctx.args.json ? JSON.stringify(instance, null, 2) : `Restarting ${instance.id}: ${instance.status}`)
    return 0
  },
  async disconnect(ctx, ops) {
    const instance = await adminClient(ctx).call<InstanceView>('POST', `${idPath(operand(ops, 0, 'id'))}/disconnect`)
    ctx.out(ctx.args.json ? JSON.stringify(instance, null, 2) : `Disconnected ${instance.id}: the device is unlinked from the phone`)
    return 0
  },
  async delete(ctx, ops) {
    const id = operand(ops, 0, 'id')
    await adminClient(ctx).call('DELETE', idPath(id))
    ctx.out(`Deleted ${id}`)
    return 0
  },
}

/** Prints each new QR as it arrives on the instance's event stream; exits 0 once the phone is linked. */
const qr: Command = async (ctx, ops) => {
  const id = operand(ops, 0, 'id')
  const client = adminClient(ctx)
  let current: InstanceView | undefined
  for await (const { event, data } of client.events(`${idPath(id)}/events`, ctx.signal)) {
    if (event === 'instance' || event === 'status') {
      const instance = (event === 'status' ? (data as { instance: InstanceView }).instance : data) as InstanceView
      current = instance
      if (instance.status === 'connected') {
        ctx.out(connectedAs(instance))
        return 0
      }
      if (instance.status === 'disconnected') {
        ctx.err(`Pairing stopped: ${instance.status_reason ?? 'disconnected'}. Start a new QR cycle: wagw instances restart ${id}`)
        return 1
      }
    } else if (event === 'qr') {
      const { qr: text, attempt, expires_at: expiresAt } = data as { qr: string; attempt: number; expires_at: string }
      const art = await QRCode.toString(text, { type: 'terminal', small: true })
      // On a terminal each new code replaces the last one; in a pipe they follow each other.
      if (ctx.isTty) ctx.out('\x1b[2J\x1b[H')
      ctx.out(art)
      ctx.out(`QR ${attempt} for ${current?.name ?? id}, valid until ${new Date(expiresAt).toLocaleTimeString()}`)
      ctx.out('Scan it: WhatsApp → Settings / Menu → Linked devices → Link a device. Waiting…')
    }
  }
  if (ctx.signal.aborted) return 130
  ctx.err('The event stream ended before the phone was linked')
  return 1
}

/** Connexa-style text send with the instance's Basic credentials. */
const send: Command = async (ctx, ops) => {
  const instanceId = operand(ops, 0, 'instance-id')
  const phone = operand(ops, 1, 'phone')
  const text = ops.slice(2).join(' ')
  if (!text) throw new UsageError('missing <text>')
  const token = ctx.args.token ?? ctx.env.WAGW_INSTANCE_TOKEN
  if (!token) throw new UsageError('the instance token is needed: --token <token> or WAGW_INSTANCE_TOKEN')
  const client = new ApiClient(ctx.args.url, { kind: 'basic', user: instanceId, token })
  const answer = await client.call<{ message_id: string; status: string }>('POST', '/api/v1/message/text', { phone, data: { text } })
  ctx.out(ctx.args.json ? JSON.stringify(answer, null, 2) : `Queued ${answer.message_id} (${answer.status}) to +${phone.replace(/^\+/, '')}`)
  return 0
}

/** Tails the instance's live event stream, one line per event, until Ctrl-C. */
const events: Command = async (ctx, ops) => {
  const id = operand(ops, 0, 'instance-id')
  for await (const { event, data } of adminClient(ctx).events(`${idPath(id)}/events`, ctx.signal)) {
    if (ctx.args.json) ctx.out(JSON.stringify({ event, data }))
    else ctx.out(`${new Date().toISOString().slice(11, 23)}  ${event.padEnd(8)}  ${summarise(event, data)}`)
  }
  if (ctx.signal.aborted) return 130
  // The daemon ended the stream (it stopped, or the instance was deleted): a supervisor or script must see it.
  ctx.err('The event stream ended')
  return 1
}

const pairingLink: Command = async (ctx, ops) => {
  const link = await adminClient(ctx).call<{ url: string; expires_at: string }>('POST', `${idPath(operand(ops, 0, 'id'))}/pairing-link`)
  ctx.out(ctx.args.json ? JSON.stringify(link, null, 2) : `${link.url}\n(valid until ${link.expires_at})`)
  return 0
}

function summarise(event: string, data: unknown): string {
  const d = data as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- event payloads are free-form
  if (event === 'status') return `${d.from ?? '-'} → ${d.to} (${d.reason})`
  if (event === 'qr') return `new QR, attempt ${d.attempt}, valid until ${d.expires_at}`
  if (event === 'instance') return `${d.id} ${d.status}${d.phone ? ` +${d.phone}` : ''}${d.push_name ? ` (${d.push_name})` : ''}`
  return JSON.stringify(data)
}

export const USAGE = `wagw: command line for the Plixa WhatsApp gateway

Usage:
  wagw instances list [--tenant <id>]
  wagw instances create [--name <name>] [--tenant <id>]
  wagw instances get|restart|disconnect|delete <id>
  wagw qr <id>                         print the QR in the terminal until the phone is linked
  wagw pairing-link <id>               a short-lived link to the browser pairing page
  wagw send <instance-id> <phone> <text> --token <instance token>
  wagw events <instance-id>            tail the instance's live events

Options:
  --url <url>      the daemon (default $WAGW_URL or http://localhost:8080)
  --token <token>  admin token (default $GATEWAY_ADMIN_TOKEN); for send, the instance token ($WAGW_INSTANCE_TOKEN)
  --json           machine-readable output
  -h, --help       this text`

/** Runs one command line; answers the process exit code. */
export async function run(ctx: CliContext): Promise<number> {
  const [command, ...rest] = ctx.args.positionals
  if (ctx.args.help || !command || command === 'help') {
    ctx.out(USAGE)
    return command || ctx.args.help ? 0 : 2
  }
  try {
    if (command === 'instances') {
      const [sub, ...ops] = rest
      const handler = sub ? instances[sub] : undefined
      if (!handler) throw new UsageError(`unknown instances subcommand ${JSON.stringify(sub ?? '')}`)
      return await handler(ctx, ops)
    }
    const handler = ({ qr, send, events, 'pairing-link': pairingLink } as Record<string, Command>)[command]
    if (!handler) throw new UsageError(`unknown command ${JSON.stringify(command)}`)
    return await handler(ctx, rest)
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.err(`wagw: ${err.message}\n\n${USAGE}`)
      return 2
    }
    if (err instanceof ApiError) {
      ctx.err(`wagw: ${err.code}: ${err.message}`)
      return 1
    }
    throw err
  }
}
