/** The instance fields the CLI shows (a subset of the API's instance view). */
export interface InstanceView {
  id: string
  name: string | null
  tenant_id: string | null
  status: string
  status_reason: string | null
  phone: string | null
  push_name: string | null
  connected_at: string | null
  last_disconnect: { code: number | null; reason: string | null; at: string } | null
  token?: string
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

export function instancesTable(instances: InstanceView[]): string {
  if (instances.length === 0) return 'No instances yet. Create one: wagw instances create --name "Front desk"'
  return table(
    ['ID', 'NAME', 'TENANT', 'STATUS', 'PHONE', 'PUSH NAME'],
    instances.map((i) => [i.id, i.name ?? '-', i.tenant_id ?? '-', i.status, i.phone ? `+${i.phone}` : '-', i.push_name ?? '-']),
  )
}

export function instanceDetails(i: InstanceView): string {
  const rows: [string, string][] = [
    ['id', i.id],
    ['name', i.name ?? '-'],
    ['tenant', i.tenant_id ?? '-'],
    ['status', i.status_reason ? `${i.status} (${i.status_reason})` : i.status],
    ['phone', i.phone ? `+${i.phone}` : '-'],
    ['push name', i.push_name ?? '-'],
    ['connected at', i.connected_at ?? '-'],
  ]
  if (i.last_disconnect) rows.push(['last disconnect', `${i.last_disconnect.at} ${i.last_disconnect.reason ?? ''} ${i.last_disconnect.code ?? ''}`.trim()])
  return rows.map(([k, v]) => `${`${k}:`.padEnd(17)}${v}`).join('\n')
}

/** "Connected as +5511999990001 (Acme Support)": the line the pairing page, the CLI and the demo all print. */
export function connectedAs(i: Pick<InstanceView, 'phone' | 'push_name'>): string {
  return `Connected as ${i.phone ? `+${i.phone}` : 'this number'}${i.push_name ? ` (${i.push_name})` : ''}`
}
