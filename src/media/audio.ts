import { AppError } from '../errors.js'
import { sniffAudioInput } from './audio-input.js'
import { wholeSeconds } from './duration.js'
import type { FfmpegRunner } from './ffmpeg.js'
import { explainFfmpegFailure } from './ffmpeg-failure.js'
import { parseFfmpegInfo } from './ffmpeg-info.js'

export interface PreparedAudio {
  bytes: Buffer
  mimetype: string
  seconds: number
}

/** Formats WhatsApp clients play as an audio message; they go out untouched. */
const PLAYABLE: Record<string, string> = {
  'audio/mpeg': 'audio/mpeg',
  'audio/ogg; codecs=opus': 'audio/ogg; codecs=opus',
  'audio/ogg': 'audio/ogg',
  'audio/mp4': 'audio/mp4',
  'audio/aac': 'audio/aac',
  'audio/amr': 'audio/amr',
}

// Everything else becomes MP3: every client plays it, it streams without an index to move (unlike M4A), and LAME
// beats this static ffmpeg's native AAC encoder at equal bitrate. ffmpeg picks a rate/layout LAME supports itself.
const TO_MP3 = ['-map', '0:a:0', '-vn', '-map_metadata', '-1', '-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3']

export async function prepareAudio(bytes: Buffer, ffmpeg: FfmpegRunner, timeoutMs: number): Promise<PreparedAudio> {
  const type = sniffAudioInput(bytes)
  const playable = PLAYABLE[type.mime]
  if (playable) {
    const probe = await ffmpeg
      .run({ input: bytes, timeoutMs, args: () => ['-map', '0:a:0', '-c', 'copy', '-f', 'null', '-'] })
      .catch((err: unknown) => {
        throw explainFfmpegFailure(err, 'audio', 'audio')
      })
    const info = parseFfmpegInfo(probe.stderr)
    if (!info.audio) throw new AppError('MEDIA_TYPE_MISMATCH', 'The content has no audio stream')
    return { bytes, mimetype: playable, seconds: wholeSeconds(info.durationSeconds ?? 0) }
  }

  const converted = await ffmpeg
    .run({ input: bytes, outputExt: 'mp3', timeoutMs, args: ({ output }) => [...TO_MP3, output] })
    .catch((err: unknown) => {
      throw explainFfmpegFailure(err, 'audio', 'audio')
    })
  const info = parseFfmpegInfo(converted.stderr)
  return { bytes: converted.output ?? Buffer.alloc(0), mimetype: 'audio/mpeg', seconds: wholeSeconds(info.durationSeconds ?? 0) }
}
