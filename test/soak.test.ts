import { describe, expect, it } from 'vitest'
import { formatTally, runSoak } from '../scripts/soak.js'

/**
 * The short soak (issue 7): scripts/soak.ts with 2 instances for ~25 s, one kill -9 and a handful of faults.
 * The full one is `npm run soak` (3 min, 4 instances, 3 kills).
 */
describe('soak: traffic both ways under random faults and a kill -9', () => {
  it('loses nothing: every accepted send reached its customer or failed with a reason, every inbound reached the webhook, all instances connected', async () => {
    const result = await runSoak({
      seconds: 25,
      instances: 2,
      customers: 3,
      kills: 1,
      outboundPerSecond: 6,
      inboundPerSecond: 3,
      faultIntervalMs: 2_500,
      settleTimeoutMs: 25_000,
      seed: Number(process.env.SOAK_SEED ?? 7),
    })
    const table = formatTally(result)
    if (!result.ok) process.stdout.write(`${table}\n`)
    const t = result.tally
    expect(result.problems, table).toEqual([])
    expect(t.kills).toBe(1)
    expect(Object.values(t.faults).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3)
    expect(t.outbound.accepted).toBeGreaterThan(50)
    expect(t.outbound.lost).toBe(0)
    expect(t.outbound.delivered + t.outbound.failedWithReason).toBe(t.outbound.accepted)
    expect(t.inbound.sent).toBeGreaterThan(30)
    expect(t.inbound.lost).toBe(0)
    expect(t.inbound.received).toBe(t.inbound.sent)
    expect(t.instancesConnectedAtEnd).toBe(2)
    expect(t.webhooks.badSignatures).toBe(0)
  }, 90_000)
})
