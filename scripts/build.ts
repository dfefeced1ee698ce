/**
 * Builds the daemon for production: `dist/main.js`, one ES module bundling our code with the packages it imports
 * (`npm run build`; `npm start` and the Dockerfile run it). Type checking stays with `npm run typecheck`.
 *
 * Why a bundle rather than tsc's file per module: Node resolves, reads and compiles every ES module file on its own,
 * and Kysely, TypeBox and Fastify are hundreds of small files. Bundled, importing them costs 33 ms instead of 240 ms
 * (Kysely), 34 instead of 190 (TypeBox), 110 instead of 190 (Fastify); cold start to ready 2.0 → 1.55 s before any
 * other change (bench/startup.ts).
 *
 * Run: `npx tsx scripts/build.ts [outdir]` (default dist/).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Packages left to Node's loader, each for a reason a bundle would break:
 * - Baileys and the libraries it shares objects with (libsignal's session classes, whatsapp-rust-bridge's WASM
 *   instance): a preload (test/wasim/trust-preload.ts) and our code must see the same Baileys module instance;
 * - native addons (better-sqlite3, sharp);
 * - packages that find files beside themselves at run time: pino's transports (worker threads started by file),
 *   the ffmpeg binary of @ffmpeg-installer, swagger-ui's static assets.
 */
const EXTERNAL_PACKAGES = [
  '@whiskeysockets/baileys',
  'libsignal',
  'whatsapp-rust-bridge',
  'better-sqlite3',
  'sharp',
  'pino',
  'pino-pretty',
  '@ffmpeg-installer/ffmpeg',
  '@fastify/swagger-ui',
]

/** Bundles src/main.ts into `outdir`; answers the path of the entry file. */
export function buildDaemon(outdir = path.join(ROOT, 'dist')): string {
  fs.rmSync(outdir, { recursive: true, force: true }) // no chunk of an earlier build left behind
  buildSync({
    absWorkingDir: ROOT,
    entryPoints: { main: 'src/main.ts' },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Chunks for modules imported on demand, so that what only they import is loaded only then.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    external: EXTERNAL_PACKAGES,
    // The CommonJS packages inside the bundle call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    // Not enabled at run time (--enable-source-maps slows every stack trace, and Baileys takes one per frame sent);
    // there for an operator who runs `node --enable-source-maps dist/main.js` to read one.
    sourcemap: 'linked',
    logLevel: 'warning',
  })
  return path.join(outdir, 'main.js')
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildDaemon(process.argv[2] ? path.resolve(process.argv[2]) : undefined)
}
