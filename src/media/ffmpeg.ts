import { spawn } from 'node:child_process'
import { accessSync, constants, readdirSync, rmSync, statSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { availableParallelism, tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { AppError } from '../errors.js'
import { MAX_INPUT_PIXELS } from './types.js'

// Plain spawn rather than fluent-ffmpeg: fluent-ffmpeg is archived, wants ffprobe for metadata (which the static
// binary lacks), and its builder adds nothing over an argument array; spawn gives direct control of kill and pipes.

export interface FfmpegJob {
  input: Buffer
  /** Arguments after `-i <input>`. `output` is a temp file path ending in `.${outputExt}`. */
  args: (io: { output: string }) => string[]
  /** Arguments before `-i`, e.g. `-ss`. */
  inputArgs?: string[]
  /** When set, the job writes a temp file with this extension and the result carries its bytes. */
  outputExt?: string
  timeoutMs?: number
}

export interface FfmpegResult {
  /** The temp output file's bytes, when `outputExt` was given. */
  output?: Buffer
  /** What ffmpeg wrote to `pipe:1`. */
  stdout: Buffer
  stderr: string
}

export class FfmpegError extends Error {
  readonly stderr: string
  readonly exitCode: number | null
  readonly timedOut: boolean

  constructor(message: string, stderr: string, exitCode: number | null, timedOut: boolean) {
    super(message)
    this.name = 'FfmpegError'
    this.stderr = stderr
    this.exitCode = exitCode
    this.timedOut = timedOut
  }
}

export interface FfmpegRunner {
  run(job: FfmpegJob): Promise<FfmpegResult>
  stats(): { running: number; queued: number; peakRunning: number }
}

export interface FfmpegRunnerOptions {
  binary?: string
  maxConcurrent?: number
  defaultTimeoutMs?: number
  /** Cap on captured stdout, so a runaway decode cannot exhaust memory. */
  maxStdoutBytes?: number
  /** Where per-job temp directories go; default os.tmpdir(). */
  tempRoot?: string
  /** Jobs that may wait for a process; past that a job is refused at once (MEDIA_CONVERSIONS_BUSY, retryable). */
  maxWaiting?: number
}

const MAX_STDERR_CHARS = 256 * 1024

/**
 * The demuxers of every format sniffMedia lets reach ffmpeg (audio, video, and BMP for stickers). ffmpeg probes the
 * input by content and refuses one it would read with any other demuxer ("Format not on whitelist"), nested
 * inputs included (libavformat copies the list to them): a file that passes our sniffing but reads as a playlist
 * (HLS, concat) or a text demuxer could otherwise have ffmpeg read other local files, e.g. into the output sent.
 * A demuxer named by a comma list (mov's "mov,mp4,m4a,3gp,3g2,mj2") matches on any one of its names.
 */
const INPUT_DEMUXERS = ['mp3', 'aac', 'ogg', 'wav', 'flac', 'amr', 'mov', 'matroska', 'bmp_pipe'].join(',')

/**
 * FFMPEG_PATH, else an `ffmpeg` on PATH, else the static build bundled on npm. A distribution's ffmpeg comes first
 * because its libopus is current: a 60 s voice note converts ≈ 2× faster than with the bundled 2018 build
 * (bench/voice.ts, README Performance).
 */
function defaultFfmpegBinary(): string {
  if (process.env.FFMPEG_PATH) return process.env.FFMPEG_PATH
  return findExecutable('ffmpeg', process.env.PATH ?? '') ?? bundledFfmpegBinary()
}

export function bundledFfmpegBinary(): string {
  const require = createRequire(import.meta.url)
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path
}

function findExecutable(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      if (statSync(candidate).isFile()) return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** Per-job temp directories: `wagw-ffmpeg-<pid>-<random>`, so a later process can tell whose they were. */
const TEMP_PREFIX = 'wagw-ffmpeg-'

/**
 * Deletes the temp directories of ffmpeg jobs whose process is gone: a `kill -9` skips the `finally` that removes
 * them, and each holds an input and an output of up to the media limit. Directories of live processes (other
 * daemons, tests) stay. Answers how many went.
 */
export function sweepStaleFfmpegDirs(root = tmpdir()): number {
  let swept = 0
  let names: string[]
  try {
    names = readdirSync(root)
  } catch {
    return 0
  }
  for (const name of names) {
    const pid = Number(/^wagw-ffmpeg-(\d+)-/.exec(name)?.[1])
    if (!pid || pid === process.pid || isAlive(pid)) continue
    rmSync(join(root, name), { recursive: true, force: true })
    swept++
  }
  return swept
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // exists, owned by someone else
  }
}

/** A bounded pool: at most `maxConcurrent` ffmpeg processes; the rest wait in FIFO order. */
export function createFfmpegRunner(options: FfmpegRunnerOptions = {}): FfmpegRunner {
  const maxConcurrent = Math.max(1, options.maxConcurrent ?? availableParallelism())
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 60_000
  const maxStdoutBytes = options.maxStdoutBytes ?? 256 * 1024 * 1024
  // Every waiting job holds its input (up to the media limit) and its request's body: without a bound, a burst of
  // voice notes would hold gigabytes while it queued for a few processes.
  const maxWaiting = options.maxWaiting ?? 8 * maxConcurrent
  let binary = options.binary
  let running = 0
  let peakRunning = 0
  const waiting: Array<() => void> = []

  async function acquire(): Promise<void> {
    if (running < maxConcurrent) {
      running++
    } else if (waiting.length >= maxWaiting) {
      throw new AppError('MEDIA_CONVERSIONS_BUSY', undefined, { retryAfterSeconds: 1 })
    } else {
      // The releasing job hands its slot over directly, so `running` never exceeds the bound.
      await new Promise<void>((resolve) => waiting.push(resolve))
    }
    peakRunning = Math.max(peakRunning, running)
  }

  function release(): void {
    const next = waiting.shift()
    if (next) next()
    else running--
  }

  async function run(job: FfmpegJob): Promise<FfmpegResult> {
    binary ??= defaultFfmpegBinary()
    const bin = binary
    await acquire()
    const dir = await mkdtemp(join(options.tempRoot ?? tmpdir(), `${TEMP_PREFIX}${process.pid}-`)).catch((err: unknown) => {
      release()
      throw err
    })
    try {
      const input = join(dir, 'input')
      const output = job.outputExt ? join(dir, `output.${job.outputExt}`) : join(dir, 'unused')
      await writeFile(input, job.input)
      // Playlist-like demuxers (HLS, concat) open further URLs named inside the input, past the SSRF guard:
      // the input may only ever read local files, and only through the demuxers of the formats sniffMedia lets
      // through (INPUT_DEMUXERS), so no demuxer can name another local file either.
      // A frame size is only declared: without a bound, a small file can make the decoder allocate gigabytes.
      const args = [
        '-hide_banner', '-nostdin', '-y', '-protocol_whitelist', 'file', '-format_whitelist', INPUT_DEMUXERS,
        '-max_pixels', String(MAX_INPUT_PIXELS), ...(job.inputArgs ?? []), '-i', input, ...job.args({ output }),
      ]
      const { stdout, stderr } = await spawnFfmpeg(bin, args, job.timeoutMs ?? defaultTimeoutMs, maxStdoutBytes)
      const result: FfmpegResult = { stdout, stderr }
      if (job.outputExt) result.output = await readFile(output)
      return result
    } finally {
      release()
      await rm(dir, { recursive: true, force: true })
    }
  }

  return { run, stats: () => ({ running, queued: waiting.length, peakRunning }) }
}

function spawnFfmpeg(
  binary: string,
  args: string[],
  timeoutMs: number,
  maxStdoutBytes: number,
): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    let stdoutBytes = 0
    let stderr = ''
    let failure: string | undefined
    let timedOut = false

    const timer = setTimeout(() => {
      timedOut = true
      failure = `ffmpeg timed out after ${timeoutMs} ms`
      child.kill('SIGKILL')
    }, timeoutMs)

    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length
      if (stdoutBytes > maxStdoutBytes) {
        failure ??= `ffmpeg wrote more than ${maxStdoutBytes} bytes`
        child.kill('SIGKILL')
        return
      }
      chunks.push(chunk)
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (text: string) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += text
    })
    // Could not start (no binary, no process slots): the system error itself, a server fault (conversion-error.ts).
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      if (failure === undefined && code === 0) {
        resolve({ stdout: Buffer.concat(chunks), stderr })
        return
      }
      const message = failure ?? `ffmpeg exited with code ${code}: ${lastLine(stderr)}`
      reject(new FfmpegError(message, stderr, code, timedOut))
    })
  })
}

function lastLine(text: string): string {
  const lines = text.split(/[\r\n]+/).filter((l) => l.trim().length > 0)
  return lines.at(-1)?.trim() ?? ''
}

let defaultRunner: FfmpegRunner | undefined

/** The process-wide pool, bounded by `os.availableParallelism()`. */
export function ffmpegRunner(): FfmpegRunner {
  defaultRunner ??= createFfmpegRunner()
  return defaultRunner
}
