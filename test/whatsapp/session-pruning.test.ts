import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { EventEnvelope } from '../../src/events/types.js'
import { Sealer } from '../../src/security/sealing.js'
import { SessionStore } from '../../src/whatsapp/auth-store.js'
import { sessionFileFor } from '../../src/whatsapp/session-files.js'
import { pruneSessionRecord, pruningSessions, RECEIVING_CHAINS_KEPT } from '../../src/whatsapp/session-pruning.js'
import { SECRET_KEY, startHarness, type Harness } from '../helpers/harness.js'
import { sendFixture } from '../messages/helpers.js'
import { MemoryKeyStore } from '../wasim/memory-auth.js'

const SENDING = 1
const RECEIVING = 2
type Chains = Record<string, { chainType: number; chainKey: { counter: number }; messageKeys: Record<string, string> }>

/** A serialised record with one session: a sending chain, then `receiving` receiving chains r0 … (oldest first). */
function record(receiving: number, current = `r${receiving - 1}`) {
  const chains: Chains = { s: { chainType: SENDING, chainKey: { counter: 3 }, messageKeys: {} } }
  for (let i = 0; i < receiving; i++) chains[`r${i}`] = { chainType: RECEIVING, chainKey: { counter: i }, messageKeys: { 1: 'k' } }
  return { version: 'v1', _sessions: { base: { registrationId: 7, currentRatchet: { lastRemoteEphemeralKey: current }, _chains: chains } } }
}
const chainsOf = (r: ReturnType<typeof record>) => Object.keys(r._sessions.base._chains)

describe('pruning Signal session records', () => {
  it(`keeps the sending chain and the newest ${RECEIVING_CHAINS_KEPT} receiving chains, in order, without touching the input`, () => {
    const input = record(8)
    const pruned = pruneSessionRecord(input)
    expect(chainsOf(pruned)).toEqual(['s', 'r3', 'r4', 'r5', 'r6', 'r7'])
    expect(pruned._sessions.base.registrationId).toBe(7)
    expect(chainsOf(input)).toHaveLength(9)
  })

  it('never drops the chain of the current ratchet key, wherever it sits', () => {
    expect(chainsOf(pruneSessionRecord(record(8, 'r0')))).toEqual(['s', 'r0', 'r4', 'r5', 'r6', 'r7'])
  })

  it('answers the same record when nothing is over the limit, and passes what is not a serialised record through', () => {
    const small = record(RECEIVING_CHAINS_KEPT)
    expect(pruneSessionRecord(small)).toBe(small)
    const bytes = new Uint8Array([1, 2, 3])
    expect(pruneSessionRecord(bytes as never)).toBe(bytes)
  })

  it('prunes sessions on their way into the store, and nothing else', async () => {
    const inner = new MemoryKeyStore()
    const keys = pruningSessions(inner)
    await keys.set({ session: { a: record(7) as never, gone: null }, 'sender-key': { x: new Uint8Array([9]) } })
    const { a } = await inner.get('session', ['a'])
    expect(chainsOf(a as never)).toHaveLength(1 + RECEIVING_CHAINS_KEPT)
    expect(await inner.get('sender-key', ['x'])).toEqual({ x: new Uint8Array([9]) })
  })
})

describe('a long conversation (against the simulator)', () => {
  it(`keeps ${RECEIVING_CHAINS_KEPT} receiving chains per stored session through 8 ratchet turns, and the conversation goes on`, async () => {
    const h = await startHarness()
    try {
      const f = await sendFixture(h)
      /** Resolves when the daemon has recorded the customer's message with this text. */
      const recorded = (text: string) =>
        new Promise<EventEnvelope>((resolve) => {
          const off = h.daemon.events.stream.subscribe({ instanceId: f.inst.id }, (e) => {
            if (e.type !== 'message.inbound' || (e.data as { text?: string }).text !== text) return
            off()
            resolve(e)
          })
        })
      // Each turn: the daemon writes, the customer answers under a new ratchet key, the daemon adds a receiving chain.
      const turns = 8
      for (let turn = 0; turn < turns; turn++) {
        const res = await f.send('text', { phone: f.customer.phone, data: { text: `question ${turn}` } })
        expect(res.status).toBe(200)
        await f.customer.waitForMessage((m) => m.id === res.body.wa_message_id, 15_000)
        const answer = recorded(`answer ${turn}`)
        await f.customer.sendText(f.inst.phone.phone, `answer ${turn}`)
        await answer
      }
      // The customer's session went through `turns` ratchet turns; without pruning it would hold one chain per turn.
      expect(Math.max(...storedReceivingChains(h, f.inst.id))).toBe(RECEIVING_CHAINS_KEPT)
    } finally {
      await h.close()
    }
  })
})

/** The number of receiving chains in each session of each Signal record the instance's session file holds. */
function storedReceivingChains(h: Harness, instanceId: string): number[] {
  const store = SessionStore.open(h.config.sessionsDir, instanceId, new Sealer(SECRET_KEY, 'sessions'))
  const file = new BetterSqlite3(sessionFileFor(h.config.sessionsDir, instanceId), { readonly: true })
  try {
    const ids = (file.prepare(`SELECT id FROM keys WHERE type = 'session'`).all() as Array<{ id: string }>).map((r) => r.id)
    const records = store.authState().keys.get('session', ids) as Record<string, unknown>
    return Object.values(records).flatMap((r) =>
      Object.values((r as ReturnType<typeof record>)._sessions).map((entry) => Object.values(entry._chains).filter((c) => c.chainType === RECEIVING).length),
    )
  } finally {
    file.close()
    store.close()
  }
}
