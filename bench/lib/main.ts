import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { machineInfo, machineLine } from './machine.js'
import { writeResult } from './results.js'
import { figuresTable } from './table.js'
import { evaluate, type BenchOptions, type BenchResult, type Figure } from './types.js'

/** Options from the environment: BENCH_QUICK=1, BENCH_RUNS (default 3). */
export function optionsFromEnv(): BenchOptions {
  const runs = Number(process.env.BENCH_RUNS ?? 3)
  return {
    quick: ['1', 'true', 'yes'].includes((process.env.BENCH_QUICK ?? '').toLowerCase()),
    runs: Number.isInteger(runs) && runs > 0 ? runs : 3,
    log: (message) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`),
  }
}

/** True when `moduleUrl` is the script node was started with (so importing a bench never runs it). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1]
  return entry !== undefined && path.resolve(entry) === fileURLToPath(moduleUrl)
}

/** Runs a bench module on its own: prints the machine line and its table, writes its result file. */
export async function runStandalone(run: (opts: BenchOptions) => Promise<BenchResult>): Promise<void> {
  const opts = optionsFromEnv()
  const result = await run(opts)
  const file = writeResult(result)
  process.stdout.write(`${machineLine(result.machine)}\n\n${figuresTable(result.figures)}\n\nwritten: ${path.relative(process.cwd(), file)}\n`)
  process.exit(0)
}

/** The shell of a result: call at the start of `run`, then `finish` it with the figures. */
export function startResult(name: string, opts: BenchOptions) {
  const started = Date.now()
  const machine = machineInfo()
  return {
    finish(figures: Figure[], details?: Record<string, unknown>): BenchResult {
      return {
        name,
        quick: opts.quick,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        machine: { ...machine, load1End: machineInfo().load1 },
        figures: figures.map(evaluate),
        ...(details ? { details } : {}),
      }
    },
  }
}

/** Integers from a comma-separated env var, or the fallback. */
export function envList(name: string, fallback: number[]): number[] {
  const raw = process.env[name]
  if (!raw) return fallback
  const values = raw.split(',').map((v) => Number(v.trim()))
  if (values.some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`${name}=${raw}: expected comma-separated whole numbers`)
  return values
}

export function envInt(name: string, fallback: number): number {
  const raw = process.env[name]
  if (!raw) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}=${raw}: expected a whole number`)
  return value
}
