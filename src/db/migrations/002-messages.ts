import type { Migration } from '../migrate.js'

export const m002Messages: Migration = {
  version: 2,
  name: '002-messages',
  up: `
    -- Inbound and outbound messages. Outbound rows are the durable send queue: status 'queued' rows are sent in
    -- seq order; wa_message_id is generated before sending so a crash between send and record is reconciled
    -- instead of sending twice.
    CREATE TABLE messages (
      seq             INTEGER PRIMARY KEY AUTOINCREMENT,
      id              TEXT NOT NULL UNIQUE,
      instance_id     TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
      direction       TEXT NOT NULL,            -- inbound | outbound
      source          TEXT,                     -- api | phone (outbound)
      wa_message_id   TEXT NOT NULL,
      phone           TEXT NOT NULL,
      jid             TEXT,
      lid             TEXT,
      push_name       TEXT,
      type            TEXT NOT NULL,
      text            TEXT,
      payload         TEXT NOT NULL DEFAULT '{}',  -- JSON: what is needed to (re)build the WhatsApp message
      media           TEXT,                        -- JSON: {path, mimetype, size, filename, sha256, duration_seconds}
      quoted_wa_id    TEXT,
      status          TEXT NOT NULL,
      error_code      TEXT,
      error_message   TEXT,
      error_wa_code   INTEGER,                  -- WhatsApp's own code (ack error 463, 479, ...) when it refused
      attempts        INTEGER NOT NULL DEFAULT 0,
      send_started_at TEXT,
      wa_timestamp    INTEGER,
      created_at      TEXT NOT NULL,
      updated_at      TEXT NOT NULL,
      UNIQUE (instance_id, wa_message_id, direction)
    );
    CREATE INDEX messages_queue ON messages (instance_id, status, seq) WHERE direction = 'outbound';
    CREATE INDEX messages_history ON messages (instance_id, phone, seq);
    CREATE INDEX messages_instance ON messages (instance_id, seq);

    CREATE TABLE idempotency_keys (
      instance_id     TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
      key             TEXT NOT NULL,
      fingerprint     TEXT NOT NULL,
      state           TEXT NOT NULL,            -- in_progress | done
      response_status INTEGER,
      response_body   TEXT,
      created_at      INTEGER NOT NULL,
      PRIMARY KEY (instance_id, key)
    );
    CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

    -- Contact lookups (onWhatsApp), cached: which JID a dialled number really is, or that it is not on WhatsApp.
    CREATE TABLE wa_contacts (
      instance_id TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
      phone       TEXT NOT NULL,
      jid         TEXT,
      checked_at  INTEGER NOT NULL,
      PRIMARY KEY (instance_id, phone)
    );
  `,
}
