import { describe, expect, it } from 'vitest'
import type { WaConnection } from '../../src/whatsapp/connection.js'
import { KEY_SPENT_UNRECORDED } from '../../src/whatsapp/inbound-listener.js'
import { startHarness } from '../helpers/harness.js'
import { TestReceiver } from '../helpers/receiver.js'
import { swallowFirstUpsertOf } from '../helpers/recording.js'

/**
 * A message whose key is spent but which the daemon never stored: the soak found one lost this way under load, from
 * a kill -9 between Baileys committing the advanced Signal session and the journal insert, when the two were
 * separate writes (Baileys nacked the redelivery with 487, a duplicate, no retry asked). They now commit together;
 * a commit that fails after Baileys' key cache took the new session still leaves that state.
 * Reproduced here: the server delivers the stanza twice; the first copy decrypts (the key is spent) but its journal
 * entry and its upsert are dropped; the second copy meets the spent key.
 */
describe('a redelivered message whose key was spent but which was never stored', () => {
  it('is asked for again (retry receipt) and arrives, with the undecryptable stub reported first', async () => {
    const core = await TestReceiver.start()
    const h = await startHarness({ env: { PLIXA_CORE_URL: core.url, PLIXA_CORE_SECRET: 'env-core-secret-0123456789' } })
    try {
      // The journal of every socket drops the entries of one commit while `crashing` is set.
      let crashing = false
      h.daemon.manager.on('socket', (_id: string, connection: WaConnection) => {
        const { journal } = connection
        const stage = journal.stage.bind(journal)
        journal.stage = (entries) => {
          if (crashing) crashing = false
          else stage(entries)
        }
      })
      const inst = await h.pairNewInstance()
      const customer = h.sim.createCustomer({ phone: '5544998765477', pushName: 'Rui' })
      const dropped = swallowFirstUpsertOf(h, 'spent key')
      const device = inst.phone.linkedDevices()[0] ?? ''
      h.sim.faults.duplicateNextDelivery(device, 1)
      crashing = true
      const retry = h.sim.waitFor('receipt', (r) => r.type === 'retry' && r.from === device, 10_000)
      const { id } = await customer.sendText(inst.phone.phone, 'spent key')

      expect((await retry).ids).toContain(id)
      const arrived = await core.waitFor((r) => r.json?.data?.wa_message_id === id && r.json.data.type === 'text')
      expect(arrived.json.data).toMatchObject({ text: 'spent key', recovered: true, phone: customer.phone })
      const stub = core.requests.find((r) => r.json?.data?.wa_message_id === id && r.json.data.type === 'undecryptable')
      expect(stub?.json.data.undecryptable.reason).toContain(KEY_SPENT_UNRECORDED)
      expect(dropped()).toBe(1)
    } finally {
      await h.close()
      await core.close()
    }
  })
})
