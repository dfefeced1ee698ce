/**
 * A CPU profile of a running node process (one a bench started): SIGUSR1 opens its inspector on 127.0.0.1:9229,
 * then the Profiler records for N seconds. For a process stuck in a state a restart would lose — how the
 * AsyncLocalStorage cost was found. `tsx bench/lib/live-profile.ts <pid> [seconds=10] [out.cpuprofile]`, then
 * `tsx bench/lib/cpuprofile.ts out.cpuprofile`.
 */
import fs from 'node:fs'
import type { EventEmitter } from 'node:events'
import * as ws from 'ws'
import { isMain } from './main.js'

/** ws (a Baileys dependency) as a client; the repository's typings for it cover only the simulator's server side. */
type Client = EventEmitter & { send(data: string): void; close(): void }
const WebSocketClient = (ws as unknown as { WebSocket: new (url: string) => Client }).WebSocket

export async function profileLive(pid: number, seconds: number, out: string): Promise<string> {
  process.kill(pid, 'SIGUSR1')
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const targets = (await (await fetch('http://127.0.0.1:9229/json/list')).json()) as Array<{ webSocketDebuggerUrl: string }>
  const socket = new WebSocketClient(targets[0]!.webSocketDebuggerUrl)
  await new Promise((resolve) => socket.once('open', resolve))
  let id = 0
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<any>((resolve) => {
      const mine = ++id
      const onMessage = (raw: Buffer) => {
        const message = JSON.parse(raw.toString()) as { id?: number; result?: unknown }
        if (message.id !== mine) return
        socket.off('message', onMessage)
        resolve(message.result)
      }
      socket.on('message', onMessage)
      socket.send(JSON.stringify({ id: mine, method, params }))
    })
  await call('Profiler.enable')
  await call('Profiler.setSamplingInterval', { interval: 1000 })
  await call('Profiler.start')
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const { profile } = await call('Profiler.stop')
  fs.writeFileSync(out, JSON.stringify(profile))
  const memory = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })
  socket.close()
  return String(memory?.result?.value ?? '')
}

if (isMain(import.meta.url)) {
  const [pid, seconds, out] = process.argv.slice(2)
  if (!pid) throw new Error('usage: tsx bench/lib/live-profile.ts <pid> [seconds] [out.cpuprofile]')
  const file = out ?? `live-${pid}.cpuprofile`
  process.stdout.write(`memory: ${await profileLive(Number(pid), Number(seconds ?? 10), file)}\nprofile: ${file}\n`)
}
