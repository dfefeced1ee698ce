import type { Migration } from '../migrate.js'

export const m004SentContent: Migration = {
  version: 4,
  name: '004-sent-content',
  up: `
    -- What each socket sent, as WhatsApp's own encoding of the message (media URLs and keys included), so a phone
    -- that could not decrypt it can be answered with the same message (Baileys' getMessage). Pruned by age.
    CREATE TABLE wa_sent_messages (
      instance_id   TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
      wa_message_id TEXT NOT NULL,
      content       BLOB NOT NULL,
      sent_at       INTEGER NOT NULL,
      PRIMARY KEY (instance_id, wa_message_id)
    ) WITHOUT ROWID;
    CREATE INDEX wa_sent_messages_age ON wa_sent_messages (sent_at);
  `,
}
