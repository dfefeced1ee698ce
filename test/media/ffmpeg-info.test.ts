import { describe, expect, it } from 'vitest'
import { parseFfmpegInfo } from '../../src/media/ffmpeg-info.js'

const rotatedPhoneVideo = `Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'input':
  Metadata:
    major_brand     : isom
  Duration: 00:01:02.50, start: 0.000000, bitrate: 99 kb/s
    Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709), 1920x1080, 15 kb/s, 30 fps, 30 tbr, 90k tbn, 60 tbc (default)
    Metadata:
      rotate          : 90
      handler_name    : VideoHandler
    Side data:
      displaymatrix: rotation of -90.00 degrees
    Stream #0:1(und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 128 kb/s (default)
Output #0, null, to 'pipe:':
    Stream #0:0(und): Video: mjpeg, yuvj420p, 1080x1920
frame=    1 fps=0.0 q=-1.0 Lsize=N/A time=00:00:00.03 bitrate=N/A speed=5x
`

describe('parseFfmpegInfo', () => {
  it('reads duration, streams, and swaps width/height for a 90° rotation', () => {
    expect(parseFfmpegInfo(rotatedPhoneVideo)).toEqual({
      durationSeconds: 62.5,
      video: { codec: 'h264', width: 1080, height: 1920 },
      audio: { codec: 'aac', sampleRate: 48000, channels: 2 },
    })
  })

  it('falls back to the last progress time when the header has no duration', () => {
    const webm = `Input #0, matroska,webm, from 'input':
  Duration: N/A, start: 0.000000, bitrate: N/A
    Stream #0:0: Audio: opus, 48000 Hz, mono, fltp (default)
Output #0, mp3, to 'out.mp3':
size=      10kB time=00:00:01.20 bitrate= 64.0kbits/s\rsize=      20kB time=00:00:03.48 bitrate= 64.0kbits/s speed=40x
`
    expect(parseFfmpegInfo(webm)).toEqual({ durationSeconds: 3.48, audio: { codec: 'opus', sampleRate: 48000, channels: 1 } })
  })

  it('reads "N channels" layouts and ignores cover art', () => {
    const info = parseFfmpegInfo(`Input #0, mp3, from 'input':
  Duration: 00:00:10.00, start: 0.025057, bitrate: 128 kb/s
    Stream #0:0: Audio: mp3, 44100 Hz, 3 channels, fltp, 128 kb/s
    Stream #0:1: Video: mjpeg, yuvj420p(pc, bt470bg/unknown/unknown), 500x500, 90k tbr, 90k tbn, 90k tbc (attached pic)
`)
    expect(info).toEqual({ durationSeconds: 10, audio: { codec: 'mp3', sampleRate: 44100, channels: 3 } })
  })

  it('knows nothing from garbage', () => {
    expect(parseFfmpegInfo('input: Invalid data found when processing input')).toEqual({})
  })
})
