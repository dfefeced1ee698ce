import type { Database as SqliteDatabase } from 'better-sqlite3'

/** A numbered schema change. Numbers are never reused or reordered; a released migration is never edited. */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly up: string
}

/**
 * Applies the migrations newer than the file's `user_version`, each in its own transaction together with the
 * version bump, so a crash mid-way leaves the file at a clean version.
 */
export function migrate(sqlite: SqliteDatabase, migrations: readonly Migration[]): void {
  const sorted = [...migrations].sort((a, b) => a.version - b.version)
  sorted.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name}: expected version ${i + 1}, got ${m.version}`)
  })
  const current = sqlite.pragma('user_version', { simple: true }) as number
  if (current > sorted.length) {
    throw new Error(`database is at schema version ${current}, newer than this build (${sorted.length}); refusing to run`)
  }
  for (const m of sorted.slice(current)) {
    sqlite.transaction(() => {
      sqlite.exec(m.up)
      sqlite.pragma(`user_version = ${m.version}`)
    })()
  }
}
