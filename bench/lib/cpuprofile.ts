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

export function formatProfile(file: string, top = 25): string {
  const { durationMs, frames } = summarizeProfile(file)
  const line = (f: FrameCost) => `${f.selfMs.toFixed(0).padStart(8)} ms ${f.selfPct.toFixed(1).padStart(5)}%  ${f.totalMs.toFixed(0).padStart(8)} ms ${f.totalPct.toFixed(1).padStart(5)}%  ${f.frame}`
  const head = `    self          total         frame`
  const bySelf = [...frames].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)
  const byTotal = [...frames]
    .filter((f) => !/^\((root|program|idle|garbage collector)\)/.test(f.frame))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top)
  return [`${file}: ${(durationMs / 1000).toFixed(1)} s`, '', 'by self time', head, ...bySelf.map(line), '', 'by total time', head, ...byTotal.map(line)].join('\n')
}

if (isMain(import.meta.url)) {
  const [file, top] = process.argv.slice(2)
  if (!file) throw new Error('usage: tsx bench/lib/cpuprofile.ts <file.cpuprofile> [top]')
  process.stdout.write(`${formatProfile(file, Number(top ?? 25))}\n`)
}
