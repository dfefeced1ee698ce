/** Order statistics for benchmark samples. */
import type { Figure } from './types.js'

export function median(values: readonly number[]): number {
  return percentile(values, 50)
}

/** Linear interpolation between closest ranks (the numpy default); NaN for no samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (b - a) * (rank - lo)
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((s, v) => s + v, 0) / values.length
}

export interface Summary {
  n: number
  min: number
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    min: values.length ? Math.min(...values) : Number.NaN,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
    mean: mean(values),
  }
}

/** Least-squares slope of (x, y) pairs, in y units per x unit. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length
  if (n < 2) return Number.NaN
  const mx = mean(points.map((p) => p[0]))
  const my = mean(points.map((p) => p[1]))
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

/**
 * One figure from several runs: the median value, and the median of the per-run ratios to a baseline measured in
 * the same run (never a ratio of medians taken from different runs).
 */
export function combineRuns(values: readonly number[], baselines?: readonly number[]): { value: number; ratio?: number } {
  const value = median(values)
  if (!baselines) return { value }
  const ratios = values.map((v, i) => v / (baselines[i] as number))
  return { value, ratio: median(ratios) }
}

/**
 * Figures of runs beside their baseline's runs of the same kind (bare Baileys on the same traffic): `pick` reads one
 * number from a run of either side; the baseline appears when it has as many runs.
 */
export function figuresBeside<R>(runs: readonly R[], baselineRuns: readonly R[], baselineLabel: string) {
  return (id: string, label: string, unit: string, pick: (r: R) => number, extra: Partial<Figure> = {}): Figure => {
    const ours = runs.map(pick)
    const base = baselineRuns.map(pick)
    const { value, ratio } = combineRuns(ours, base.length === ours.length ? base : undefined)
    return {
      id,
      label,
      unit,
      value,
      runs: ours,
      ...(base.length ? { baseline: { label: baselineLabel, value: median(base), runs: base } } : {}),
      ...(ratio !== undefined ? { ratio } : {}),
      ...extra,
    }
  }
}
