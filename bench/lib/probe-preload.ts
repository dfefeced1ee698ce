/**
 * Preloaded (`--import`) into every process a bench measures: answers the parent over the IPC channel with this
 * process's memory (after a forced GC when run with --expose-gc) and its event-loop lag. Nothing else: it adds no
 * server, timer or work of its own beyond the lag histogram's timer.
 *
 * The lag histogram restarts when the process first calls `net.Server.prototype.listen` (the daemon's HTTP server;
 * its restore of sessions starts right after), so a daemon's figure covers the restore and not module loading.
 *
 * Messages: {id, cmd: 'memory' | 'gc-memory' | 'heap-snapshot' | 'lag' | 'lag-reset'} → {id, data}. Other messages
 * are left to the process's own handlers (bare-baileys-child.ts takes {type: 'grow'}). The soak preloads it into its
 * daemons too, for their memory after a forced GC (test/helpers/child-daemon.ts).
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { writeHeapSnapshot } from 'node:v8'

/** RssAnon / RssFile / RssShmem of this process (Linux), bytes: which kind of memory moved. */
function rssParts(): Record<string, number> {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024
    return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), rssShmem: kb('RssShmem') }
  } catch {
    return {}
  }
}

if (process.send) {
  const lag = monitorEventLoopDelay({ resolution: Number(process.env.BENCH_LAG_RESOLUTION_MS ?? 10) })
  lag.enable()
  let lagSince = Date.now()
  let cpuSince = process.cpuUsage()
  const listen = net.Server.prototype.listen
  let listened = false
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    if (!listened) {
      listened = true
      lag.reset()
      lagSince = Date.now()
      cpuSince = process.cpuUsage()
    }
    return (listen as (...a: unknown[]) => net.Server).apply(this, args)
  } as typeof listen
  const gc = (globalThis as { gc?: (opts?: unknown) => void }).gc
  const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : null)
  process.on('message', (message: { id: number; cmd: string }) => {
    let data: unknown
    switch (message.cmd) {
      case 'gc-memory':
        gc?.()
        gc?.()
        data = { ...process.memoryUsage(), ...rssParts(), gc: Boolean(gc) }
        break
      case 'memory':
        data = process.memoryUsage()
        break
      case 'heap-snapshot':
        // For a look at what a leak keeps (Chrome DevTools → Memory → Load); the file lands in the working directory.
        data = { file: writeHeapSnapshot() }
        break
      case 'lag':
        {
          // CPU time of the whole process (all threads) over the same window: unlike lag, not inflated when other
          // processes take the cores.
          const cpu = process.cpuUsage(cpuSince)
          data = { p50: ms(lag.percentile(50)), p99: ms(lag.percentile(99)), max: ms(lag.max), mean: ms(lag.mean), count: lag.count, since: lagSince, cpuMs: (cpu.user + cpu.system) / 1000 }
        }
        break
      case 'lag-reset':
        lag.reset()
        lagSince = Date.now()
        cpuSince = process.cpuUsage()
        data = { ok: true }
        break
      default:
        return
    }
    process.send?.({ id: message.id, data })
  })
  // The channel must not keep a process alive that would otherwise exit.
  process.channel?.unref()
}
