import type { Migration } from '../migrate.js'

export const m003Events: Migration = {
  version: 3,
  name: '003-events',
  up: `
    CREATE TABLE tenants (
      id              TEXT PRIMARY KEY,
      core_url        TEXT,
      core_secret_enc TEXT,
      created_at      TEXT NOT NULL,
      updated_at      TEXT NOT NULL
    );

    CREATE TABLE webhooks (
      id                   TEXT PRIMARY KEY,
      url                  TEXT NOT NULL,
      events               TEXT NOT NULL,        -- JSON array of event types, or ["*"]
      instance_id          TEXT REFERENCES instances (id) ON DELETE CASCADE,
      tenant_id            TEXT,
      secret_enc           TEXT NOT NULL,
      previous_secret_enc  TEXT,
      previous_valid_until TEXT,
      enabled              INTEGER NOT NULL DEFAULT 1,
      disabled_reason      TEXT,
      include_media_base64 INTEGER NOT NULL DEFAULT 0,  -- inline small inbound media into the delivered body
      created_at           TEXT NOT NULL,
      updated_at           TEXT NOT NULL
    );

    -- The outbox. dedupe_key makes one event per (instance, WhatsApp id, type) so a redelivered stanza
    -- cannot produce a second event; the event id is what receivers dedupe on.
    CREATE TABLE events (
      seq         INTEGER PRIMARY KEY AUTOINCREMENT,
      id          TEXT NOT NULL UNIQUE,
      instance_id TEXT,
      tenant_id   TEXT,
      type        TEXT NOT NULL,
      dedupe_key  TEXT UNIQUE,
      body        TEXT NOT NULL,               -- the exact JSON sent to every sink
      occurred_at TEXT NOT NULL
    );
    CREATE INDEX events_instance ON events (instance_id, seq);

    CREATE TABLE deliveries (
      seq             INTEGER PRIMARY KEY AUTOINCREMENT,
      id              TEXT NOT NULL UNIQUE,
      event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
      sink_kind       TEXT NOT NULL,           -- core | webhook
      sink_id         TEXT NOT NULL,           -- tenant id or webhook id
      status          TEXT NOT NULL,           -- pending | succeeded | failed
      attempts        INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER NOT NULL,        -- epoch ms
      lease_until     INTEGER,
      claim           TEXT,
      last_status     INTEGER,
      last_error      TEXT,
      created_at      TEXT NOT NULL,
      updated_at      TEXT NOT NULL
    );
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
    CREATE INDEX deliveries_event ON deliveries (event_id);
    CREATE INDEX deliveries_sink ON deliveries (sink_kind, sink_id, seq);
    -- per-endpoint claims: due rows of one sink, in order, without scanning other sinks' backlogs
    CREATE INDEX deliveries_sink_due ON deliveries (sink_kind, sink_id, status, next_attempt_at);

    CREATE TABLE delivery_attempts (
      id          INTEGER PRIMARY KEY AUTOINCREMENT,
      delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
      at          TEXT NOT NULL,
      status_code INTEGER,
      error       TEXT,
      duration_ms INTEGER NOT NULL
    );
    CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

    CREATE TABLE media_files (
      id          TEXT PRIMARY KEY,
      instance_id TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
      message_id  TEXT,
      path        TEXT NOT NULL,
      mimetype    TEXT NOT NULL,
      size        INTEGER NOT NULL,
      sha256      TEXT NOT NULL,
      filename    TEXT,
      created_at  TEXT NOT NULL,
      expires_at  TEXT,
      status      TEXT NOT NULL DEFAULT 'stored',  -- pending (not downloaded yet) | stored | failed
      source      TEXT,                            -- JSON: what Baileys needs to download it again
      error       TEXT
    );
    CREATE INDEX media_files_expiry ON media_files (expires_at);
    CREATE INDEX media_files_pending ON media_files (status) WHERE status = 'pending';

    -- Decrypted inbound stanzas, written inside the Signal decrypt call, i.e. before Baileys sends the delivery
    -- receipt (Socket/messages-recv.js:1294 decrypt → 1417 sendReceipt → 1432 upsertMessage). A row is deleted in
    -- the transaction that records the message; a row left over after a crash is replayed at the next open.
    CREATE TABLE inbound_journal (
      instance_id   TEXT NOT NULL,
      wa_message_id TEXT NOT NULL,
      stanza        TEXT NOT NULL,             -- JSON: the <message> attrs and <enc> attrs
      plaintext     BLOB NOT NULL,             -- the decrypted (still padded) message bytes
      created_at    INTEGER NOT NULL,
      PRIMARY KEY (instance_id, wa_message_id)
    );
  `,
}
