/** What ffmpeg's stderr says about its first input; parsed because the bundled static ffmpeg has no ffprobe. */
export interface MediaInfo {
  durationSeconds?: number
  video?: { codec: string; width: number; height: number }
  audio?: { codec: string; sampleRate?: number; channels?: number }
}

const CHANNELS_BY_LAYOUT: Record<string, number> = { mono: 1, stereo: 2, '2.1': 3, quad: 4, '5.0': 5, '5.1': 6, '7.1': 8 }

export function parseFfmpegInfo(stderr: string): MediaInfo {
  const info: MediaInfo = {}
  const inputSection = sectionOfFirstInput(stderr)

  const duration = /Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(inputSection)
  if (duration) info.durationSeconds = toSeconds(duration[1], duration[2], duration[3])
  else {
    // Containers without a duration in the header (e.g. MediaRecorder WebM): the last progress line tells the time.
    const times = [...stderr.matchAll(/time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/g)]
    const last = times.at(-1)
    if (last) info.durationSeconds = toSeconds(last[1], last[2], last[3])
  }

  const streamBlocks = inputSection.split(/\n(?=\s*Stream #)/).slice(1)
  for (const block of streamBlocks) {
    const header = block.split('\n', 1)[0] ?? ''
    const video = /: Video: (\w+)/.exec(header)
    if (video && !info.video && !/attached pic/.test(header)) {
      const size = /, (\d{1,5})x(\d{1,5})[\s,[]/.exec(header)
      if (!size) continue
      let width = Number(size[1])
      let height = Number(size[2])
      const rotate = /rotate\s*:\s*(-?\d+)/.exec(block) ?? /rotation of (-?[\d.]+) degrees/.exec(block)
      if (rotate && Math.abs(Math.round(Number(rotate[1]))) % 180 === 90) [width, height] = [height, width]
      info.video = { codec: video[1] ?? '', width, height }
    }
    const audio = /: Audio: (\w+)/.exec(header)
    if (audio && !info.audio) {
      const rate = /, (\d+) Hz/.exec(header)
      const layout = /Hz, ([\w.()]+?)(?:\(\w+\))?,/.exec(header)
      const channelsText = /Hz, (\d+) channels/.exec(header)
      const channels = channelsText ? Number(channelsText[1]) : layout ? CHANNELS_BY_LAYOUT[layout[1] ?? ''] : undefined
      info.audio = { codec: audio[1] ?? '' }
      if (rate) info.audio.sampleRate = Number(rate[1])
      if (channels !== undefined) info.audio.channels = channels
    }
  }
  return info
}

function sectionOfFirstInput(stderr: string): string {
  const start = stderr.indexOf('Input #0')
  if (start < 0) return ''
  const rest = stderr.slice(start)
  const end = rest.search(/\n(?:Input #1|Output #0|Stream mapping)/)
  return end < 0 ? rest : rest.slice(0, end)
}

function toSeconds(h = '0', m = '0', s = '0'): number {
  return Number(h) * 3600 + Number(m) * 60 + Number(s)
}
