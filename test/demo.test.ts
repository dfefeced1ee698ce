import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

describe('npm run demo', () => {
  it('pairs, sends both ways through the gateway and its webhooks, then exits 0', async () => {
    // The script itself (what `npm run demo` runs), without npm's own banner in between.
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/demo.ts'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const lines = [
      '[1/7] Starting the WhatsApp Web simulator',
      '[2/7] Starting the gateway daemon',
      'Connected as +5511999990001 (Acme Support)',
      '[5/7] Sending a message through the API',
      `Maria's phone received: "Hello Maria, your order #1042 has shipped!"`,
      '[6/7] The customer answers',
      'webhook message.inbound from +5544998765432 (Maria): "Great, thanks! Can I pick it up today?"',
      'X-Plixa-Signature verified',
      'daemon stopped gracefully (exit 0)',
      'Demo complete.',
    ]
    let from = 0
    for (const line of lines) {
      const at = stdout.indexOf(line, from)
      expect(at, `"${line}" in order in:\n${stdout}`).toBeGreaterThanOrEqual(0)
      from = at
    }
    // Library chatter (libsignal session dumps with key material) stays out of the demo's output.
    expect(stdout).not.toContain('Closing session')
  }, 50_000)
})
