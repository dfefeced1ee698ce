/**
 * The contract between bench/run.ts and a bench module. A module is any `bench/*.ts` file that exports
 * `run(opts: BenchOptions): Promise<BenchResult>`; run.ts imports it and calls `run`. A file without that export is
 * run as a child process (`tsx bench/<file>.ts`) and its printed output is shown as is.
 */
import type { MachineInfo } from './machine.js'

export interface BenchOptions {
  /** BENCH_QUICK=1: tiny sizes, for development. Quick figures never count as measurements. */
  quick: boolean
  /** Repetitions per figure (BENCH_RUNS, default 3); every figure is the median over them. */
  runs: number
  /** Progress lines (stderr), never part of the result. */
  log(message: string): void
}

/**
 * What a figure must satisfy. Every bound that is set must hold. `maxRatio`/`minRatio` compare `ratio` (value ÷
 * baseline, both measured in the same run) rather than the value.
 */
export interface Target {
  max?: number
  min?: number
  maxRatio?: number
  minRatio?: number
  /** How the target reads in the table, e.g. "≤ 8 MB and ≤ 1.25× bare". */
  text: string
}

export interface Figure {
  /** Stable key for latest.json, e.g. `sessions.memory_per_session_1000`. */
  id: string
  /** What the table shows in its first column. */
  label: string
  unit: string
  /** Median over `runs`. */
  value: number
  /** Each run's value, in order. */
  runs: number[]
  baseline?: { label: string; value: number; runs: number[] }
  /** Median of the per-run ratios value ÷ baseline (each pair measured in the same run). */
  ratio?: number
  target?: Target
  /** Set by `evaluate`: undefined when there is no target. */
  pass?: boolean
  notes?: string
}

export interface BenchResult {
  name: string
  quick: boolean
  startedAt: string
  durationMs: number
  machine: MachineInfo
  figures: Figure[]
  /** Anything else worth keeping (per-run raw samples, settings, knobs used). */
  details?: Record<string, unknown>
}

export type BenchModule = { run(opts: BenchOptions): Promise<BenchResult> }

/** Fills in `pass` from the target. */
export function evaluate(figure: Figure): Figure {
  const t = figure.target
  if (!t) return figure
  const checks: boolean[] = []
  if (t.max !== undefined) checks.push(figure.value <= t.max)
  if (t.min !== undefined) checks.push(figure.value >= t.min)
  if (t.maxRatio !== undefined) checks.push(figure.ratio !== undefined && figure.ratio <= t.maxRatio)
  if (t.minRatio !== undefined) checks.push(figure.ratio !== undefined && figure.ratio >= t.minRatio)
  return { ...figure, pass: checks.every(Boolean) }
}
