import { AppError } from '../errors.js'
import { wholeSeconds } from './duration.js'
import type { FfmpegRunner } from './ffmpeg.js'
import { explainFfmpegFailure } from './ffmpeg-failure.js'
import { parseFfmpegInfo } from './ffmpeg-info.js'
import { sniffMedia } from './sniff.js'

export interface PreparedVideo {
  bytes: Buffer
  mimetype: string
  seconds: number
  width: number
  height: number
  jpegThumbnail: Buffer
}

const PLAYABLE = new Set(['video/mp4', 'video/3gpp', 'video/quicktime'])
const CONVERTIBLE = new Set(['video/webm', 'video/x-matroska', 'video/ogg'])

// H.264 yuv420p + AAC in MP4 with the index up front: the one combination every WhatsApp client plays while loading.
const TO_MP4 = [
  '-map', '0:v:0', '-map', '0:a:0?', '-map_metadata', '-1',
  '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '28', '-pix_fmt', 'yuv420p',
  '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
  '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', '-f', 'mp4',
]

/** MP4/3GP/MOV go out as they came; WebM/MKV/OGV become MP4. One extra ffmpeg run yields the thumbnail and the facts. */
export async function prepareVideo(bytes: Buffer, ffmpeg: FfmpegRunner, timeoutMs: number): Promise<PreparedVideo> {
  const type = sniffMedia(bytes)
  if (!type || !(PLAYABLE.has(type.mime) || CONVERTIBLE.has(type.mime))) {
    throw new AppError('MEDIA_TYPE_MISMATCH', 'The content is not a video (MP4, 3GP, MOV, WebM or MKV)')
  }
  let out = bytes
  let mimetype = type.mime
  if (CONVERTIBLE.has(type.mime)) {
    const converted = await ffmpeg
      .run({ input: bytes, outputExt: 'mp4', timeoutMs, args: ({ output }) => [...TO_MP4, output] })
      .catch((err: unknown) => {
        throw explainFfmpegFailure(err, 'video', 'video')
      })
    out = converted.output ?? Buffer.alloc(0)
    mimetype = 'video/mp4'
  }

  const thumb = await ffmpeg
    .run({
      input: out,
      timeoutMs,
      args: () => ['-map', '0:v:0', '-frames:v', '1', '-vf', 'scale=32:-2', '-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '6', 'pipe:1'],
    })
    .catch((err: unknown) => {
      throw explainFfmpegFailure(err, 'video', 'video')
    })
  const info = parseFfmpegInfo(thumb.stderr)
  if (!info.video) throw new AppError('MEDIA_TYPE_MISMATCH', 'The content has no video stream')
  return {
    bytes: out,
    mimetype,
    seconds: wholeSeconds(info.durationSeconds ?? 0),
    width: info.video.width,
    height: info.video.height,
    jpegThumbnail: thumb.stdout,
  }
}
