import { describe, expect, it } from 'vitest'
import { computeWaveform } from '../../src/media/waveform.js'

const pcm = (samples: number[]) => {
  const b = Buffer.alloc(samples.length * 2)
  samples.forEach((s, i) => b.writeInt16LE(s, i * 2))
  return b
}

describe('computeWaveform', () => {
  it('gives 64 peaks scaled so the loudest is 100', () => {
    const ramp = Array.from({ length: 6400 }, (_, i) => (i % 2 ? -1 : 1) * Math.floor((i / 6400) * 32767))
    const w = computeWaveform(pcm(ramp))
    expect(w).toHaveLength(64)
    expect(w[63]).toBe(100)
    expect(w[0]).toBeLessThan(3)
    expect([...w]).toEqual([...w].sort((a, b) => a - b))
  })

  it('is all zeros for silence and for no audio', () => {
    expect([...computeWaveform(pcm(new Array(1000).fill(0)))]).toEqual(new Array(64).fill(0))
    expect(computeWaveform(Buffer.alloc(0))).toHaveLength(64)
  })

  it('handles fewer samples than buckets', () => {
    const w = computeWaveform(pcm([1000, -2000, 500]))
    expect(w).toHaveLength(64)
    expect(Math.max(...w)).toBe(100)
  })

  it('counts negative peaks (-32768 included)', () => {
    expect(Math.max(...computeWaveform(pcm([-32768, 0])))).toBe(100)
  })

  it('agrees with a per-sample reference, whether or not the PCM starts on an even byte', () => {
    let seed = 7
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 65535 - 32768
    const samples = Array.from({ length: 10_007 }, (_, i) => Math.round(random() * Math.min(1, i / 5000)))
    const reference = (buf: Buffer) => {
      const n = buf.length / 2
      const peaks = Array.from({ length: 64 }, (_, b) => {
        const start = Math.floor((b * n) / 64)
        const end = Math.max(start + 1, Math.floor(((b + 1) * n) / 64))
        let peak = 0
        for (let i = start; i < end; i++) peak = Math.max(peak, Math.abs(buf.readInt16LE(i * 2)))
        return peak
      })
      const max = Math.max(...peaks)
      return peaks.map((p) => Math.round((p / max) * 100))
    }
    const aligned = pcm(samples)
    const odd = Buffer.alloc(aligned.length + 1).subarray(1)
    aligned.copy(odd)
    expect(odd.byteOffset % 2).toBe(1)
    const expected = reference(aligned)
    expect(new Set(expected).size).toBeGreaterThan(20)
    expect([...computeWaveform(aligned)]).toEqual(expected)
    expect([...computeWaveform(odd)]).toEqual(expected)
  })
})
