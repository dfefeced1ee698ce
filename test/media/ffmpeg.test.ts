import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { bundledFfmpegBinary, createFfmpegRunner, FfmpegError, sweepStaleFfmpegDirs } from '../../src/media/ffmpeg.js'
import { parseFfmpegInfo } from '../../src/media/ffmpeg-info.js'
import { prepareMedia } from '../../src/media/prepare.js'
import { fixtures, type Fixtures } from './fixtures.js'

let f: Fixtures
let tempRoot: string
beforeAll(async () => {
  f = await fixtures()
  tempRoot = await mkdtemp(join(tmpdir(), 'wagw-ffmpeg-test-'))
})
afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true })
})

describe('ffmpeg runner', () => {
  it('at boot, deletes the temp directories a killed process left, and only those', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wagw-sweep-test-'))
    const gone = spawnSync(process.execPath, ['-e', '']).pid // a process that has exited
    const names = [`wagw-ffmpeg-${gone}-abc`, `wagw-ffmpeg-${process.pid}-def`, 'wagw-ffmpeg-test-ghi', 'unrelated']
    for (const name of names) {
      mkdirSync(join(root, name))
      writeFileSync(join(root, name, 'input'), 'x')
    }
    expect(sweepStaleFfmpegDirs(root)).toBe(1)
    expect((await readdir(root)).sort()).toEqual(names.slice(1).sort())
    await rm(root, { recursive: true, force: true })
  })

  it('refuses to decode a picture above the pixel bound, however small the file', async () => {
    const runner = createFfmpegRunner({ tempRoot })
    const decode = (side: number) => runner.run({ input: blankBmp(side), args: () => ['-f', 'null', '-'] })
    await expect(decode(100)).resolves.toBeDefined()
    // 10,001² pixels (just above 100 MP) in a file of about a kilobyte (ffmpeg decodes it without the bound).
    const big = blankBmp(10_001)
    expect(big.length).toBeLessThan(2 * 1024)
    const err = (await decode(10_001).catch((e: unknown) => e)) as FfmpegError
    expect(err).toBeInstanceOf(FfmpegError)
    expect(err.stderr).toMatch(/Picture size 10001x10001 exceeds/)
  })

  it('returns the output file and stdout, and leaves no temp files', async () => {
    const runner = createFfmpegRunner({ tempRoot })
    const result = await runner.run({
      input: f.wav,
      outputExt: 'mp3',
      args: ({ output }) => ['-c:a', 'libmp3lame', '-f', 'mp3', output, '-ac', '1', '-ar', '8000', '-f', 's16le', 'pipe:1'],
    })
    expect(result.output?.subarray(0, 3).toString('latin1')).toBe('ID3')
    expect(result.stdout.length).toBe(1.5 * 8000 * 2)
    expect(parseFfmpegInfo(result.stderr).audio).toMatchObject({ codec: 'pcm_s16le', sampleRate: 48000, channels: 1 })
    expect(await readdir(tempRoot)).toEqual([])
  })

  it('never runs more processes than its bound; the rest queue', async () => {
    const runner = createFfmpegRunner({ tempRoot, maxConcurrent: 2 })
    const job = () => runner.run({ input: f.wav, inputArgs: ['-re'], args: () => ['-t', '0.1', '-f', 'null', '-'] })
    const jobs = Array.from({ length: 6 }, job)
    expect(runner.stats()).toMatchObject({ running: 2, queued: 4 })
    await Promise.all(jobs)
    expect(runner.stats()).toEqual({ running: 0, queued: 0, peakRunning: 2 })
    expect(await readdir(tempRoot)).toEqual([])
  })

  it('refuses a job at once, retryable, when as many already wait as it allows', async () => {
    const runner = createFfmpegRunner({ tempRoot, maxConcurrent: 1, maxWaiting: 2 })
    const job = () => runner.run({ input: f.wav, inputArgs: ['-re'], args: () => ['-t', '0.1', '-f', 'null', '-'] })
    const admitted = [job(), job(), job()] // one running, two waiting
    await expect(job()).rejects.toMatchObject({ code: 'MEDIA_CONVERSIONS_BUSY', retryable: true, status: 503 })
    await Promise.all(admitted)
    expect(runner.stats()).toEqual({ running: 0, queued: 0, peakRunning: 1 })
  })

  it('the default bound is the machine parallelism', async () => {
    const runner = createFfmpegRunner({ tempRoot })
    const jobs = Array.from({ length: availableParallelism() + 2 }, () =>
      runner.run({ input: f.wav, args: () => ['-f', 'null', '-'] }),
    )
    expect(runner.stats().running).toBe(availableParallelism())
    await Promise.all(jobs)
    expect(runner.stats().peakRunning).toBe(availableParallelism())
  })

  it('kills a process that overruns its timeout, and cleans up', async () => {
    const runner = createFfmpegRunner({ tempRoot })
    // -re plus endless padding: this job would never end by itself.
    const err = await runner
      .run({ input: f.wav, inputArgs: ['-re'], timeoutMs: 200, args: () => ['-af', 'apad', '-f', 'null', '-'] })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FfmpegError)
    expect(err).toMatchObject({ timedOut: true })
    expect(runner.stats().running).toBe(0)
    expect(await readdir(tempRoot)).toEqual([])
  })

  it('reports a failing conversion with ffmpeg stderr', async () => {
    const runner = createFfmpegRunner({ tempRoot })
    const err = await runner.run({ input: Buffer.from('garbage'), args: () => ['-f', 'null', '-'] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FfmpegError)
    expect((err as FfmpegError).exitCode).not.toBe(0)
    expect((err as FfmpegError).stderr).toMatch(/Invalid data/)
    expect(await readdir(tempRoot)).toEqual([])
  })

  it('reports a missing binary as the system error, frees its slot, and a send gets a retryable 503 for it', async () => {
    const runner = createFfmpegRunner({ tempRoot, binary: '/nonexistent/ffmpeg', maxConcurrent: 1 })
    await expect(runner.run({ input: f.wav, args: () => [] })).rejects.toMatchObject({ code: 'ENOENT', syscall: expect.stringMatching(/^spawn/) })
    await expect(runner.run({ input: f.wav, args: () => [] })).rejects.toMatchObject({ code: 'ENOENT' })
    expect(runner.stats().running).toBe(0)
    // Not the input's fault: the server's, and worth retrying (a 422 would make the client drop a good file).
    const limits = { mediaMaxBytes: 16 * 1024 * 1024, documentMaxBytes: 16 * 1024 * 1024, fetchTimeoutMs: 1000 }
    const voice = prepareMedia('voice', { base64: f.wav.toString('base64') }, limits as never, { ffmpeg: runner })
    await expect(voice).rejects.toMatchObject({ code: 'MEDIA_CONVERSION_UNAVAILABLE', status: 503, retryable: true })
  })
})

describe('ffmpeg input sandbox', () => {
  it('an HLS playlist cannot make ffmpeg open network URLs', async () => {
    const runner = createFfmpegRunner({ tempRoot })
    const playlist = Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:1/segment.ts\n#EXT-X-ENDLIST\n')
    const err = (await runner.run({ input: playlist, args: () => ['-f', 'null', '-'] }).catch((e: unknown) => e)) as FfmpegError
    expect(err).toBeInstanceOf(FfmpegError)
    expect(err.stderr).toMatch(/not on whitelist/)
  })

  it('nor read a local file named in a playlist, even with an ffmpeg whose HLS demuxer would', async () => {
    // The bundled 2018 build reads a local WAV named in an HLS playlist (Debian's refuses the segment itself): only
    // the demuxer whitelist stops it. The sniffing in front lets no playlist through; this is the layer behind it.
    const local = join(tempRoot, 'local.wav')
    writeFileSync(local, f.wav)
    const playlist = Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n${local}\n#EXT-X-ENDLIST\n`)
    const runner = createFfmpegRunner({ tempRoot, binary: bundledFfmpegBinary() })
    const err = (await runner.run({ input: playlist, args: () => ['-f', 'null', '-'] }).catch((e: unknown) => e)) as FfmpegError
    expect(err).toBeInstanceOf(FfmpegError)
    expect(err.stderr).toMatch(/Format not on whitelist/)
    await rm(local)
  })
})

/**
 * A blank 8-bit BMP, side × side, run-length encoded (BMP is the one picture format the daemon hands to ffmpeg): its
 * pixels are a single end-of-bitmap code, so the file is about a kilobyte whatever its size once decoded.
 */
function blankBmp(side: number): Buffer {
  const palette = Buffer.alloc(256 * 4)
  const pixels = Buffer.from([0x00, 0x01]) // RLE8: end of bitmap
  const header = Buffer.alloc(54)
  header.write('BM', 0, 'latin1')
  header.writeUInt32LE(header.length + palette.length + pixels.length, 2)
  header.writeUInt32LE(header.length + palette.length, 10) // where the pixels start
  header.writeUInt32LE(40, 14) // BITMAPINFOHEADER
  header.writeInt32LE(side, 18)
  header.writeInt32LE(side, 22)
  header.writeUInt16LE(1, 26) // planes
  header.writeUInt16LE(8, 28) // bits per pixel
  header.writeUInt32LE(1, 30) // BI_RLE8
  header.writeUInt32LE(pixels.length, 34)
  header.writeUInt32LE(256, 46) // palette entries
  return Buffer.concat([header, palette, pixels])
}
