import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/migrate.js'
import { migrations } from '../../src/db/migrations/index.js'
import { useCleanups } from '../helpers/cleanups.js'

describe('migrations of existing rows', () => {
  const { defer, tempDir } = useCleanups()

  /** A database file migrated up to `version`, with the event the deliveries below refer to. */
  function databaseAt(version: number): BetterSqlite3.Database {
    const sqlite = new BetterSqlite3(path.join(tempDir('wagw-migrate-'), 'gateway.db'))
    defer(() => void sqlite.close())
    migrate(sqlite, migrations.filter((m) => m.version <= version))
    sqlite.exec(`INSERT INTO events (id, type, body, occurred_at) VALUES ('evt_1', 'message.inbound', '{}', '2026-01-01T00:00:00.000Z')`)
    return sqlite
  }

  it("006 copies each delivery's attempts into its attempt_log, oldest first, and drops the attempts table", () => {
    const sqlite = databaseAt(5)
    sqlite.exec(`
      INSERT INTO deliveries (id, event_id, sink_kind, sink_id, status, attempts, next_attempt_at, created_at, updated_at) VALUES
        ('dlv_a', 'evt_1', 'webhook', 'whk_1', 'succeeded', 2, 0, 'c', 'u'),
        ('dlv_b', 'evt_1', 'webhook', 'whk_2', 'pending', 0, 0, 'c', 'u');
      INSERT INTO delivery_attempts (delivery_id, at, status_code, error, duration_ms) VALUES
        ('dlv_a', '2026-01-01T00:00:01.000Z', NULL, 'timeout', 10000),
        ('dlv_a', '2026-01-01T00:01:01.000Z', 204, NULL, 12);`)

    migrate(sqlite, migrations)

    const logs = sqlite.prepare('SELECT id, attempt_log FROM deliveries ORDER BY id').all() as Array<{ id: string; attempt_log: string | null }>
    expect(logs.map((r) => ({ id: r.id, log: r.attempt_log === null ? null : JSON.parse(r.attempt_log) }))).toEqual([
      {
        id: 'dlv_a',
        log: [
          { at: '2026-01-01T00:00:01.000Z', status_code: null, error: 'timeout', duration_ms: 10000 },
          { at: '2026-01-01T00:01:01.000Z', status_code: 204, error: null, duration_ms: 12 },
        ],
      },
      { id: 'dlv_b', log: null },
    ])
    expect(sqlite.prepare(`SELECT name FROM sqlite_master WHERE name LIKE 'delivery_attempts%'`).all()).toEqual([])
  })

  it('007 drops the claim columns (claims live in memory) and keeps every delivery', () => {
    const sqlite = databaseAt(6)
    sqlite.exec(`
      INSERT INTO deliveries (id, event_id, sink_kind, sink_id, status, attempts, next_attempt_at, lease_until, claim, created_at, updated_at)
        VALUES ('dlv_a', 'evt_1', 'webhook', 'whk_1', 'pending', 1, 5, 99, 'crashed.1', 'c', 'u');`)

    migrate(sqlite, migrations)

    const columns = (sqlite.prepare(`SELECT name FROM pragma_table_info('deliveries')`).pluck().all() as string[]).sort()
    expect(columns).not.toContain('claim')
    expect(columns).not.toContain('lease_until')
    expect(sqlite.prepare('SELECT id, status, attempts, next_attempt_at FROM deliveries').all()).toEqual([
      { id: 'dlv_a', status: 'pending', attempts: 1, next_attempt_at: 5 },
    ])
  })
})
