/**
 * Sustained 1:1 sends (performance.md: "≥ 500 msg/s summed over instances, event-loop lag p99 < 50 ms"): text
 * messages offered to `POST /api/v1/message/text` at a fixed rate, spread over the instances and their customers,
 * each one followed until the WhatsApp server acked it. Three processes: the simulator (bench/lib/bench-sim.ts, which
 * notes when it accepted each stanza, the moment it sends the server ack), the daemon (compiled src/main.ts,
 * production defaults, no webhooks), and this one, which only offers the load (undici Pool, loopback).
 *
 * Per run, `rate × seconds` messages: message i goes from instance i % n to customer ⌊i / n⌋ % k. Figures:
 *  - acked per second: messages the server acked ÷ (first POST → last ack);
 *  - API → server ack p50/p99: from the POST leaving this process to the simulator accepting the stanza (epoch
 *    times on one machine);
 *  - the daemon's event-loop lag p99 over the run, and its CPU per message (all threads). Besides the sends, the
 *    daemon handles what WhatsApp does with them: the customers' phones (simulated) decrypt and send delivery
 *    receipts, which become `message.status` events.
 * Before the runs, untimed: each instance sends one message to each customer (contact lookup, device list, Signal
 * pre-key session set-up), then one second at the full rate (JIT).
 *
 * Then the baseline, same rate, same runs: the daemon stops and bench/lib/bare-baileys-child.ts opens the same
 * sessions in bare Baileys sockets, which call `sendMessage` on the same schedule to the same customers (times from
 * the call to the server's acceptance) and do nothing else: no HTTP, no database, no status tracking.
 *
 * Run alone: `npx tsx bench/sends.ts` (BENCH_RUNS, BENCH_QUICK). Knobs: BENCH_SEND_RATE (500/s), BENCH_SEND_SECONDS
 * (10 per run), BENCH_SEND_INSTANCES (10), BENCH_SEND_CUSTOMERS (20 per instance, the same customers for all).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Pool } from 'undici'
import { gatewayEnv, pairInstances, SECRET_KEY, spawnGateway, type Gateway } from './lib/gateway.js'
import { driveFixedRate, mapBounded } from './lib/load.js'
import { envInt, isMain, runStandalone, startResult } from './lib/main.js'
import { spawnBenchSim, spawnNode, type BenchSimProcess, type NodeChild } from './lib/procs.js'
import { RESULTS_DIR } from './lib/results.js'
import { figuresBeside, summarize, type Summary } from './lib/stats.js'
import type { BenchOptions, BenchResult, Figure } from './lib/types.js'

const epochNow = () => performance.timeOrigin + performance.now()

interface Sender {
  instanceId: string
  authorization: string
}

/** What one side sent in a run: each message's WhatsApp id and when it left (epoch ms), and what was refused. */
interface Posted {
  posted: Array<{ waId: string; at: number }>
  refused: number
  firstRefusal?: string
}

interface SendRun {
  offered: number
  acked: number
  ackedPerSec: number
  latency: Summary
  lagP99Ms: number | null
  cpuMsPerMessage: number
  refused: number
  firstRefusal?: string
}

/** The instances' credentials: a fresh token for each (tokens are shown once, at creation or rotation). */
async function senders(gw: Gateway, ids: readonly string[]): Promise<Sender[]> {
  return Promise.all(
    ids.map(async (id) => {
      const res = await gw.api<{ data: { token: string } }>('POST', `/api/v1/instances/${id}/token`)
      if (res.status !== 200) throw new Error(`token ${id}: ${res.status} ${JSON.stringify(res.body)}`)
      return { instanceId: id, authorization: `Basic ${Buffer.from(`${id}:${res.body.data.token}`).toString('base64')}` }
    }),
  )
}

/** A run's figures from when each message left and when the server accepted it. */
function summariseRun(
  posted: Posted['posted'],
  acks: ReadonlyArray<number | null>,
  lag: { p99: number | null; cpuMs: number },
  refused: number,
  firstRefusal: string | undefined,
): SendRun {
  const latencies: number[] = []
  let lastAck = 0
  posted.forEach((p, i) => {
    const ack = acks[i]
    if (ack === null || ack === undefined) return
    latencies.push(ack - p.at)
    lastAck = Math.max(lastAck, ack)
  })
  const firstPost = Math.min(...posted.map((p) => p.at))
  return {
    offered: posted.length + refused,
    acked: latencies.length,
    ackedPerSec: latencies.length / ((lastAck - firstPost) / 1000),
    latency: summarize(latencies),
    lagP99Ms: lag.p99,
    cpuMsPerMessage: lag.cpuMs / Math.max(1, posted.length),
    refused,
    ...(firstRefusal ? { firstRefusal } : {}),
  }
}

/** Polls the simulator until each id was accepted, or the deadline; answers the acceptance times (null: never). */
async function acceptedTimes(sim: BenchSimProcess, ids: readonly string[], timeoutMs: number): Promise<Array<number | null>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const times = await sim.command<Array<number | null>>({ bench: 'accepted', ids })
    if (times.every((t) => t !== null) || Date.now() > deadline) return times
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const result = startResult('sends', opts)
  const rate = envInt('BENCH_SEND_RATE', opts.quick ? 100 : 500)
  const seconds = envInt('BENCH_SEND_SECONDS', opts.quick ? 2 : 10)
  const instanceCount = envInt('BENCH_SEND_INSTANCES', opts.quick ? 2 : 10)
  const customerCount = envInt('BENCH_SEND_CUSTOMERS', opts.quick ? 4 : 20)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-bench-sends-'))
  const sim = await spawnBenchSim()
  let gw: Gateway | undefined
  let pool: Pool | undefined
  let bare: NodeChild | undefined
  const runs: SendRun[] = []
  const bareRuns: SendRun[] = []
  const sessionsDir = path.join(dir, 'sessions')
  try {
    const profileDir = process.env.BENCH_CPU_PROF === '1' ? path.join(RESULTS_DIR, 'profiles', `sends-${Date.now()}`) : undefined
    gw = await spawnGateway(
      gatewayEnv(sim, { dataDir: path.join(dir, 'data'), sessionsDir }),
      profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {},
    )
    if (profileDir) opts.log(`profiling the daemon into ${path.relative(process.cwd(), profileDir)}`)
    const ids = await pairInstances(gw, sim, instanceCount, { phonePrefix: '551192' })
    const from = await senders(gw, ids)
    const customers = await sim.command<string[]>({ bench: 'customers', prefix: '5544992', count: customerCount })
    const http = (pool = new Pool(gw.baseUrl, { connections: 32 }))

    /** POSTs one text; answers its WhatsApp id and when the POST left, or throws with the refusal. */
    const post = async (sender: Sender, phone: string, text: string): Promise<{ waId: string; at: number }> => {
      const at = epochNow()
      const res = await http.request({
        path: '/api/v1/message/text',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: sender.authorization },
        body: JSON.stringify({ phone, data: { text } }),
      })
      const body = (await res.body.json()) as { wa_message_id?: string; errors?: unknown }
      if (res.statusCode !== 200 || !body.wa_message_id) throw new Error(`${res.statusCode} ${JSON.stringify(body.errors ?? body)}`)
      return { waId: body.wa_message_id, at }
    }
    const messageOf = (prefix: string, i: number) => ({
      sender: from[i % from.length]!,
      phone: customers[Math.floor(i / from.length) % customers.length]!,
      text: `${prefix} ${i}`,
    })

    /** Offers `count` messages at `perSec` through the API; answers the driver's tally and what left when. */
    const offer = async (prefix: string, count: number, perSec: number) => {
      const posted: Posted['posted'] = []
      const load = await driveFixedRate({
        ratePerSec: perSec,
        count,
        maxDurationMs: ((count / perSec) * 3 + 10) * 1000,
        targets: [gw!.baseUrl],
        request: async (i) => {
          const m = messageOf(prefix, i)
          posted.push(await post(m.sender, m.phone, m.text))
        },
      })
      return { load, posted }
    }

    // Untimed: every instance's first message to every customer sets up the chat (contact lookup, devices,
    // Signal pre-key session), then one second at the full rate warms the JIT.
    await mapBounded(from, 4, async (sender) => {
      const first = await Promise.all(customers.map((phone) => post(sender, phone, 'warm-up')))
      await acceptedTimes(sim, first.map((p) => p.waId), 60_000)
    })
    const warm = await offer('warm', rate, rate)
    await acceptedTimes(sim, warm.posted.map((p) => p.waId), 60_000)

    /** One timed run: `offerRun` sends and answers when each message left; the server's acceptance follows. */
    const measure = async (name: string, child: NodeChild, offerRun: () => Promise<Posted>): Promise<SendRun> => {
      await child.probe('lag-reset')
      const { posted, refused, firstRefusal } = await offerRun()
      const acks = await acceptedTimes(sim, posted.map((p) => p.waId), 30_000 + posted.length * 10)
      const lag = await child.probe<{ p99: number | null; cpuMs: number }>('lag')
      const sendRun = summariseRun(posted, acks, lag, refused, firstRefusal)
      opts.log(
        `${name}: ${sendRun.acked}/${sendRun.offered} acked, ${sendRun.ackedPerSec.toFixed(0)}/s (offered ${rate}/s over ${instanceCount} instances); ` +
          `→ server ack p50 ${sendRun.latency.p50.toFixed(1)} ms, p99 ${sendRun.latency.p99.toFixed(1)} ms; lag p99 ${lag.p99?.toFixed(0)} ms, ` +
          `${sendRun.cpuMsPerMessage.toFixed(2)} ms CPU/msg${sendRun.refused ? `; ${sendRun.refused} refused (${sendRun.firstRefusal})` : ''}`,
      )
      return sendRun
    }
    const daemon = gw.child
    for (let r = 0; r < opts.runs; r++) {
      runs.push(await measure(`run ${r + 1}`, daemon, async () => {
        const { load, posted } = await offer(`run${r}`, rate * seconds, rate)
        return { posted, refused: load.errors + load.dropped, ...(load.firstError ? { firstRefusal: load.firstError } : {}) }
      }))
    }

    // The baseline: the same sessions in bare Baileys sockets; the daemon stops first (one device, one connection).
    await pool.close()
    pool = undefined
    await gw.stop()
    gw = undefined
    bare = spawnNode('bench/lib/bare-baileys-child.ts', {
      trustSim: true,
      env: { WASIM_ROOT_PUBLIC_KEY: sim.rootPublicKey, BARE_WS_URL: sim.wsUrl, BARE_SESSIONS_DIR: sessionsDir, BARE_SECRET_KEY: SECRET_KEY, BARE_IDS: ids.join(',') },
    })
    await bare.waitForLine((_l, json) => (json?.event === 'ready' ? true : undefined), 60_000)
    const bareChild = bare
    const bareOffer = async (prefix: string, count: number): Promise<Posted> => {
      const reply = new Promise<{ sent: Array<[string, number]>; errors: number; firstError?: string }>((resolve) => {
        const onMessage = (m: { event?: string; sent?: Array<[string, number]>; errors?: number; firstError?: string }) => {
          if (m.event !== 'sent') return
          bareChild.process.off('message', onMessage)
          resolve({ sent: m.sent ?? [], errors: m.errors ?? 0, ...(m.firstError ? { firstError: m.firstError } : {}) })
        }
        bareChild.process.on('message', onMessage)
      })
      bareChild.send({ type: 'send', prefix, count, rate, to: customers })
      const { sent, errors, firstError } = await reply
      return { posted: sent.map(([waId, at]) => ({ waId, at })), refused: errors, ...(firstError ? { firstRefusal: firstError } : {}) }
    }
    await acceptedTimes(sim, (await bareOffer('BAREWARM', rate)).posted.map((p) => p.waId), 60_000)
    for (let r = 0; r < opts.runs; r++) bareRuns.push(await measure(`bare Baileys run ${r + 1}`, bareChild, () => bareOffer(`BARERUN${r}X`, rate * seconds)))
  } finally {
    await pool?.close()
    await gw?.stop()
    await bare?.stop(5_000)
    await sim.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const setup = `${rate.toLocaleString('en-US')}/s offered for ${seconds} s per run, ${instanceCount} instances × ${customerCount} customers`
  const lost = runs.reduce((s, r) => s + (r.offered - r.acked), 0)
  // Each figure beside bare Baileys sending the same messages on the same schedule from the same sessions.
  const withBare = figuresBeside(runs, bareRuns, 'bare Baileys sendMessage')

  const figures: Figure[] = [
    withBare('sends.acked_per_sec', 'sustained 1:1 sends, API → server ack, summed over instances', '/s', (r) => r.ackedPerSec, {
      target: { min: 500, text: '≥ 500/s' },
      notes: `${setup}${lost ? `; ${lost} not acked in time` : ''}`,
    }),
    withBare('sends.event_loop_lag_p99', 'same: event-loop lag p99', 'ms', (r) => r.lagP99Ms ?? Number.NaN, { target: { max: 50, text: '< 50 ms' } }),
    withBare('sends.ack_p50', 'same: API → server ack p50', 'ms', (r) => r.latency.p50),
    withBare('sends.ack_p99', 'same: API → server ack p99', 'ms', (r) => r.latency.p99),
    withBare('sends.cpu_per_message', 'same: CPU per message (process, all threads)', 'ms', (r) => r.cpuMsPerMessage),
  ]
  return result.finish(figures, { rate, seconds, instances: instanceCount, customers: customerCount, runs, bareRuns })
}

if (isMain(import.meta.url)) await runStandalone(run)
