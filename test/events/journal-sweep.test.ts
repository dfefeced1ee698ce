import { describe, expect, it } from 'vitest'
import { startHarness } from '../helpers/harness.js'
import { TestReceiver } from '../helpers/receiver.js'
import { journaled, swallowFirstUpsertOf } from '../helpers/recording.js'

describe('inbound journal sweep', () => {
  it('replays, while the socket stays up, a journaled message whose upsert never reached the recorder', async () => {
    const core = await TestReceiver.start()
    const h = await startHarness({
      env: { PLIXA_CORE_URL: core.url, PLIXA_CORE_SECRET: 'env-core-secret-0123456789', INBOUND_JOURNAL_SWEEP_MS: '200' },
    })
    try {
      const inst = await h.pairNewInstance()
      const customer = h.sim.createCustomer({ phone: '5544998765499', pushName: 'Eli' })
      // Baileys swallowing the upsert (a history set folding it in, a buffered delete): the recorder never hears of
      // it, nothing fails, so only the sweep can find the journal row.
      const swallowed = swallowFirstUpsertOf(h, 'swallowed upsert')
      const { id } = await customer.sendText(inst.phone.phone, 'swallowed upsert')
      const req = await core.waitFor((r) => r.json?.data?.wa_message_id === id)
      expect(swallowed()).toBe(1)
      expect(req.json.data).toMatchObject({ text: 'swallowed upsert', phone: customer.phone, push_name: 'Eli' })
      expect(journaled(h, inst.id, id)).toBe(0)
    } finally {
      await h.close()
      await core.close()
    }
  })
})
