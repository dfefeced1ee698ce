/**
 * Voice-note conversion: prepareMedia('voice') on a 60 s MP3 (generated with the bundled ffmpeg), in process,
 * with the daemon's own ffmpeg pool (bounded by os.availableParallelism()). Per run and per ffmpeg binary:
 *
 * - steady: BENCH_VOICE_COUNT conversions (default 10), as many at a time as there are cores, so each one's time
 *   is conversion under full load with no queueing; the figure is their p95. Steady, baseline and reference run
 *   interleaved, one batch of `cores` each in turn, so drifting load from elsewhere falls on all three alike.
 * - baseline, same run and binary: a bare `ffmpeg -i in.mp3 <VOICE_OPUS_ARGS> out.ogg`, spawned the same way. It
 *   takes the encoder arguments from src/media/voice.ts, so it always does the same encode as the daemon (since the
 *   encoder effort went from ffmpeg's default 10 to 5 it carries `-compression_level 5` too); what it leaves out is
 *   ours alone: the temp files, the 8 kHz PCM side output for duration and waveform, and the Node work around them.
 * - reference, same run and binary: the same bare command at libopus's default effort (`-compression_level 10`,
 *   the conversion before effort 5), in the log and details only, to show what the setting is worth.
 * - burst: all conversions submitted at once; the pool's stats().peakRunning and the ffmpeg processes seen in
 *   /proc (children of this process, sampled every 10 ms) must never exceed the cores.
 *
 * Binaries: the bundled @ffmpeg-installer one, and FFMPEG_PATH or /usr/bin/ffmpeg when present.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Agent } from 'undici'
import { bundledFfmpegBinary, createFfmpegRunner } from '../src/media/ffmpeg.js'
import { prepareMedia } from '../src/media/index.js'
import { VOICE_OPUS_ARGS } from '../src/media/voice.js'
import { mapBounded } from './lib/load.js'
import { envInt, isMain, runStandalone, startResult } from './lib/main.js'
import { combineRuns, median, percentile, summarize } from './lib/stats.js'
import type { BenchOptions, BenchResult, Figure } from './lib/types.js'

const BUNDLED = bundledFfmpegBinary()

/** A path inside the project as relative to it, so results carry no machine-specific directory. */
function projectRelative(file: string): string {
  const relative = path.relative(process.cwd(), file)
  return relative.startsWith('..') ? file : relative
}

function exec(binary: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${binary} exited ${code}: ${stderr}`))))
  })
}

/** 60 s of stereo 44.1 kHz MP3 at 128 kb/s: a tone under pink noise, so the encoder has real work to do. */
async function makeInput(dir: string, seconds: number): Promise<string> {
  const file = path.join(dir, `voice-${seconds}s.mp3`)
  await exec(BUNDLED, [
    '-hide_banner', '-nostdin', '-y',
    '-f', 'lavfi', '-i', `sine=frequency=220:duration=${seconds}`,
    '-f', 'lavfi', '-i', `anoisesrc=d=${seconds}:c=pink:a=0.05`,
    '-filter_complex', 'amix=inputs=2,aformat=channel_layouts=stereo',
    '-ar', '44100', '-c:a', 'libmp3lame', '-b:a', '128k', file,
  ])
  return file
}

/** ffmpeg children of this process right now, from /proc. */
function ffmpegChildren(): number {
  let count = 0
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const comm = stat.slice(stat.indexOf('(') + 1, close)
      const ppid = Number(stat.slice(close + 2).split(' ')[1])
      if (ppid === process.pid && comm.startsWith('ffmpeg')) count++
    } catch {
      // gone meanwhile
    }
  }
  return count
}

/** The encoder arguments with `-compression_level` set to `level`. */
function withEffort(encoder: readonly string[], level: number): string[] {
  const at = encoder.indexOf('-compression_level')
  if (at < 0) return [...encoder, '-compression_level', String(level)]
  return encoder.map((arg, i) => (i === at + 1 ? String(level) : arg))
}

async function timed(task: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await task()
  return performance.now() - started
}

interface VariantRun {
  steadyMs: number[]
  baselineMs: number[]
  defaultEffortMs: number[]
  burstMs: number[]
  peakRunning: number
  peakProcesses: number
  outputBytes: number
  seconds: number
}

async function runVariant(binary: string, input: Buffer, inputFile: string, count: number, tmp: string): Promise<VariantRun> {
  const cores = os.availableParallelism()
  const limits = { mediaMaxBytes: 16 * 2 ** 20, documentMaxBytes: 100 * 2 ** 20, fetchTimeoutMs: 30_000, agent: new Agent() }
  const base64 = input.toString('base64')
  let outputBytes = 0
  let seconds = 0
  const convert = (ffmpeg: ReturnType<typeof createFfmpegRunner>) => async () => {
    const prepared = await prepareMedia('voice', { base64 }, limits, { ffmpeg })
    outputBytes = prepared.bytes.length
    seconds = prepared.seconds ?? 0
  }
  const items = Array.from({ length: count }, (_, i) => i)

  const steadyRunner = createFfmpegRunner({ binary })
  const bare = (encoder: string[]) => (i: number) =>
    timed(() => exec(binary, ['-hide_banner', '-nostdin', '-y', '-i', inputFile, ...encoder, '-f', 'ogg', path.join(tmp, `bare-${i}.ogg`)]))
  const bareSame = bare(VOICE_OPUS_ARGS)
  const bareDefaultEffort = bare(withEffort(VOICE_OPUS_ARGS, 10))
  // Interleaved a batch of `cores` at a time (ours, bare, reference, ours, …) so that load from elsewhere on a shared
  // machine falls on all three alike and the ratios stay meaningful.
  const steadyMs: number[] = []
  const baselineMs: number[] = []
  const defaultEffortMs: number[] = []
  for (let at = 0; at < count; at += cores) {
    const batch = items.slice(at, at + cores)
    steadyMs.push(...(await mapBounded(batch, cores, () => timed(convert(steadyRunner)))))
    baselineMs.push(...(await mapBounded(batch, cores, bareSame)))
    defaultEffortMs.push(...(await mapBounded(batch, cores, bareDefaultEffort)))
  }

  const burstRunner = createFfmpegRunner({ binary })
  let peakProcesses = 0
  const sampler = setInterval(() => (peakProcesses = Math.max(peakProcesses, ffmpegChildren())), 10)
  const burstMs = await Promise.all(items.map(() => timed(convert(burstRunner))))
  clearInterval(sampler)
  await limits.agent.close()
  return { steadyMs, baselineMs, defaultEffortMs, burstMs, peakRunning: burstRunner.stats().peakRunning, peakProcesses, outputBytes, seconds }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const result = startResult('voice', opts)
  const count = envInt('BENCH_VOICE_COUNT', opts.quick ? 4 : 10)
  const audioSeconds = envInt('BENCH_VOICE_SECONDS', 60)
  const cores = os.availableParallelism()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wagw-bench-voice-'))
  const variants: Array<{ key: string; label: string; binary: string }> = [{ key: 'bundled', label: 'bundled ffmpeg', binary: BUNDLED }]
  const system = process.env.FFMPEG_PATH ?? (fs.existsSync('/usr/bin/ffmpeg') ? '/usr/bin/ffmpeg' : undefined)
  if (system && system !== BUNDLED) variants.push({ key: 'system', label: `system ffmpeg (${system})`, binary: system })
  const figures: Figure[] = []
  const details: Record<string, unknown> = { count, audioSeconds, cores, binaries: Object.fromEntries(variants.map((v) => [v.key, projectRelative(v.binary)])) }
  try {
    const inputFile = await makeInput(tmp, audioSeconds)
    const input = fs.readFileSync(inputFile)
    details.inputBytes = input.length
    const runs: Record<string, VariantRun[]> = Object.fromEntries(variants.map((v) => [v.key, []]))
    for (let r = 0; r < opts.runs; r++) {
      for (const v of variants) {
        const res = await runVariant(v.binary, input, inputFile, count, tmp)
        runs[v.key]!.push(res)
        opts.log(
          `voice run ${r + 1}/${opts.runs} ${v.key}: p95 ${percentile(res.steadyMs, 95).toFixed(0)} ms (bare ffmpeg ${percentile(res.baselineMs, 95).toFixed(0)} ms; ` +
            `at default effort 10 ${percentile(res.defaultEffortMs, 95).toFixed(0)} ms), ` +
            `burst p95 ${percentile(res.burstMs, 95).toFixed(0)} ms, peak ${res.peakRunning} running / ${res.peakProcesses} processes`,
        )
      }
    }
    for (const v of variants) {
      const vr = runs[v.key]!
      const p95 = vr.map((x) => percentile(x.steadyMs, 95))
      const base = vr.map((x) => percentile(x.baselineMs, 95))
      const burst = vr.map((x) => percentile(x.burstMs, 95))
      const peak = vr.map((x) => Math.max(x.peakRunning, x.peakProcesses))
      figures.push({
        id: `voice.p95_${v.key}`,
        label: `voice note ${audioSeconds} s, p95, ${v.label}`,
        unit: 'ms',
        value: median(p95),
        runs: p95,
        baseline: { label: 'bare ffmpeg MP3→Opus', value: median(base), runs: base },
        ratio: combineRuns(p95, base).ratio!,
        target: { max: 1000, text: '≤ 1 s' },
        notes: `${count} conversions, ${cores} at a time; output ${vr[0]!.outputBytes} B, ${vr[0]!.seconds} s`,
      })
      figures.push({
        id: `voice.burst_p95_${v.key}`,
        label: `  ${count} at once, p95 incl. queueing`,
        unit: 'ms',
        value: median(burst),
        runs: burst,
      })
      figures.push({
        id: `voice.peak_processes_${v.key}`,
        label: `  peak ffmpeg processes (${cores} cores)`,
        unit: '',
        value: Math.max(...peak),
        runs: peak,
        target: { max: cores, text: `≤ ${cores}` },
        notes: 'max of the pool’s stats().peakRunning and the ffmpeg children seen in /proc',
      })
      details[v.key] = vr.map((x) => ({ steady: summarize(x.steadyMs), baseline: summarize(x.baselineMs), bareDefaultEffort: summarize(x.defaultEffortMs), burst: summarize(x.burstMs), peakRunning: x.peakRunning, peakProcesses: x.peakProcesses }))
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return result.finish(figures, details)
}

if (isMain(import.meta.url)) await runStandalone(run)
