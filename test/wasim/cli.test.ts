import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { connectClient } from './baileys-client.js'
import { createCertAuthority } from './certs.js'
import { trustRootKey } from './trust.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

interface StartLine {
  wsUrl: string
  controlUrl: string
  rootPublicKey: string
}

function startCli(args: string[]): { child: ChildProcess; started: Promise<StartLine> } {
  const child = spawn(`${root}node_modules/.bin/tsx`, ['test/wasim/cli.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  const started = new Promise<StartLine>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', line => {
      if (line.startsWith('{') && line.includes('"started"')) resolve(JSON.parse(line) as StartLine)
    })
    child.once('exit', code => reject(new Error(`cli exited with ${code} before starting`)))
  })
  return { child, started }
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
  const json = await res.json()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

describe('npm run sim (cli.ts)', () => {
  let child: ChildProcess | undefined
  afterAll(() => {
    child?.kill('SIGTERM')
  })

  it('starts on random ports, prints its URLs and seed-derived root key, and pairs a client through the control API', async () => {
    const cli = startCli(['--seed', 'cli-test-seed'])
    child = cli.child
    const start = await cli.started
    expect(start.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws\/chat$/)
    expect(start.rootPublicKey).toBe(createCertAuthority('cli-test-seed').root.public.toString('base64'))

    await call(start.controlUrl, 'POST', '/phones', { phone: '5511999990030', pushName: 'Acme' })
    trustRootKey(Buffer.from(start.rootPublicKey, 'base64'))
    const client = connectClient({ wsUrl: start.wsUrl })
    const { qr } = await client.waitForUpdate(u => !!u.qr)
    const { deviceJid } = await call(start.controlUrl, 'POST', '/phones/5511999990030/scan', { qr })
    expect(await client.waitForClose()).toBe(515)
    const devices = await call(start.controlUrl, 'GET', '/devices')
    expect(devices.linked['5511999990030']).toEqual([deviceJid])
  }, 20_000)
})
