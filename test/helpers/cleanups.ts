import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach } from 'vitest'

/**
 * Cleanups that run after each test of the calling file, newest first (a database closes before its directory is
 * removed). Call once at module or describe level.
 */
export function useCleanups(): { defer(cleanup: () => Promise<void> | void): void; tempDir(prefix: string): string } {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  return {
    defer: (cleanup) => void cleanups.push(cleanup),
    tempDir(prefix) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
      cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
      return dir
    },
  }
}
