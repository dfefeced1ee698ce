import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

export interface LagStats {
  /** Milliseconds. */
  p50: number
  p99: number
  max: number
  mean: number
  /** Samples in the window. */
  count: number
}

/**
 * Event-loop lag of this process, from perf_hooks.monitorEventLoopDelay: a timer every `resolutionMs` and how late
 * it fired. `read()` covers everything since `start()` or the last `reset()`.
 */
export class LagMonitor {
  private readonly histogram: IntervalHistogram

  constructor(resolutionMs = 10) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs })
  }

  start(): this {
    this.histogram.enable()
    return this
  }

  reset(): void {
    this.histogram.reset()
  }

  read(): LagStats {
    return histogramStats(this.histogram)
  }

  stop(): LagStats {
    const stats = this.read()
    this.histogram.disable()
    return stats
  }
}

export function histogramStats(h: IntervalHistogram): LagStats {
  const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : Number.NaN)
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean), count: h.count }
}
