import fs from 'node:fs'
import { slope } from './stats.js'

/** Resident set size of a process, from /proc/<pid>/status (VmRSS), in bytes. */
export function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  if (!match?.[1]) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1]) * 1024
}

export interface SettleOptions {
  /** Takes one sample (bytes); may force a GC first. */
  sample(): Promise<number> | number
  intervalMs?: number
  /** Samples the slope is fitted over. */
  window?: number
  /** Flat when the fitted drift across the window is below this many bytes… */
  toleranceBytes?: number
  /** …or below this fraction of the value, whichever is larger. */
  toleranceFraction?: number
  maxMs?: number
  /**
   * Never settle sooner than this. V8's memory reducer shrinks the young generation about 8 s after the heap last
   * grew (tens of MB of RSS at once), and a forced GC does not do it; measuring before it ran would be noise.
   */
  minMs?: number
}

export interface Settled {
  /** Median of the last window. */
  bytes: number
  settled: boolean
  elapsedMs: number
  /** Fitted drift across the window, bytes. */
  drift: number
  samples: number[]
}

/**
 * Samples until memory stops moving: the least-squares slope over the last `window` samples, times the window's
 * span, must be within tolerance. Never a fixed sleep; bounded by `maxMs` (then `settled` is false).
 */
export async function settleMemory(opts: SettleOptions): Promise<Settled> {
  const interval = opts.intervalMs ?? 1000
  const window = opts.window ?? 6
  const maxMs = opts.maxMs ?? 120_000
  const started = Date.now()
  const points: Array<[number, number]> = []
  for (;;) {
    const value = await opts.sample()
    points.push([(Date.now() - started) / 1000, value])
    const recent = points.slice(-window)
    if (recent.length === window) {
      const span = recent[window - 1]![0] - recent[0]![0]
      const drift = slope(recent) * span
      const tolerance = Math.max(opts.toleranceBytes ?? 1 * 2 ** 20, (opts.toleranceFraction ?? 0.005) * value)
      const elapsedMs = Date.now() - started
      const flat = Math.abs(drift) <= tolerance && elapsedMs >= (opts.minMs ?? 0)
      if (flat || elapsedMs >= maxMs) {
        const sorted = recent.map((p) => p[1]).sort((a, b) => a - b)
        return {
          bytes: sorted[Math.floor(sorted.length / 2)]!,
          settled: flat,
          elapsedMs,
          drift,
          samples: points.map((p) => p[1]),
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
}

export const MiB = 2 ** 20
