/**
 * Builds the processes a bench measures as production runs them: the daemon bundled by scripts/build.ts (what
 * `npm start` and the Dockerfile run), the bare baselines and the preloads compiled by tsc to plain JavaScript under
 * bench/.build. Under tsx every process would also carry tsx's loader thread, a second V8 isolate whose garbage
 * forced GC cannot reach: tens of MB of RSS that vary from one start to the next.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { buildDaemon } from '../../scripts/build.js'
import { BENCH_DIR, ROOT_DIR } from './results.js'

export const BUILD_DIR = path.join(BENCH_DIR, '.build')

/** The daemon's entry point, bundled apart from the tsc entries below. */
const DAEMON = 'src/main.ts'

/** Entry points compiled by tsc, as paths from the repository root; tsc follows their imports. */
const ENTRIES = [
  'test/wasim/trust-preload.ts',
  'bench/lib/probe-preload.ts',
  'bench/lib/bare-baileys-child.ts',
  'bench/lib/bare-fastify-child.ts',
  'bench/lib/wasm-verify-preload.ts',
  'bench/lib/als-shim-preload.ts',
]

const DAEMON_BUNDLE = path.join(BUILD_DIR, 'dist/main.js')

let built = false

/** The compiled path of a repository-relative .ts file (compiling everything once per process). */
export function compiled(tsPath: string): string {
  if (!built) build()
  const out = tsPath === DAEMON ? DAEMON_BUNDLE : path.join(BUILD_DIR, tsPath.replace(/\.ts$/, '.js'))
  if (!fs.existsSync(out)) throw new Error(`${tsPath} was not compiled (is it in build.ts ENTRIES?)`)
  return out
}

function build(): void {
  fs.mkdirSync(BUILD_DIR, { recursive: true })
  const tsconfig = path.join(BUILD_DIR, 'tsconfig.json')
  fs.writeFileSync(
    tsconfig,
    JSON.stringify(
      {
        extends: '../../tsconfig.json',
        compilerOptions: { outDir: '.', rootDir: '../..', noEmit: false, sourceMap: false, declaration: false },
        files: ENTRIES.map((e) => `../../${e}`),
        include: [],
      },
      null,
      2,
    ),
  )
  // Type errors do not stop the emit (other work in the tree may be mid-change); a missing output does.
  const tsc = spawnSync(process.execPath, [path.join(ROOT_DIR, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { cwd: ROOT_DIR, encoding: 'utf8' })
  for (const entry of ENTRIES) {
    if (!fs.existsSync(path.join(BUILD_DIR, entry.replace(/\.ts$/, '.js')))) throw new Error(`tsc did not emit ${entry}:\n${tsc.stdout}${tsc.stderr}`)
  }
  buildDaemon(path.dirname(DAEMON_BUNDLE))
  built = true
}
