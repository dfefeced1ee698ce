/** The contract's instance statuses (contract.md "Instances"). */
export type InstanceStatus = 'pending_qr' | 'connecting' | 'connected' | 'disconnected'

export interface StatusChange {
  instanceId: string
  from: InstanceStatus | null
  to: InstanceStatus
  /** Stable, machine-readable: `created`, `paired`, `qr_attempts_exhausted`, `replaced`, `device_removed`, … */
  reason: string
  code?: number
  at: string
}

export interface QrIssued {
  instanceId: string
  qr: string
  attempt: number
  expiresAt: string
}
