import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { WaConnection } from '../../src/whatsapp/connection.js'
import type { JournalEntry } from '../../src/whatsapp/inbound-journal.js'
import { sessionFileFor } from '../../src/whatsapp/session-files.js'
import { startHarness } from '../helpers/harness.js'
import { TestReceiver } from '../helpers/receiver.js'
import { journaled, swallowFirstUpsertOf } from '../helpers/recording.js'

/**
 * Before the journal moved into the session file, it was a table of the gateway database. An entry a crash left
 * there must still reach the webhook after the upgrade.
 */
describe('an inbound journal entry left in the gateway database by an earlier version', () => {
  it('moves into the session file at the next socket, is replayed and delivered, and leaves neither journal', async () => {
    const core = await TestReceiver.start()
    const h = await startHarness({ env: { PLIXA_CORE_URL: core.url, PLIXA_CORE_SECRET: 'env-core-secret-0123456789' } })
    try {
      let connection!: WaConnection
      h.daemon.manager.on('socket', (_id: string, c: WaConnection) => (connection = c))
      const inst = await h.pairNewInstance()
      const customer = h.sim.createCustomer({ phone: '5544998765433', pushName: 'Lia' })
      swallowFirstUpsertOf(h, 'written by an older version')
      const device = inst.phone.linkedDevices()[0] ?? ''
      const receipted = h.sim.waitFor('receipt', (r) => r.from === device && r.ids.length > 0, 10_000)
      const { id } = await customer.sendText(inst.phone.phone, 'written by an older version')
      // The daemon's delivery receipt: its journal entry committed before it.
      expect((await receipted).ids).toContain(id)
      const [entry] = connection.journal.entries().filter((e) => e.waMessageId === id)
      expect(entry?.plaintext.length).toBeGreaterThan(0)

      await h.restartDaemon({
        whileDown: async () => {
          // The state an earlier version's crash left: the entry in the gateway database, none in the session file.
          const session = new BetterSqlite3(sessionFileFor(h.config.sessionsDir, inst.id))
          session.prepare('DELETE FROM inbound_journal').run()
          session.close()
          const gateway = new BetterSqlite3(path.join(h.config.dataDir, 'gateway.db'))
          const e = entry as JournalEntry
          gateway
            .prepare('INSERT INTO inbound_journal (instance_id, wa_message_id, stanza, plaintext, created_at) VALUES (?, ?, ?, ?, ?)')
            .run(inst.id, e.waMessageId, JSON.stringify(e.stanza), e.plaintext, Date.now())
          gateway.close()
        },
      })

      const req = await core.waitFor((r) => r.json?.data?.wa_message_id === id)
      expect(req.json.data).toMatchObject({ text: 'written by an older version', phone: customer.phone, push_name: 'Lia' })
      expect(h.daemon.db.sqlite.prepare('SELECT COUNT(*) FROM inbound_journal').pluck().get()).toBe(0)
      expect(journaled(h, inst.id, id)).toBe(0)
    } finally {
      await h.close()
      await core.close()
    }
  })
})
