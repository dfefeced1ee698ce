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
/**
 * The side output only feeds 64 peak buckets and a sample count, so it takes the cheapest resampler (one tap, no
 * phase table): ffmpeg's default (32 taps) made this output ≈ 14 % of the whole conversion's CPU, this ≈ 2 %. The
 * sample count, hence the duration, depends on the rate alone.
 */
const WAVEFORM_RESAMPLER = `aresample=${WAVEFORM_RATE}:filter_size=1:phase_shift=0`

/**
 * WhatsApp's own voice notes are mono Opus in Ogg; speech needs no more than 32 kb/s.
 *
 * Coded bandwidth capped at wideband, 0–8 kHz (`-cutoff 8000`, libopus OPUS_SET_MAX_BANDWIDTH), the band of wideband
 * ("HD") phone speech. The stream stays 48 kHz Opus, as before: only the encoder's choice of band changes.
 * Left to itself at 32 kb/s libopus codes up to 20 kHz in hybrid mode (SILK + CELT) and spends bits there; capped, it
 * runs SILK alone, ≈ 25 % less encoder CPU on the benchmark's input (60 s MP3 → Opus with Debian's ffmpeg: 0.70 s →
 * 0.53 s), and the speech band gets those bits: segmental SNR over 0–7.6 kHz rose 0.3–0.45 dB on flite speech, clean
 * and under pink noise (the same crude proxy as below; not a listening test).
 *
 * Encoder effort 5 (`-compression_level`, libopus "complexity"; ffmpeg's default is 10, the slowest). The encoder is
 * ≈ 80 % of a conversion's CPU, and 5 cuts its time by ≈ 20 % on the benchmark's tone-under-noise input and ≈ 35 % on
 * speech (60 s MP3 → Opus: 1.11 s → 0.87 s of CPU with Debian's ffmpeg 5.1 / libopus 1.3.1). What 5 gives up at
 * 32 kb/s in voip mode (SILK, plus CELT above 8 kHz): the speech/music analysis (without it `-application voip`
 * takes the input for speech, which a voice note is), 4 → 2 delayed-decision quantiser states, 16 → 8 NLSF
 * survivors, noise-shaping order 24 → 12. It keeps what matters most for speech: delayed decision, interpolated NLSFs
 * and warped noise shaping (all three go below 4). WebRTC runs live calls on phones, where most voice notes come
 * from, at 5. Measured on 41 s of synthetic speech, clean and under pink noise, 10 → 5 moved segmental SNR and the
 * 0–8 kHz log-spectral distance by ≤ 0.16 dB; those crude proxies (no PESQ/ViSQOL here; not a listening test) move as
 * much between 32 and 24 kb/s and by 0.8 dB at 16 kb/s. File size is unchanged: the bitrate is the target.
 *
 * 60 ms packets (`-frame_duration 60`; ffmpeg's default is 20): the encoder's work per packet is paid a third as often.
 * Measured with Debian's ffmpeg: CPU per conversion −7 % on 46 s of flite speech (0.73 → 0.68 s), −15 % on the
 * benchmark's tone under noise (0.80 → 0.68 s); segmental SNR unchanged (±0.03 dB), log-spectral distance +0.1 dB,
 * within what the proxies move between runs of other settings. Files came out 4–10 % smaller (a third as many
 * packets, each with its own Ogg lacing and TOC bytes). Latency, the usual reason for 20 ms, means nothing in a
 * recorded note, and every Opus decoder must play 60 ms packets (RFC 6716 §3.1: frames of 2.5 to 60 ms, packets up
 * to 120 ms).
 */
export const VOICE_OPUS_ARGS = [
  '-c:a', 'libopus', '-ac', '1', '-ar', '48000', '-b:a', '32k', '-application', 'voip', '-compression_level', '5', '-cutoff', '8000',
  '-frame_duration', '60',
]
const COPY = ['-c:a', 'copy']

/**
 * Any audio → an Ogg/Opus mono voice note with duration and waveform, in one ffmpeg run: output 1 is the note,
 * output 2 the same audio decoded to 8 kHz PCM on stdout, which gives the exact duration and the waveform.
 */
export async function prepareVoice(bytes: Buffer, ffmpeg: FfmpegRunner, timeoutMs: number): Promise<PreparedVoice> {
  const type = sniffAudioInput(bytes)
  const codec = type.mime === 'audio/ogg; codecs=opus' && opusChannelCount(bytes) === 1 ? COPY : VOICE_OPUS_ARGS
  const result = await ffmpeg
    .run({
      input: bytes,
      outputExt: 'ogg',
      timeoutMs,
      args: ({ output }) => [
        '-map', '0:a:0', '-vn', '-map_metadata', '-1', ...codec, '-f', 'ogg', output,
        // Not flushed per packet: on a pipe ffmpeg's default is to flush each one, ≈ 2,000 writes of ≈ 0.5 KB for a
        // 60 s note, each waking Node for a 'data' event; unflushed, ≈ 30 of 32 KiB (40–100 ms less per conversion).
        '-map', '0:a:0', '-ac', '1', '-af', WAVEFORM_RESAMPLER, '-f', 's16le', '-flush_packets', '0', 'pipe:1',
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
function opusChannelCount(bytes: Buffer): number | undefined {
  const head = 28 // 27-byte page header + 1 segment-table entry (OpusHead fills one segment)
  if (bytes.toString('latin1', head, head + 8) !== 'OpusHead') return undefined
  return bytes[head + 9]
}
