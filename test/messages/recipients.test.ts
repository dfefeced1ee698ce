import { describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/database.js'
import { migrations } from '../../src/db/migrations/index.js'
import type { Messenger } from '../../src/messages/ports.js'
import { RecipientResolver } from '../../src/messages/recipients.js'

const DAY = 86_400_000

describe('RecipientResolver cache', () => {
  it('prunes lookups past the positive TTL (and every negative one with them), keeping the fresh ones', async () => {
    const db = openDatabase({ file: ':memory:', migrations })
    const at = new Date(0).toISOString()
    db.sqlite.prepare(`INSERT INTO instances (id, token_hash, status, created_at, updated_at) VALUES ('inst_x', 'hash', 'connected', ?, ?)`).run(at, at)
    let now = 10 * DAY
    const resolver = new RecipientResolver(db, () => now)
    const known = new Set(['5511900000001', '5511900000003'])
    const messenger = { lookup: async ([phone]: readonly string[]) => (phone && known.has(phone) ? `${phone}@s.whatsapp.net` : null) } as Messenger

    expect(await resolver.lookUp('inst_x', '5511900000001', messenger)).toEqual({ kind: 'jid', jid: '5511900000001@s.whatsapp.net' })
    expect(await resolver.lookUp('inst_x', '5511900000002', messenger)).toEqual({ kind: 'not_on_whatsapp' })
    expect(resolver.cached('inst_x', '5511900000001').kind).toBe('jid') // and now in the in-memory front too
    now += 3 * DAY
    await resolver.lookUp('inst_x', '5511900000003', messenger)

    now += 2 * DAY
    expect(resolver.prune()).toBe(0)
    now += 2 * DAY + 1 // the first two are 7 days old and a millisecond
    expect(resolver.prune()).toBe(2)
    expect(resolver.cached('inst_x', '5511900000001')).toEqual({ kind: 'unknown' })
    expect(resolver.cached('inst_x', '5511900000003')).toEqual({ kind: 'jid', jid: '5511900000003@s.whatsapp.net' })
    const phones = db.sqlite.prepare('SELECT phone FROM wa_contacts ORDER BY phone').pluck().all()
    expect(phones).toEqual(['5511900000003'])
    await db.close()
  })
})
