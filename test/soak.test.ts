import { describe, expect, it } from 'vitest'
import { FAULT_KINDS, formatTally, runSoak, type FaultKind, type SoakOptions } from '../scripts/soak.js'

/**
 * The short soak (issue 7): scripts/soak.ts with 2 instances for ~25 s, every fault kind and one kill -9. The full one
 * is `npm run soak` (3 min, 4 instances, 3 kills, every fault kind).
 */
async function soak(options: Partial<SoakOptions> & { kills: number; faultKinds: readonly FaultKind[] }) {
  const result = await runSoak({
    seconds: 25,
    instances: 2,
    customers: 3,
    outboundPerSecond: 6,
    inboundPerSecond: 3,
    faultIntervalMs: 2_500,
    settleTimeoutMs: 25_000,
    seed: Number(process.env.SOAK_SEED ?? 7),
    ...options,
  })
  const table = formatTally(result)
  if (!result.ok) process.stdout.write(`${table}\n`)
  const t = result.tally
  expect(result.problems, table).toEqual([])
  expect(t.kills).toBe(options.kills)
  expect(Object.values(t.faults).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3)
  expect(t.outbound.accepted).toBeGreaterThan(50)
  expect(t.outbound.lost).toBe(0)
  expect(t.outbound.delivered + t.outbound.failedWithReason).toBe(t.outbound.accepted)
  expect(t.inbound.sent).toBeGreaterThan(30)
  expect(t.inbound.lost).toBe(0)
  expect(t.inbound.received).toBe(t.inbound.sent)
  expect(t.instancesConnectedAtEnd).toBe(2)
  expect(t.webhooks.badSignatures).toBe(0)
}

describe('soak: traffic both ways under random faults', () => {
  it('loses nothing under every fault kind and a kill -9 (408, 428, 440, 503, 515, dropped acks, ack errors, upload failures, duplicates, corrupt ciphertext)', async () => {
    await soak({ kills: 1, faultKinds: FAULT_KINDS })
  }, 150_000)
})
