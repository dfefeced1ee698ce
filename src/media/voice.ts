import { sniffAudioInput } from './audio-input.js'
import { wholeSeconds } from './duration.js'
import type { FfmpegRunner } from './ffmpeg.js'
import { explainFfmpegFailure } from './ffmpeg-failure.js'
import { computeWaveform } from './waveform.js'

export interface PreparedVoice {
  bytes: Buffer
  mimetype: 'audio/ogg; codecs=opus'
  seconds: number
  waveform: Uint8Array
  ptt: true
}

const WAVEFORM_RATE = 8000

// WhatsApp's own voice notes are mono Opus in Ogg; speech needs no more than 32 kb/s.
const ENCODE_OPUS = ['-c:a', 'libopus', '-ac', '1', '-ar', '48000', '-b:a', '32k', '-application', 'voip']
const COPY = ['-c:a', 'copy']

/**
 * Any audio → an Ogg/Opus mono voice note with duration and waveform, in one ffmpeg run: output 1 is the note,
 * output 2 the same audio decoded to 8 kHz PCM on stdout, which gives the exact duration and the waveform.
 */
export async function prepareVoice(bytes: Buffer, ffmpeg: FfmpegRunner, timeoutMs: number): Promise<PreparedVoice> {
  const type = sniffAudioInput(bytes)
  const codec = type.mime === 'audio/ogg; codecs=opus' && opusChannelCount(bytes) === 1 ? COPY : ENCODE_OPUS
  const result = await ffmpeg
    .run({
      input: bytes,
      outputExt: 'ogg',
      timeoutMs,
      args: ({ output }) => [
        '-map', '0:a:0', '-vn', '-map_metadata', '-1', ...codec, '-f', 'ogg', output,
        '-map', '0:a:0', '-ac', '1', '-ar', String(WAVEFORM_RATE), '-f', 's16le', 'pipe:1',
      ],
    })
    .catch((err: unknown) => {
      throw explainFfmpegFailure(err, 'audio', 'voice note')
    })
  const samples = result.stdout.length / 2
  return {
    bytes: result.output ?? Buffer.alloc(0),
    mimetype: 'audio/ogg; codecs=opus',
    seconds: wholeSeconds(samples / WAVEFORM_RATE),
    waveform: computeWaveform(result.stdout),
    ptt: true,
  }
}

/** Channel count from the OpusHead packet that opens an Ogg/Opus file (RFC 7845 §5.1), read at its fixed offset. */
export function opusChannelCount(bytes: Buffer): number | undefined {
  const head = 28 // 27-byte page header + 1 segment-table entry (OpusHead fills one segment)
  if (bytes.toString('latin1', head, head + 8) !== 'OpusHead') return undefined
  return bytes[head + 9]
}
