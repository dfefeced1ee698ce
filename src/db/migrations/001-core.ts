import type { Migration } from '../migrate.js'

export const m001Core: Migration = {
  version: 1,
  name: '001-core',
  up: `
    CREATE TABLE settings (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );

    CREATE TABLE instances (
      id                     TEXT PRIMARY KEY,
      name                   TEXT,
      tenant_id              TEXT,
      token_hash             TEXT NOT NULL,
      status                 TEXT NOT NULL,
      status_reason          TEXT,
      has_credentials        INTEGER NOT NULL DEFAULT 0,
      phone                  TEXT,
      lid                    TEXT,
      push_name              TEXT,
      connected_at           TEXT,
      last_disconnect_code   INTEGER,
      last_disconnect_reason TEXT,
      last_disconnect_at     TEXT,
      pacing_ms              INTEGER,
      created_at             TEXT NOT NULL,
      updated_at             TEXT NOT NULL
    );
    CREATE INDEX instances_tenant ON instances (tenant_id);

    -- Every lifecycle change with its reason: the audit trail behind instance.status events.
    CREATE TABLE instance_transitions (
      id          INTEGER PRIMARY KEY AUTOINCREMENT,
      instance_id TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
      from_status TEXT,
      to_status   TEXT NOT NULL,
      reason      TEXT NOT NULL,
      code        INTEGER,
      at          TEXT NOT NULL
    );
    CREATE INDEX instance_transitions_instance ON instance_transitions (instance_id, id);
  `,
}
