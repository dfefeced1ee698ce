import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFfmpegRunner, type FfmpegJob, type FfmpegRunner } from '../../src/media/ffmpeg.js'
import { prepareMedia } from '../../src/media/prepare.js'
import type { MediaLimits } from '../../src/media/types.js'
import { parseCidrList } from '../../src/net/cidr.js'
import { createGuardedAgent } from '../../src/net/guarded-agent.js'
import { fixtures, oggPackets, type Fixtures } from './fixtures.js'

let f: Fixtures
let limits: MediaLimits
let server: Server
let base: string

beforeAll(async () => {
  f = await fixtures()
  limits = {
    mediaMaxBytes: 16 * 1024 * 1024,
    documentMaxBytes: 100 * 1024 * 1024,
    fetchTimeoutMs: 5000,
    agent: createGuardedAgent({ allow: parseCidrList('127.0.0.0/8') }),
  }
  server = createServer((req, res) => {
    if (req.url === '/media/voice.wav') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(f.wav)
    else if (req.url === '/docs/Report%20Q3.pdf') res.writeHead(200, { 'content-type': 'application/pdf' }).end('%PDF-1.4 tiny')
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await limits.agent.close()
  await new Promise((resolve) => server.close(resolve))
})

const b64 = (bytes: Buffer) => ({ base64: bytes.toString('base64') })
const isJpeg = (b: Buffer | undefined) => b !== undefined && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff

/** A runner that records every job, to see what ffmpeg was asked to do. */
function recordingRunner(): FfmpegRunner & { jobs: string[][] } {
  const inner = createFfmpegRunner()
  const jobs: string[][] = []
  return {
    jobs,
    stats: inner.stats,
    run(job: FfmpegJob) {
      jobs.push(job.args({ output: 'OUT' }))
      return inner.run(job)
    },
  }
}

describe('prepareMedia: image', () => {
  it('keeps a JPEG as it is, with size and a JPEG thumbnail 32 px wide', async () => {
    const m = await prepareMedia('image', b64(f.jpeg), limits)
    expect(m).toMatchObject({ kind: 'image', mimetype: 'image/jpeg', width: 40, height: 20 })
    expect(m.bytes.equals(f.jpeg)).toBe(true)
    expect(isJpeg(m.jpegThumbnail)).toBe(true)
    expect((await sharp(m.jpegThumbnail).metadata()).width).toBe(32)
  })

  it('keeps a PNG as it is', async () => {
    const m = await prepareMedia('image', b64(f.png), limits)
    expect(m.mimetype).toBe('image/png')
    expect(m.bytes.equals(f.png)).toBe(true)
  })

  it.each(['webp', 'gif', 'bmp', 'tiff'] as const)('converts %s to JPEG', async (fixture) => {
    const m = await prepareMedia('image', b64(f[fixture]), limits)
    expect(m.mimetype).toBe('image/jpeg')
    expect(isJpeg(m.bytes)).toBe(true)
    expect(isJpeg(m.jpegThumbnail)).toBe(true)
  })

  it('applies EXIF rotation', async () => {
    const m = await prepareMedia('image', b64(f.rotatedJpeg), limits)
    expect(m).toMatchObject({ mimetype: 'image/jpeg', width: 20, height: 40 })
    expect(m.bytes.equals(f.rotatedJpeg)).toBe(false)
  })

  it('trusts the bytes, not the declared mimetype or name', async () => {
    const m = await prepareMedia('image', { base64: `data:application/pdf;base64,${f.png.toString('base64')}`, filename: 'x.pdf' }, limits)
    expect(m.mimetype).toBe('image/png')
    await expect(prepareMedia('image', { ...b64(f.mp3), mimetype: 'image/jpeg', filename: 'a.jpg' }, limits)).rejects.toMatchObject({
      code: 'MEDIA_TYPE_MISMATCH',
      status: 422,
    })
  })

  it('a truncated image is MEDIA_CONVERSION_FAILED, not a crash', async () => {
    const broken = Buffer.concat([f.jpeg.subarray(0, 20), Buffer.alloc(50, 7)])
    await expect(prepareMedia('image', b64(broken), limits)).rejects.toMatchObject({ code: 'MEDIA_CONVERSION_FAILED', status: 422 })
  })
})

describe('prepareMedia: sticker', () => {
  it('keeps WebP', async () => {
    const m = await prepareMedia('sticker', b64(f.webp), limits)
    expect(m).toMatchObject({ kind: 'sticker', mimetype: 'image/webp', width: 40, height: 20 })
    expect(m.bytes.equals(f.webp)).toBe(true)
  })

  it.each(['png', 'jpeg'] as const)('turns %s into a 512×512 WebP', async (fixture) => {
    const m = await prepareMedia('sticker', b64(f[fixture]), limits)
    expect(m).toMatchObject({ mimetype: 'image/webp', width: 512, height: 512 })
    expect((await sharp(m.bytes).metadata()).format).toBe('webp')
  })

  it('refuses audio', async () => {
    await expect(prepareMedia('sticker', b64(f.mp3), limits)).rejects.toMatchObject({ code: 'MEDIA_TYPE_MISMATCH' })
  })
})

describe('prepareMedia: video', () => {
  it('keeps MP4, with seconds, size and a JPEG thumbnail', async () => {
    const m = await prepareMedia('video', b64(f.mp4), limits)
    expect(m).toMatchObject({ kind: 'video', mimetype: 'video/mp4', seconds: 1, width: 64, height: 48 })
    expect(m.bytes.equals(f.mp4)).toBe(true)
    expect(isJpeg(m.jpegThumbnail)).toBe(true)
    expect((await sharp(m.jpegThumbnail).metadata()).width).toBe(32)
  })

  it('keeps a video without sound', async () => {
    expect(await prepareMedia('video', b64(f.mp4Silent), limits)).toMatchObject({ mimetype: 'video/mp4', width: 64, height: 48 })
  })

  it.each(['mov', 'threeGp'] as const)('keeps %s with its own mimetype', async (fixture) => {
    const m = await prepareMedia('video', b64(f[fixture]), limits)
    expect(m.mimetype).toBe(fixture === 'mov' ? 'video/quicktime' : 'video/3gpp')
    expect(m.bytes.equals(f[fixture])).toBe(true)
  })

  it('converts MKV to MP4', async () => {
    expect(await prepareMedia('video', b64(f.mkv), limits)).toMatchObject({ mimetype: 'video/mp4', seconds: 1 })
  })

  it('converts WebM to MP4 (H.264/AAC)', async () => {
    const m = await prepareMedia('video', b64(f.webm), limits)
    expect(m).toMatchObject({ mimetype: 'video/mp4', seconds: 1, width: 64, height: 48 })
    expect(m.bytes.toString('latin1', 4, 8)).toBe('ftyp')
    expect(isJpeg(m.jpegThumbnail)).toBe(true)
  })

  it('refuses an audio-only WebM and an image', async () => {
    await expect(prepareMedia('video', b64(f.webmAudio), limits)).rejects.toMatchObject({ code: 'MEDIA_TYPE_MISMATCH' })
    await expect(prepareMedia('video', b64(f.png), limits)).rejects.toMatchObject({ code: 'MEDIA_TYPE_MISMATCH' })
  })

  it('an MP4 header on garbage is MEDIA_CONVERSION_FAILED', async () => {
    const broken = Buffer.concat([f.mp4.subarray(0, 32), Buffer.alloc(2000, 1)])
    await expect(prepareMedia('video', b64(broken), limits)).rejects.toMatchObject({ code: 'MEDIA_CONVERSION_FAILED' })
  })
})

describe('prepareMedia: audio', () => {
  it.each([
    ['mp3', 'audio/mpeg'],
    ['opusMono', 'audio/ogg; codecs=opus'],
    ['m4a', 'audio/mp4'],
    ['aac', 'audio/aac'],
    ['amr', 'audio/amr'],
  ] as const)('keeps %s as %s, with seconds', async (fixture, mimetype) => {
    const m = await prepareMedia('audio', b64(f[fixture]), limits)
    expect(m).toMatchObject({ kind: 'audio', mimetype, seconds: 2 })
    expect(m.bytes.equals(f[fixture])).toBe(true)
    expect(m.ptt).toBeUndefined()
  })

  it.each(['wav', 'flac', 'webmAudio'] as const)('converts %s to MP3', async (fixture) => {
    const m = await prepareMedia('audio', b64(f[fixture]), limits)
    expect(m).toMatchObject({ mimetype: 'audio/mpeg', seconds: 2 })
    expect(m.bytes.subarray(0, 3).toString('latin1')).toBe('ID3')
  })

  it('refuses a conversion whose result exceeds the limit the input was within (MEDIA_TOO_LARGE)', async () => {
    const input = f.webmAudio
    const converted = await prepareMedia('audio', b64(input), limits)
    expect(converted.bytes.length).toBeGreaterThan(input.length) // the premise: this re-encode grows the file
    const tight = { ...limits, mediaMaxBytes: input.length }
    await expect(prepareMedia('audio', b64(input), tight)).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE', status: 413 })
  })

  it('refuses an image and a video without sound', async () => {
    await expect(prepareMedia('audio', b64(f.png), limits)).rejects.toMatchObject({ code: 'MEDIA_TYPE_MISMATCH' })
    await expect(prepareMedia('audio', b64(f.mp4Silent), limits)).rejects.toMatchObject({ code: 'MEDIA_TYPE_MISMATCH' })
  })

  it('takes the sound of a video', async () => {
    expect(await prepareMedia('audio', b64(f.mkv), limits)).toMatchObject({ mimetype: 'audio/mpeg', seconds: 1 })
  })

  it('an MP3 frame header on garbage is MEDIA_CONVERSION_FAILED or MISMATCH, never a crash', async () => {
    const broken = Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.alloc(100, 0x13)])
    const err = await prepareMedia('audio', b64(broken), limits).catch((e: unknown) => e)
    expect(['MEDIA_CONVERSION_FAILED', 'MEDIA_TYPE_MISMATCH']).toContain((err as { code?: string }).code)
  })
})

/** OpusHead (RFC 7845 §5.1): magic, version, channel count, pre-skip, input sample rate. */
function opusHead(ogg: Buffer) {
  const head = oggPackets(ogg)[0] ?? Buffer.alloc(0)
  return { magic: head.toString('latin1', 0, 8), version: head[8], channels: head[9], inputRate: head.readUInt32LE(12) }
}

/**
 * Duration in ms of an Opus packet, from its TOC byte (RFC 6716 §3.1): the configuration gives the frame size, the
 * code the number of frames (code 3 counts them in the next byte).
 */
function opusPacketMs(packet: Buffer): number {
  const toc = packet[0] ?? 0
  const config = toc >> 3
  const frameMs =
    config < 12 ? [10, 20, 40, 60][config % 4]! : config < 16 ? [10, 20][config % 2]! : [2.5, 5, 10, 20][config % 4]!
  const code = toc & 3
  const frames = code === 0 ? 1 : code < 3 ? 2 : (packet[1] ?? 0) & 0x3f
  return frameMs * frames
}

describe('prepareMedia: voice', () => {
  it('converts to OGG/Opus mono 48 kHz with ptt, seconds and a 64-sample waveform', async () => {
    const m = await prepareMedia('voice', b64(f.wav), limits)
    expect(m).toMatchObject({ kind: 'voice', mimetype: 'audio/ogg; codecs=opus', ptt: true, seconds: 2 })
    expect(m.bytes.toString('latin1', 0, 4)).toBe('OggS')
    expect(opusHead(m.bytes)).toEqual({ magic: 'OpusHead', version: 1, channels: 1, inputRate: 48000 })
    // 60 ms packets (VOICE_OPUS_ARGS): a third of the encoder's per-packet work of the 20 ms default.
    expect(new Set(oggPackets(m.bytes).slice(2).map(opusPacketMs))).toEqual(new Set([60]))
    const waveform = m.waveform ?? new Uint8Array()
    expect(waveform).toHaveLength(64)
    expect(Math.max(...waveform)).toBe(100)
    expect(Math.min(...waveform)).toBeGreaterThanOrEqual(0)
    expect(new Set(waveform).size).toBeGreaterThan(10)
    // The tone swells and fades: loud in the middle, quiet at both ends.
    expect(waveform[32]).toBeGreaterThan(90)
    expect(waveform[0]).toBeLessThan(20)
    expect(waveform[63]).toBeLessThan(20)
  })

  it('audio with ptt:true is a voice note', async () => {
    const m = await prepareMedia('audio', { ...b64(f.mp3), ptt: true }, limits)
    expect(m).toMatchObject({ kind: 'voice', mimetype: 'audio/ogg; codecs=opus', ptt: true })
    expect(opusHead(m.bytes).channels).toBe(1)
  })

  it('copies mono Ogg/Opus instead of re-encoding it', async () => {
    const ffmpeg = recordingRunner()
    const m = await prepareMedia('voice', b64(f.opusMono), limits, { ffmpeg })
    expect(ffmpeg.jobs.flat()).toContain('copy')
    expect(ffmpeg.jobs.flat()).not.toContain('libopus')
    // Same audio packets bit for bit (packets 0 and 1 are OpusHead and OpusTags, which the muxer rewrites).
    expect(oggPackets(m.bytes).slice(2)).toEqual(oggPackets(f.opusMono).slice(2))
    expect(m.seconds).toBe(2)
  })

  it('re-encodes stereo Ogg/Opus to mono', async () => {
    const ffmpeg = recordingRunner()
    const m = await prepareMedia('voice', b64(f.opusStereo), limits, { ffmpeg })
    expect(ffmpeg.jobs.flat()).toContain('libopus')
    // Encoder effort 5, not ffmpeg's default 10 (see VOICE_OPUS_ARGS): ≈ 20–35 % less CPU per note.
    expect(ffmpeg.jobs.flat().join(' ')).toContain('-compression_level 5')
    expect(opusHead(m.bytes).channels).toBe(1)
  })

  it('converts the audio track of a video', async () => {
    const m = await prepareMedia('voice', b64(f.mp4), limits)
    expect(m).toMatchObject({ mimetype: 'audio/ogg; codecs=opus', seconds: 1 })
  })

  it('fetches from a URL (allowlisted local server)', async () => {
    const m = await prepareMedia('voice', { url: `${base}/media/voice.wav` }, limits)
    expect(m).toMatchObject({ mimetype: 'audio/ogg; codecs=opus', seconds: 2 })
  })

  it('refuses an image and a video without sound', async () => {
    await expect(prepareMedia('voice', b64(f.jpeg), limits)).rejects.toMatchObject({ code: 'MEDIA_TYPE_MISMATCH' })
    await expect(prepareMedia('voice', b64(f.mp4Silent), limits)).rejects.toMatchObject({ code: 'MEDIA_TYPE_MISMATCH' })
  })
})

describe('prepareMedia: document', () => {
  it('keeps the given filename and the sniffed mimetype', async () => {
    const m = await prepareMedia('document', { ...b64(Buffer.from('%PDF-1.4 x')), filename: 'contract.pdf', mimetype: 'text/plain' }, limits)
    expect(m).toMatchObject({ kind: 'document', mimetype: 'application/pdf', fileName: 'contract.pdf' })
  })

  it('takes the filename from the URL', async () => {
    const m = await prepareMedia('document', { url: `${base}/docs/Report%20Q3.pdf` }, limits)
    expect(m).toMatchObject({ mimetype: 'application/pdf', fileName: 'Report Q3.pdf' })
  })

  it('uses the declared mimetype when the bytes say nothing', async () => {
    const m = await prepareMedia('document', { ...b64(Buffer.from('a,b\n1,2\n')), mimetype: 'text/csv' }, limits)
    expect(m).toMatchObject({ mimetype: 'text/csv', fileName: 'document.csv' })
  })

  it('falls back to text/plain, then application/octet-stream', async () => {
    expect(await prepareMedia('document', b64(Buffer.from('hello')), limits)).toMatchObject({ mimetype: 'text/plain', fileName: 'document.txt' })
    expect(await prepareMedia('document', b64(Buffer.from([0, 1, 2, 3])), limits)).toMatchObject({
      mimetype: 'application/octet-stream',
      fileName: 'document.bin',
    })
  })

  it('names a sniffed document by its type, and strips paths from given names', async () => {
    expect(await prepareMedia('document', b64(f.png), limits)).toMatchObject({ mimetype: 'image/png', fileName: 'document.png' })
    expect(await prepareMedia('document', { ...b64(f.png), filename: '../../etc/passwd' }, limits)).toMatchObject({ fileName: 'passwd' })
  })

  it('prefers a declared zip-based type over a generic zip', async () => {
    const zip = Buffer.from('PK\x03\x04 mimetypeapplication/epub+zip', 'latin1')
    expect(await prepareMedia('document', { ...b64(zip), mimetype: 'application/epub+zip' }, limits)).toMatchObject({
      mimetype: 'application/epub+zip',
      fileName: 'document.epub',
    })
  })
})

describe('prepareMedia: limits and input', () => {
  it('media over mediaMaxBytes is 413; documents have their own, larger limit', async () => {
    const small = { ...limits, mediaMaxBytes: 100, documentMaxBytes: 10_000 }
    await expect(prepareMedia('image', b64(f.jpeg), small)).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE', status: 413 })
    await expect(prepareMedia('voice', { url: `${base}/media/voice.wav` }, small)).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE' })
    expect((await prepareMedia('document', b64(f.jpeg), small)).kind).toBe('document')
    await expect(prepareMedia('document', b64(f.wav), small)).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE' })
  })

  it('wants exactly one of base64 and url', async () => {
    await expect(prepareMedia('image', {}, limits)).rejects.toMatchObject({ code: 'MEDIA_REQUIRED' })
    await expect(prepareMedia('image', { base64: 'aGk=', url: 'http://x/' }, limits)).rejects.toMatchObject({ code: 'MEDIA_AMBIGUOUS' })
  })

  it('passes on base64, URL and SSRF errors', async () => {
    await expect(prepareMedia('image', { base64: 'not base64!' }, limits)).rejects.toMatchObject({ code: 'BASE64_INVALID' })
    await expect(prepareMedia('image', { url: 'ftp://x/a.png' }, limits)).rejects.toMatchObject({ code: 'URL_INVALID' })
    await expect(prepareMedia('image', { url: 'http://169.254.169.254/latest/meta-data' }, limits)).rejects.toMatchObject({
      code: 'MEDIA_URL_FORBIDDEN',
    })
  })

  it.each(['image', 'video', 'audio', 'voice', 'sticker'] as const)('%s: random bytes are a 422, never a crash', async (kind) => {
    const err = await prepareMedia(kind, b64(Buffer.from('\x00\x01garbage'.repeat(20))), limits).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'AppError', status: 422 })
  })
})
