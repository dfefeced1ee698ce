import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchResult } from './types.js'

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const ROOT_DIR = path.resolve(BENCH_DIR, '..')
export const RESULTS_DIR = path.join(BENCH_DIR, 'results')

/**
 * Writes `bench/results/<name>.json` and merges the result into `bench/results/latest.json` (one key per bench,
 * so running one bench keeps the others' last results). Quick runs go to `<name>.quick.json` and never touch
 * latest.json: they are smoke tests, not measurements.
 */
export function writeResult(result: BenchResult, dir = RESULTS_DIR): string {
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${result.name}${result.quick ? '.quick' : ''}.json`)
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  if (!result.quick) mergeLatest({ [result.name]: result }, dir)
  return file
}

export function mergeLatest(entries: Record<string, unknown>, dir = RESULTS_DIR): void {
  const latest = path.join(dir, 'latest.json')
  let current: Record<string, unknown> = {}
  try {
    current = JSON.parse(fs.readFileSync(latest, 'utf8')) as Record<string, unknown>
  } catch {
    // first result
  }
  fs.writeFileSync(latest, `${JSON.stringify({ ...current, ...entries, updatedAt: new Date().toISOString() }, null, 2)}\n`)
}
