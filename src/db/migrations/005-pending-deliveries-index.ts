import type { Migration } from '../migrate.js'

export const m005PendingDeliveriesIndex: Migration = {
  version: 5,
  name: '005-pending-deliveries-index',
  up: `
    -- The worker only ever looks for pending rows (claims, next retry, due sinks, the backlog metric). Two full
    -- indexes on status made every delivery move entries twice (pending → succeeded) in both; one partial index of
    -- pending rows loses its entry once, and a settled delivery touches no index at all. Half the WAL per delivery.
    DROP INDEX deliveries_due;
    DROP INDEX deliveries_sink_due;
    CREATE INDEX deliveries_pending ON deliveries (sink_kind, sink_id, next_attempt_at) WHERE status = 'pending';
  `,
}
