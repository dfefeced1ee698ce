import type { Migration } from '../migrate.js'

export const m008DropUnusedEventIndex: Migration = {
  version: 8,
  name: '008-drop-unused-event-index',
  up: `
    -- No query reads events by instance (the deliveries log, retention and the worker go by id or seq), yet every
    -- appended event paid an entry in this index: one B-tree insert and its WAL pages per event.
    DROP INDEX events_instance;
  `,
}
