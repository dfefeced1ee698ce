import type { Figure } from './types.js'

/** A plain-text table: columns padded to their widest cell, numbers right-aligned. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.,]+\s*\S*$|^[-–]$/.test(r[i] ?? '')))
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n')
}

export function formatNumber(value: number | undefined, unit = ''): string {
  if (value === undefined || Number.isNaN(value)) return '–'
  const abs = Math.abs(value)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
  return unit ? `${text} ${unit}` : text
}

/** The combined table: figure, value, baseline, ratio, target, pass/fail. */
export function figuresTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.label,
    formatNumber(f.value, f.unit),
    f.baseline ? `${formatNumber(f.baseline.value, f.unit)} (${f.baseline.label})` : '–',
    f.ratio === undefined ? '–' : `${formatNumber(f.ratio)}×`,
    f.target?.text ?? '–',
    f.pass === undefined ? '–' : f.pass ? 'pass' : 'FAIL',
  ])
  return formatTable(['figure', 'value', 'baseline', 'ratio', 'target', 'result'], rows)
}
