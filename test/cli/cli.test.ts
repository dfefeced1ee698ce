import { spawn, type ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, startHarness, uniquePhone, type Harness } from '../helpers/harness.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const BIN = path.join(ROOT, 'bin/wagw.js')

let h: Harness
let env: Record<string, string>

beforeAll(async () => {
  h = await startHarness()
  const { port } = h.daemon.app.server.address() as AddressInfo
  env = { WAGW_URL: `http://127.0.0.1:${port}`, GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN }
})
afterAll(async () => {
  await h?.close()
})

interface Cli {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves once stdout contains `text`; rejects if the process exits first. */
  waitFor(text: string | RegExp): Promise<void>
  exited: Promise<number | null>
}

function startCli(args: string[], extraEnv: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const waiters: (() => void)[] = []
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
    for (const w of [...waiters]) w()
  })
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(text) {
      const seen = () => (typeof text === 'string' ? out.includes(text) : text.test(out))
      return new Promise((resolve, reject) => {
        if (seen()) return resolve()
        const check = () => {
          if (!seen()) return
          waiters.splice(waiters.indexOf(check), 1)
          resolve()
        }
        waiters.push(check)
        void exited.then((code) => reject(new Error(`wagw exited ${code} before printing ${text}\nstdout: ${out}\nstderr: ${err}`)))
      })
    },
  }
}

async function runCli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, extraEnv)
  const code = await cli.exited
  return { code, stdout: cli.stdout(), stderr: cli.stderr() }
}

describe('wagw CLI', () => {
  it('creates, lists and shows instances', async () => {
    const created = await runCli(['instances', 'create', '--name', 'CLI desk', '--tenant', 'acme'])
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    const id = /^id:\s+(inst_\S+)$/m.exec(created.stdout)?.[1]
    expect(id).toBeDefined()
    expect(created.stdout).toMatch(/^token:\s+wgi_\S+/m)

    const list = await runCli(['instances', 'list'])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/^ID\s+NAME\s+TENANT\s+STATUS/m)
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+CLI desk\\s+acme\\s+(pending_qr|connecting)`, 'm'))

    const json = await runCli(['instances', 'list', '--tenant', 'acme', '--json'])
    expect(JSON.parse(json.stdout).map((i: { id: string }) => i.id)).toEqual([id])

    const got = await runCli(['instances', 'get', id!])
    expect(got.stdout).toMatch(/^name:\s+CLI desk$/m)

    const deleted = await runCli(['instances', 'delete', id!])
    expect(deleted.stdout).toContain(`Deleted ${id}`)
    const gone = await runCli(['instances', 'get', id!])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toContain('INSTANCE_NOT_FOUND')
  })

  it('qr prints the QR in the terminal, reprints nothing stale, and exits 0 with "Connected as" once the phone scans', async () => {
    const created = await h.request('POST', '/api/v1/instances', { name: 'Terminal' })
    const id: string = created.body.data.id
    const phone = h.sim.createPhone({ phone: uniquePhone(), pushName: 'Acme Terminal' })
    const cli = startCli(['qr', id])
    await cli.waitFor('Link a device')
    // qrcode's small terminal renderer draws with half blocks.
    expect(cli.stdout()).toMatch(/[▀▄█]{10}/)
    const pending = h.daemon.manager.supervisor(id).currentQr
    expect(cli.stdout()).toContain(`QR ${pending!.attempt} for Terminal`)
    await phone.scanQr(pending!.qr)
    expect(await cli.exited).toBe(0)
    expect(cli.stdout()).toContain(`Connected as +${phone.phone}`)
  })

  it('send posts a text with the instance token, and the customer receives it', async () => {
    const paired = await h.pairNewInstance()
    const customer = h.sim.createCustomer({ phone: uniquePhone('55449'), pushName: 'Maria' })
    const sent = await runCli(['send', paired.id, customer.phone, 'hello', 'from', 'the', 'cli', '--token', paired.token])
    expect(sent.stderr).toBe('')
    expect(sent.code).toBe(0)
    expect(sent.stdout).toMatch(new RegExp(`^Queued msg_\\S+ \\(queued\\) to \\+${customer.phone}$`, 'm'))
    const messageId = /Queued (msg_\S+)/.exec(sent.stdout)![1]
    const stored = await h.request('GET', `/api/v1/messages/${messageId}`)
    const got = await customer.waitForMessage((m) => m.id === stored.body.data.wa_message_id)
    expect(got.message.conversation ?? got.message.extendedTextMessage?.text).toBe('hello from the cli')

    const wrong = await runCli(['send', paired.id, customer.phone, 'x', '--token', 'wgi_wrong'])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain('UNAUTHORIZED')
  })

  it('events tails the live stream until interrupted', async () => {
    const paired = await h.pairNewInstance()
    const cli = startCli(['events', paired.id])
    await cli.waitFor(new RegExp(`instance\\s+${paired.id} connected`))
    await h.request('POST', `/api/v1/instances/${paired.id}/restart`)
    await cli.waitFor(/status\s+connected → connecting \(restart\)/)
    cli.child.kill('SIGINT')
    expect(await cli.exited).toBe(130)
  })

  it('events exits 1 when the daemon ends the stream (the instance is deleted)', async () => {
    const created = await h.request('POST', '/api/v1/instances', { name: 'short-lived' })
    const id = created.body.data.id as string
    const cli = startCli(['events', id])
    await cli.waitFor(new RegExp(`instance\\s+${id}`))
    await h.request('DELETE', `/api/v1/instances/${id}`)
    expect(await cli.exited).toBe(1)
  })

  it('answers usage errors with exit 2 and the help text', async () => {
    const unknown = await runCli(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command "frobnicate"')
    expect(unknown.stderr).toContain('Usage:')
    const noToken = await runCli(['instances', 'list'], { GATEWAY_ADMIN_TOKEN: '' })
    expect(noToken.code).toBe(2)
    expect(noToken.stderr).toContain('GATEWAY_ADMIN_TOKEN')
  })
})
