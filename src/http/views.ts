import type { Instance } from '../instances/repository.js'

/** The public shape of an instance (contract.md "Instances"). Never includes the token hash. */
export function instanceView(row: Instance) {
  return {
    id: row.id,
    name: row.name,
    tenant_id: row.tenant_id,
    status: row.status,
    status_reason: row.status_reason,
    phone: row.phone,
    push_name: row.push_name,
    connected_at: row.connected_at,
    last_disconnect:
      row.last_disconnect_at === null
        ? null
        : { code: row.last_disconnect_code, reason: row.last_disconnect_reason, at: row.last_disconnect_at },
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}
