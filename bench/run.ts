/**
 * `npm run bench [-- name…]`: runs every bench module in bench/ (or the named ones), prints one table and writes
 * bench/results/latest.json. A module exporting `run(opts)` (lib/types.ts) is imported and called; any other
 * bench/*.ts is run as a child (`tsx bench/<file>.ts`) and its output shown as printed. See bench/README.md.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { closeSharedFixture, keepSharedFixture } from './lib/fixture.js'
import { machineInfo, machineLine } from './lib/machine.js'
import { envInt, optionsFromEnv } from './lib/main.js'
import { BENCH_DIR, mergeLatest, RESULTS_DIR, ROOT_DIR, writeResult } from './lib/results.js'
import { figuresTable } from './lib/table.js'
import type { BenchModule, BenchResult, Figure } from './lib/types.js'

/** Benches that share the paired-session fixture run first, the larger one before the smaller (lib/fixture.ts). */
const FIRST = ['sessions', 'restore']

/** A static look at the source, so that a module which runs itself on import is never imported. */
function exportsRun(source: string): boolean {
  return /export\s+(async\s+)?function\s+run\s*\(|export\s+const\s+run\s*[:=]|export\s*\{[^}]*\brun\b[^}]*\}/.test(source)
}

function discover(only: string[]): string[] {
  const names = fs
    .readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .filter((name) => only.length === 0 || only.includes(name))
  const unknown = only.filter((name) => !names.includes(name))
  if (unknown.length > 0) throw new Error(`no bench/${unknown.join('.ts, bench/')}.ts`)
  const rank = (name: string) => (FIRST.includes(name) ? FIRST.indexOf(name) : FIRST.length)
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

/** A bench without `run`: a child process with a time limit; its stdout is kept verbatim. */
function runChild(name: string, timeoutMs: number): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(path.join(ROOT_DIR, 'node_modules/.bin/tsx'), [path.join(BENCH_DIR, `${name}.ts`)], {
      cwd: ROOT_DIR,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      process.stderr.write(chunk)
    })
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout })
    })
  })
}

/** A child bench that wrote a BenchResult to results/<name>.json after `since` contributes its figures. */
function childResult(name: string, since: number): BenchResult | undefined {
  const file = path.join(RESULTS_DIR, `${name}.json`)
  try {
    if (fs.statSync(file).mtimeMs < since) return undefined
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResult
    return Array.isArray(parsed.figures) ? parsed : undefined
  } catch {
    return undefined
  }
}

async function main(): Promise<void> {
  const opts = optionsFromEnv()
  const timeoutMs = envInt('BENCH_TIMEOUT_S', 900) * 1000
  const names = discover(process.argv.slice(2))
  const machine = machineInfo()
  const started = Date.now()
  opts.log(`${machineLine(machine)}; runs ${opts.runs}${opts.quick ? ', QUICK' : ''}; benches: ${names.join(', ')}`)
  keepSharedFixture()
  const results: BenchResult[] = []
  const failures: Array<{ name: string; error: string }> = []
  const printed: Array<{ name: string; stdout: string }> = []
  try {
    for (const name of names) {
      const file = path.join(BENCH_DIR, `${name}.ts`)
      const benchStarted = Date.now()
      opts.log(`── ${name}`)
      try {
        if (exportsRun(fs.readFileSync(file, 'utf8'))) {
          const mod = (await import(file)) as BenchModule
          const result = await mod.run(opts)
          writeResult(result)
          results.push(result)
        } else {
          const { code, stdout } = await runChild(name, timeoutMs)
          const result = childResult(name, benchStarted)
          if (result) results.push(result)
          else printed.push({ name, stdout })
          if (code !== 0) failures.push({ name, error: `exited with ${code}` })
        }
      } catch (err) {
        failures.push({ name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })
        opts.log(`${name} failed: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  } finally {
    await closeSharedFixture()
  }

  const figures: Figure[] = results.flatMap((r) => r.figures)
  const out = [
    `${machineLine(machine)} → ${machineInfo().load1} at the end`,
    `runs per figure: ${opts.runs}${opts.quick ? ' (QUICK: sizes are tiny, not measurements)' : ''}; total ${((Date.now() - started) / 60_000).toFixed(1)} min`,
    '',
    figuresTable(figures),
    ...printed.flatMap((p) => ['', `bench/${p.name}.ts (no run() export; its own output):`, p.stdout.trimEnd()]),
    ...failures.map((f) => `\nFAILED ${f.name}: ${f.error}`),
  ]
  process.stdout.write(`${out.join('\n')}\n`)
  if (!opts.quick) {
    mergeLatest({
      summary: {
        machine,
        runs: opts.runs,
        benches: names,
        failures,
        finishedAt: new Date().toISOString(),
        table: figures.map((f) => ({ id: f.id, label: f.label, value: f.value, unit: f.unit, baseline: f.baseline?.value, ratio: f.ratio, target: f.target?.text, pass: f.pass })),
      },
    })
  }
  process.exit(failures.length > 0 ? 1 : 0)
}

await main()
