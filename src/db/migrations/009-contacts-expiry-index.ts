import type { Migration } from '../migrate.js'

export const m009ContactsExpiryIndex: Migration = {
  version: 9,
  name: '009-contacts-expiry-index',
  up: `
    -- The recipient cache is pruned by age (RecipientResolver.prune): one row per number ever sent to, so a bulk
    -- sender's table would otherwise grow without bound. An entry per lookup, not per send.
    CREATE INDEX wa_contacts_checked ON wa_contacts (checked_at);
  `,
}
