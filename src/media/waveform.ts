export const WAVEFORM_SAMPLES = 64

/**
 * WhatsApp's voice-note waveform: the signal cut into 64 buckets, the peak amplitude of each, scaled so the loudest
 * bucket is 100. `pcm` is signed 16-bit little-endian mono.
 */
export function computeWaveform(pcm: Buffer): Uint8Array {
  const samples = Math.floor(pcm.length / 2)
  const peaks = new Float64Array(WAVEFORM_SAMPLES)
  if (samples === 0) return new Uint8Array(WAVEFORM_SAMPLES)
  for (let bucket = 0; bucket < WAVEFORM_SAMPLES; bucket++) {
    const start = Math.floor((bucket * samples) / WAVEFORM_SAMPLES)
    const end = Math.max(start + 1, Math.floor(((bucket + 1) * samples) / WAVEFORM_SAMPLES))
    let peak = 0
    for (let i = start; i < end && i < samples; i++) {
      const v = Math.abs(pcm.readInt16LE(i * 2))
      if (v > peak) peak = v
    }
    peaks[bucket] = peak
  }
  const max = Math.max(...peaks)
  const waveform = new Uint8Array(WAVEFORM_SAMPLES)
  if (max === 0) return waveform
  for (let i = 0; i < WAVEFORM_SAMPLES; i++) waveform[i] = Math.round(((peaks[i] ?? 0) / max) * 100)
  return waveform
}
