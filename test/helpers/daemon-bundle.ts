import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'
import { buildDaemon } from '../../scripts/build.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
/** Inside the repository, so that the bundle's external packages resolve from node_modules. */
const TEST_RUN_BUNDLE_DIR = path.join(ROOT, 'test-output', 'daemon')

/** The daemon's bundle and the preloads a child daemon runs with, all plain JavaScript. */
export interface DaemonBuild {
  main: string
  /** test/wasim/trust-preload.ts: trust the simulator's root key */
  trustPreload: string
  /** bench/lib/probe-preload.ts: memory and event-loop figures over IPC */
  probePreload: string
}

function filesIn(dir: string): DaemonBuild {
  return { main: path.join(dir, 'main.js'), trustPreload: path.join(dir, 'trust-preload.js'), probePreload: path.join(dir, 'probe-preload.js') }
}

/**
 * The preloads are compiled too, so the child runs without tsx: tsx turns source maps on, and then every stack
 * trace (Baileys takes one per frame it sends) is mapped through the bundle's map, whose decoded mappings alone took
 * ≈ 170 MB of heap in the soak. Production (`node dist/main.js`) never has them on.
 */
function build(dir: string): DaemonBuild {
  buildDaemon(dir)
  buildSync({
    absWorkingDir: ROOT,
    entryPoints: { 'trust-preload': 'test/wasim/trust-preload.ts', 'probe-preload': 'bench/lib/probe-preload.ts' },
    outdir: dir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  })
  return filesIn(dir)
}

/** vitest globalSetup: the daemon is bundled once per test run, before any worker starts one. */
export function setup(): () => void {
  build(TEST_RUN_BUNDLE_DIR)
  return () => fs.rmSync(TEST_RUN_BUNDLE_DIR, { recursive: true, force: true })
}

let built: DaemonBuild | undefined

/**
 * The daemon as production runs it (`npm start`, the Dockerfile): bundled by scripts/build.ts. Under vitest, the
 * test run's bundle (setup above); in a script (soak, demo), one of its own that goes when the script exits.
 */
export function daemonBundle(): DaemonBuild {
  if (process.env.VITEST) return filesIn(TEST_RUN_BUNDLE_DIR)
  if (built) return built
  const dir = path.join(ROOT, 'test-output', `daemon-${process.pid}`)
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  built = build(dir)
  return built
}
