/**
 * The Signal session of a long conversation (issue #7; performance.md: "at 1,000 turns 2.3 ms, libsignal never
 * prunes old chains").
 *
 * Two endpoints built on Baileys' own Signal repository (test/wasim/virtual-device.ts) hold a conversation of
 * BENCH_SIGNAL_TURNS ratchet turns: one writes, the other answers, and each answer adds a receiving chain to the
 * first one's session. The first endpoint keeps its keys as the daemon does: a SessionStore (SQLite, sealed) behind
 * Baileys' makeCacheableSignalKeyStore. Then, per message, its decrypt of BENCH_SIGNAL_MESSAGES messages in a row
 * and its encrypt of as many are timed, and the stored record's size read.
 *
 * Ours: that store behind `pruningSessions` (src/whatsapp/session-pruning.ts, five receiving chains kept). Baseline,
 * in the same run: the same store without it, i.e. libsignal as Baileys ships it.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { makeCacheableSignalKeyStore, proto, type SignalKeyStore } from '@whiskeysockets/baileys'
import { silentLogger } from '../src/logger.js'
import { Sealer } from '../src/security/sealing.js'
import { SessionStore } from '../src/whatsapp/auth-store.js'
import { sessionFileFor } from '../src/whatsapp/session-files.js'
import { pruningSessions, RECEIVING_CHAINS_KEPT } from '../src/whatsapp/session-pruning.js'
import { SignalEndpoint } from '../test/wasim/virtual-device.js'
import { envInt, isMain, runStandalone, startResult } from './lib/main.js'
import { combineRuns, median } from './lib/stats.js'
import type { BenchOptions, BenchResult, Figure } from './lib/types.js'

const OURS = '5511900000001@s.whatsapp.net'
const CONTACT = '5544900000002@s.whatsapp.net'
const text = (s: string): proto.IMessage => ({ conversation: s })

interface Measured {
  decryptUs: number
  encryptUs: number
  recordBytes: number
}

async function conversation(turns: number, messages: number, pruned: boolean): Promise<Measured> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-bench-signal-'))
  const store = SessionStore.open(dir, 'inst_bench', new Sealer('bench-secret-0123456789-0123456789', 'sessions'))
  try {
    const cached: SignalKeyStore = makeCacheableSignalKeyStore(store.authState().keys, silentLogger)
    const ours = new SignalEndpoint(pruned ? pruningSessions(cached) : cached)
    const contact = new SignalEndpoint()
    const { oneTimePreKeys, ...bundle } = contact.publishKeys(1)
    const [keyId, publicKey] = [...oneTimePreKeys][0]!
    await ours.startSession(CONTACT, { ...bundle, preKey: { keyId, publicKey } })
    for (let turn = 0; turn < turns; turn++) {
      const out = await ours.encrypt(CONTACT, text(`question ${turn}`))
      await contact.decrypt(OURS, out.type, out.ciphertext)
      const back = await contact.encrypt(OURS, text(`answer ${turn}`))
      await ours.decrypt(CONTACT, back.type, back.ciphertext)
    }
    // The contact writes `messages` times in a row (no new turn), then we do.
    const incoming = []
    for (let i = 0; i < messages; i++) incoming.push(await contact.encrypt(OURS, text(`more ${i}`)))
    let started = performance.now()
    for (const m of incoming) await ours.decrypt(CONTACT, m.type, m.ciphertext)
    const decryptUs = ((performance.now() - started) * 1000) / messages
    started = performance.now()
    for (let i = 0; i < messages; i++) await ours.encrypt(CONTACT, text(`reply ${i}`))
    const encryptUs = ((performance.now() - started) * 1000) / messages
    const file = new BetterSqlite3(sessionFileFor(dir, 'inst_bench'), { readonly: true })
    const { bytes } = file.prepare(`SELECT SUM(length(value)) AS bytes FROM keys WHERE type = 'session'`).get() as { bytes: number }
    file.close()
    return { decryptUs, encryptUs, recordBytes: bytes }
  } finally {
    store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const result = startResult('signal-sessions', opts)
  const turns = envInt('BENCH_SIGNAL_TURNS', opts.quick ? 100 : 1_000)
  const messages = envInt('BENCH_SIGNAL_MESSAGES', opts.quick ? 50 : 200)
  const ours: Measured[] = []
  const bare: Measured[] = []
  for (let r = 0; r < opts.runs; r++) {
    bare.push(await conversation(turns, messages, false))
    ours.push(await conversation(turns, messages, true))
    const [o, b] = [ours[r]!, bare[r]!]
    opts.log(
      `run ${r + 1}: after ${turns} turns, decrypt ${o.decryptUs.toFixed(0)} µs (unpruned ${b.decryptUs.toFixed(0)}), encrypt ` +
        `${o.encryptUs.toFixed(0)} µs (unpruned ${b.encryptUs.toFixed(0)}), record ${o.recordBytes} B (unpruned ${b.recordBytes})`,
    )
  }
  const baseline = 'the same store, unpruned (libsignal as Baileys ships it)'
  const figure = (id: string, label: string, unit: string, pick: (m: Measured) => number): Figure => {
    const values = ours.map(pick)
    const base = bare.map(pick)
    return { id, label, unit, value: median(values), runs: values, baseline: { label: baseline, value: median(base), runs: base }, ratio: combineRuns(values, base).ratio! }
  }
  const at = `after ${turns.toLocaleString('en-US')} ratchet turns`
  const figures = [
    figure('signal.decrypt_us', `1:1 decrypt per message ${at} (${RECEIVING_CHAINS_KEPT} receiving chains kept)`, 'µs', (m) => m.decryptUs),
    figure('signal.encrypt_us', `1:1 encrypt per message ${at}`, 'µs', (m) => m.encryptUs),
    figure('signal.record_bytes', `stored session record ${at} (sealed)`, 'B', (m) => m.recordBytes),
  ]
  return result.finish(figures, { turns, messages })
}

if (isMain(import.meta.url)) await runStandalone(run)
