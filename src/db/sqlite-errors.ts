/**
 * SQLite errors of the database as a whole, not of one write (better-sqlite3's `code` is the extended code):
 * `busy` when another connection holds the lock past busy_timeout (the background checkpointer rewinding a large
 * WAL), `storage` when the file cannot be written at all (disk full, I/O error, read-only).
 */
export function databaseWideFailure(err: unknown): 'busy' | 'storage' | undefined {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return undefined
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy'
  if (code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY')) return 'storage'
  return undefined
}
