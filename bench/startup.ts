/**
 * Cold start to ready (performance.md: "< 1 s, no sessions"): the compiled daemon (`node dist/main.js` as the
 * Dockerfile runs it) on an empty data directory — the database created and migrated, config validated, the HTTP
 * server up — from the spawn to the first `200` of `GET /health/ready`. The baseline, spawned the same way in the
 * same run: a bare Fastify process answering that route (lib/bare-fastify-child.ts), i.e. Node and Fastify's own
 * start. The two alternate, `BENCH_STARTUP_COUNT` (default 5) starts of each per run; each run's figure is the median.
 *
 * Run alone: `npx tsx bench/startup.ts` (BENCH_RUNS, BENCH_QUICK).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { request } from 'undici'
import { compiled } from './lib/build.js'
import { ADMIN_TOKEN, SECRET_KEY } from './lib/gateway.js'
import { envInt, isMain, runStandalone, startResult } from './lib/main.js'
import { spawnNode } from './lib/procs.js'
import { combineRuns, median } from './lib/stats.js'
import type { BenchOptions, BenchResult } from './lib/types.js'

/** Spawns `script`, waits for its `gateway listening` line, then polls /health/ready; answers spawn → first 200, ms. */
async function coldStart(script: string, env: Record<string, string>): Promise<number> {
  const spawnedAt = performance.now()
  const child = spawnNode(script, { env })
  try {
    const address = await child.waitForLine((_l, json) => (json?.msg === 'gateway listening' ? String(json.address) : undefined), 30_000)
    for (;;) {
      const res = await request(`${address}/health/ready`)
      await res.body.dump()
      if (res.statusCode === 200) return performance.now() - spawnedAt
      if (performance.now() - spawnedAt > 30_000) throw new Error(`${script}: not ready within 30 s`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  } finally {
    await child.stop(10_000)
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const result = startResult('startup', opts)
  const count = envInt('BENCH_STARTUP_COUNT', opts.quick ? 2 : 5)
  const ours: number[] = []
  const bare: number[] = []
  compiled('src/main.ts') // the build (tsc, once per process) must not fall inside the first start
  for (let r = 0; r < opts.runs; r++) {
    const mine: number[] = []
    const base: number[] = []
    for (let i = 0; i < count; i++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-bench-startup-'))
      try {
        mine.push(
          await coldStart('src/main.ts', {
            DATA_DIR: path.join(dir, 'data'),
            SESSIONS_DIR: path.join(dir, 'sessions'),
            GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
            GATEWAY_SECRET_KEY: SECRET_KEY,
            PORT: '0',
            HOST: '127.0.0.1',
            LOG_PRETTY: 'false',
          }),
        )
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
      base.push(await coldStart('bench/lib/bare-fastify-child.ts', {}))
    }
    ours.push(median(mine))
    bare.push(median(base))
    opts.log(`run ${r + 1}: spawn → ready ${median(mine).toFixed(0)} ms (each: ${mine.map((t) => t.toFixed(0)).join(', ')}); bare Fastify ${median(base).toFixed(0)} ms`)
  }
  const { value, ratio } = combineRuns(ours, bare)
  return result.finish(
    [
      {
        id: 'startup.cold_start_to_ready',
        label: 'cold start to ready, no sessions (spawn → /health/ready 200)',
        unit: 'ms',
        value,
        runs: ours,
        baseline: { label: 'bare Fastify process', value: median(bare), runs: bare },
        ...(ratio !== undefined ? { ratio } : {}),
        target: { max: 1000, text: '< 1 s' },
        notes: `empty data directory each time (database created and migrated); median of ${count} starts per run`,
      },
    ],
    { count, ours, bare },
  )
}

if (isMain(import.meta.url)) await runStandalone(run)
