import { describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/db/database.js'
import { migrations } from '../../src/db/migrations/index.js'
import { publishLifecycleEvents } from '../../src/events/lifecycle.js'
import { Outbox } from '../../src/events/outbox.js'
import type { SinkDirectory } from '../../src/events/sinks.js'
import type { InstanceManager } from '../../src/instances/manager.js'
import { InstanceRepository } from '../../src/instances/repository.js'
import type { StatusChange } from '../../src/instances/status.js'
import { silentLogger } from '../../src/logger.js'

describe('instance.status events', () => {
  it('commit with the status change they describe: an event that cannot be written fails the change', () => {
    const db = openDatabase({ file: ':memory:', migrations })
    const repo = new InstanceRepository(db)
    const sinks = { subscribers: () => [{ kind: 'webhook', id: 'wh_1' }] } as unknown as SinkDirectory
    const outbox = new Outbox(db, sinks)
    // Only what publishLifecycleEvents uses of the manager, over the real repository.
    const manager = {
      writeWithStatusChanges: (write: (change: StatusChange) => void) => repo.writeWithStatusChanges(write),
      get: (id: string) => repo.get(id),
      on: () => undefined,
      off: () => undefined,
    } as unknown as InstanceManager
    publishLifecycleEvents(manager, outbox, silentLogger)
    const at = new Date(0).toISOString()
    repo.insert(
      {
        id: 'inst_x', name: null, tenant_id: 'acme', token_hash: 'h', status: 'connecting', status_reason: 'created', has_credentials: 1,
        phone: null, lid: null, push_name: null, connected_at: null, last_disconnect_code: null, last_disconnect_reason: null,
        last_disconnect_at: null, pacing_ms: null,
      },
      at,
    )
    const change = (from: StatusChange['from'], to: StatusChange['to'], reason: string): StatusChange => ({ instanceId: 'inst_x', from, to, reason, at })
    const statusEvents = () =>
      (db.sqlite.prepare(`SELECT body FROM events WHERE type = 'instance.status' ORDER BY seq`).pluck().all() as string[]).map((b) => JSON.parse(b))
    const transitions = () => db.sqlite.prepare(`SELECT to_status FROM instance_transitions ORDER BY id`).pluck().all()

    repo.changeStatus(change('connecting', 'connected', 'open'))
    expect(statusEvents()).toMatchObject([{ tenant_id: 'acme', data: { status: 'connected', previous_status: 'connecting', reason: 'open' } }])
    expect(db.sqlite.prepare(`SELECT COUNT(*) FROM deliveries`).pluck().get()).toBe(1)

    db.sqlite.exec(`CREATE TRIGGER no_status_events BEFORE INSERT ON events WHEN NEW.type = 'instance.status' BEGIN SELECT RAISE(ABORT, 'injected'); END`)
    expect(() => repo.changeStatus(change('connected', 'disconnected', 'logged_out'))).toThrow(/injected/)
    expect(repo.get('inst_x')?.status).toBe('connected')
    expect(transitions()).toEqual(['connecting', 'connected'])
    expect(statusEvents()).toHaveLength(1)
  })
})
