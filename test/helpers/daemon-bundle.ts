import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildDaemon } from '../../scripts/build.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
/** Inside the repository, so that the bundle's external packages resolve from node_modules. */
const TEST_RUN_BUNDLE_DIR = path.join(ROOT, 'test-output', 'daemon')

/** vitest globalSetup: the daemon is bundled once per test run, before any worker starts one. */
export function setup(): () => void {
  buildDaemon(TEST_RUN_BUNDLE_DIR)
  return () => fs.rmSync(TEST_RUN_BUNDLE_DIR, { recursive: true, force: true })
}

let bundle: string | undefined

/**
 * The daemon as production runs it (`npm start`, the Dockerfile): bundled by scripts/build.ts. Under vitest, the
 * test run's bundle (setup above); in a script (soak, demo), one of its own that goes when the script exits.
 */
export function daemonBundle(): string {
  if (process.env.VITEST) return path.join(TEST_RUN_BUNDLE_DIR, 'main.js')
  if (bundle) return bundle
  const dir = path.join(ROOT, 'test-output', `daemon-${process.pid}`)
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  bundle = buildDaemon(dir)
  return bundle
}
