import type { Migration } from '../migrate.js'

export const m007ClaimsInMemory: Migration = {
  version: 7,
  name: '007-claims-in-memory',
  up: `
    -- The delivery worker keeps its claims in memory (one process owns this file; a crash forgets them all, and every
    -- pending row is claimable at the next start): a claim is a read, and the only write per attempt is its result.
    ALTER TABLE deliveries DROP COLUMN lease_until;
    ALTER TABLE deliveries DROP COLUMN claim;
  `,
}
