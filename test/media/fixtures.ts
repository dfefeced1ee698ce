import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import sharp from 'sharp'
import { bundledFfmpegBinary } from '../../src/media/ffmpeg.js'

const run = promisify(execFile)

// A 440 Hz tone whose loudness rises and falls, so a waveform of it cannot be flat.
const TONE = 'aevalsrc=sin(2*PI*440*t)*sin(PI*t/1.5):s=48000:d=1.5'

const AUDIO_OUTPUTS = {
  wav: ['-c:a', 'pcm_s16le', '-f', 'wav'],
  mp3: ['-c:a', 'libmp3lame', '-b:a', '32k', '-f', 'mp3'],
  opusMono: ['-c:a', 'libopus', '-b:a', '16k', '-ac', '1', '-f', 'ogg'],
  opusStereo: ['-c:a', 'libopus', '-b:a', '16k', '-ac', '2', '-f', 'ogg'],
  vorbis: ['-c:a', 'libvorbis', '-q:a', '0', '-f', 'ogg'],
  m4a: ['-c:a', 'aac', '-b:a', '32k', '-f', 'ipod'],
  flac: ['-c:a', 'flac', '-ar', '8000', '-f', 'flac'],
  aac: ['-c:a', 'aac', '-b:a', '32k', '-f', 'adts'],
  amr: ['-c:a', 'libopencore_amrnb', '-ar', '8000', '-ac', '1', '-b:a', '12.2k', '-f', 'amr'],
  webmAudio: ['-c:a', 'libopus', '-b:a', '16k', '-f', 'webm'],
} as const

const AV = ['-map', '0:v', '-map', '1:a']
const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p']
const VIDEO_OUTPUTS = {
  mp4: [...AV, ...H264, '-c:a', 'aac', '-b:a', '32k', '-f', 'mp4'],
  mp4Silent: ['-map', '0:v', ...H264, '-f', 'mp4'],
  mov: [...AV, ...H264, '-c:a', 'aac', '-b:a', '32k', '-f', 'mov'],
  threeGp: [...AV, ...H264, '-c:a', 'aac', '-b:a', '32k', '-f', '3gp'],
  webm: [...AV, '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '50k', '-c:a', 'libopus', '-b:a', '16k', '-f', 'webm'],
  mkv: [...AV, ...H264, '-c:a', 'libopus', '-b:a', '16k', '-f', 'matroska'],
} as const

export type AudioFixture = keyof typeof AUDIO_OUTPUTS
export type VideoFixture = keyof typeof VIDEO_OUTPUTS
export type ImageFixture = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'bmp' | 'rotatedJpeg'
export type Fixtures = Record<AudioFixture | VideoFixture | ImageFixture, Buffer>

async function ffmpegMany(inputs: string[], outputs: Record<string, readonly string[]>, dir: string) {
  const args = ['-hide_banner', '-nostdin', '-y', ...inputs]
  for (const [name, opts] of Object.entries(outputs)) args.push(...opts, join(dir, name))
  // The bundled build has every encoder the fixtures need (AMR-NB among them); distributions' builds often lack some.
  await run(bundledFfmpegBinary(), args)
  const entries = await Promise.all(Object.keys(outputs).map(async (name) => [name, await readFile(join(dir, name))] as const))
  return Object.fromEntries(entries)
}

async function generate(): Promise<Fixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'wagw-fixtures-'))
  try {
    const settled = await Promise.allSettled([
      ffmpegMany(['-f', 'lavfi', '-i', TONE], AUDIO_OUTPUTS, dir),
      ffmpegMany(
        ['-f', 'lavfi', '-i', 'testsrc=s=64x48:d=1:r=10', '-f', 'lavfi', '-i', 'sine=f=440:d=1'],
        VIDEO_OUTPUTS,
        dir,
      ),
      imageFixtures(),
    ])
    const failed = settled.find((r) => r.status === 'rejected')
    if (failed) throw failed.reason
    return Object.assign({}, ...settled.map((r) => (r.status === 'fulfilled' ? r.value : {}))) as Fixtures
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function imageFixtures(): Promise<Record<ImageFixture, Buffer>> {
  const base = () => sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 200, g: 30, b: 30 } } })
  return {
    jpeg: await base().jpeg().toBuffer(),
    png: await base().png().toBuffer(),
    webp: await base().webp().toBuffer(),
    gif: await base().gif().toBuffer(),
    tiff: await base().tiff().toBuffer(),
    bmp: bmp(4, 2),
    // EXIF orientation 6: stored 40×20, displayed 20×40.
    rotatedJpeg: await base().jpeg().withMetadata({ orientation: 6 }).toBuffer(),
  }
}

/** A 24-bit BMP (sharp cannot write BMP). */
function bmp(width: number, height: number): Buffer {
  const rowSize = Math.ceil((width * 3) / 4) * 4
  const pixels = rowSize * height
  const b = Buffer.alloc(54 + pixels, 0x80)
  b.write('BM', 0, 'latin1')
  b.writeUInt32LE(54 + pixels, 2)
  b.writeUInt32LE(0, 6)
  b.writeUInt32LE(54, 10)
  b.writeUInt32LE(40, 14)
  b.writeInt32LE(width, 18)
  b.writeInt32LE(height, 22)
  b.writeUInt16LE(1, 26)
  b.writeUInt16LE(24, 28)
  b.writeUInt32LE(0, 30)
  b.writeUInt32LE(pixels, 34)
  b.writeInt32LE(2835, 38)
  b.writeInt32LE(2835, 42)
  b.writeUInt32LE(0, 46)
  b.writeUInt32LE(0, 50)
  return b
}

let cached: Promise<Fixtures> | undefined

/** Tiny media samples, generated once per test worker with sharp and ffmpeg (nothing committed). */
export function fixtures(): Promise<Fixtures> {
  cached ??= generate()
  return cached
}

/** Splits an Ogg stream into its packets (RFC 3533), for checks on OpusHead and on copied payloads. */
export function oggPackets(bytes: Buffer): Buffer[] {
  const packets: Buffer[] = []
  let pending: Buffer[] = []
  let offset = 0
  while (offset + 27 <= bytes.length && bytes.toString('latin1', offset, offset + 4) === 'OggS') {
    const segments = bytes[offset + 26] ?? 0
    const table = bytes.subarray(offset + 27, offset + 27 + segments)
    let data = offset + 27 + segments
    for (const lacing of table) {
      pending.push(bytes.subarray(data, data + lacing))
      data += lacing
      if (lacing < 255) {
        packets.push(Buffer.concat(pending))
        pending = []
      }
    }
    offset = data
  }
  return packets
}
