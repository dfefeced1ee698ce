/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the top functions by self time, and by total (inclusive)
 * time, each with its source location. `tsx bench/lib/cpuprofile.ts <file.cpuprofile> [top=25]`.
 */
import fs from 'node:fs'
import { isMain } from './main.js'

interface CpuNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: CpuNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface FrameCost {
  frame: string
  selfMs: number
  totalMs: number
  selfPct: number
  totalPct: number
}

function frameName(node: CpuNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame
  const file = url.replace(/^file:\/\//, '').replace(root, '').replace(/^.*node_modules\//, '~/')
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim()
}

export function summarizeProfile(file: string, root = process.cwd() + '/'): { durationMs: number; frames: FrameCost[] } {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!
    const name = frameName(node, root)
    self.set(name, (self.get(name) ?? 0) + us)
    // Inclusive time: every distinct frame on the stack once (recursion counted once).
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = frameName(byId.get(cur)!, root)
      if (seen.has(n)) continue
      seen.add(n)
      total.set(n, (total.get(n) ?? 0) + us)
    }
  }
  const durationUs = profile.endTime - profile.startTime
  const frames = [...total.keys()].map((frame) => ({
    frame,
    selfMs: (self.get(frame) ?? 0) / 1000,
    totalMs: (total.get(frame) ?? 0) / 1000,
    selfPct: ((self.get(frame) ?? 0) / durationUs) * 100,
    totalPct: ((total.get(frame) ?? 0) / durationUs) * 100,
  }))
  return { durationMs: durationUs / 1000, frames }
}

export interface LongTasks {
  thresholdMs: number
  count: number
  totalMs: number
  longestMs: number
  /** Self time inside long tasks, by frame: what the event loop was stuck in. */
  frames: Array<{ frame: string; selfMs: number }>
  /** Long tasks by the entry frame just below the event loop (what started each one). */
  entries: Array<{ frame: string; count: number; totalMs: number }>
}

/**
 * Event-loop blocks: runs of consecutive samples without `(idle)` longer than `thresholdMs` — what event-loop lag
 * is made of. Sampling is every ~1 ms by default, so a block is accurate to a sample or two.
 */
export function longTasks(file: string, thresholdMs = 50, root = process.cwd() + '/'): LongTasks {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const isIdle = (id: number) => byId.get(id)?.callFrame.functionName === '(idle)'
  /** The frame just below (root), skipping V8/Node internals that only dispatch. */
  const entryOf = (id: number): string => {
    const stack: number[] = []
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.unshift(cur)
    const names = stack.slice(1).map((i) => frameName(byId.get(i)!, root))
    return names.find((n) => !/^\((program|garbage collector)\)|^(processTicksAndRejections|runMicrotasks|listOnTimeout|processTimers|emit|\(anonymous\) node:)/.test(n)) ?? names[0] ?? '(root)'
  }
  const tasks: Array<{ samples: Array<{ id: number; us: number }> }> = []
  let current: Array<{ id: number; us: number }> = []
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0 // the time until the next sample belongs to this one
    if (isIdle(id)) {
      if (current.length) tasks.push({ samples: current })
      current = []
    } else current.push({ id, us })
  })
  if (current.length) tasks.push({ samples: current })
  const long = tasks
    .map((t) => ({ ...t, ms: t.samples.reduce((s, x) => s + x.us, 0) / 1000 }))
    .filter((t) => t.ms >= thresholdMs)
  const self = new Map<string, number>()
  const entries = new Map<string, { count: number; totalMs: number }>()
  for (const task of long) {
    const counted = new Set<string>()
    for (const { id, us } of task.samples) {
      const name = frameName(byId.get(id)!, root)
      self.set(name, (self.get(name) ?? 0) + us / 1000)
      const entry = entryOf(id)
      if (!counted.has(entry)) {
        counted.add(entry)
        const e = entries.get(entry) ?? { count: 0, totalMs: 0 }
        e.count++
        entries.set(entry, e)
      }
      entries.get(entry)!.totalMs += us / 1000
    }
  }
  return {
    thresholdMs,
    count: long.length,
    totalMs: long.reduce((s, t) => s + t.ms, 0),
    longestMs: Math.max(0, ...long.map((t) => t.ms)),
    frames: [...self].map(([frame, selfMs]) => ({ frame, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
    entries: [...entries].map(([frame, e]) => ({ frame, ...e })).sort((a, b) => b.totalMs - a.totalMs),
  }
}

export function formatProfile(file: string, top = 25): string {
  const { durationMs, frames } = summarizeProfile(file)
  const line = (f: FrameCost) => `${f.selfMs.toFixed(0).padStart(8)} ms ${f.selfPct.toFixed(1).padStart(5)}%  ${f.totalMs.toFixed(0).padStart(8)} ms ${f.totalPct.toFixed(1).padStart(5)}%  ${f.frame}`
  const head = `    self          total         frame`
  const bySelf = [...frames].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)
  const byTotal = [...frames]
    .filter((f) => !/^\((root|program|idle|garbage collector)\)/.test(f.frame))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top)
  const lt = longTasks(file)
  const ltLines = [
    `event-loop blocks ≥ ${lt.thresholdMs} ms: ${lt.count}, ${lt.totalMs.toFixed(0)} ms in all, longest ${lt.longestMs.toFixed(0)} ms`,
    '  self time inside them:',
    ...lt.frames.slice(0, top).map((f) => `${f.selfMs.toFixed(0).padStart(8)} ms  ${f.frame}`),
    '  what they ran (entry frame: blocks, ms):',
    ...lt.entries.slice(0, 15).map((e) => `${String(e.count).padStart(6)} ${e.totalMs.toFixed(0).padStart(8)} ms  ${e.frame}`),
  ]
  return [`${file}: ${(durationMs / 1000).toFixed(1)} s`, '', 'by self time', head, ...bySelf.map(line), '', 'by total time', head, ...byTotal.map(line), '', ...ltLines].join('\n')
}

if (isMain(import.meta.url)) {
  const [file, top] = process.argv.slice(2)
  if (!file) throw new Error('usage: tsx bench/lib/cpuprofile.ts <file.cpuprofile> [top]')
  process.stdout.write(`${formatProfile(file, Number(top ?? 25))}\n`)
}
