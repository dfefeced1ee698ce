import type { InstanceManager } from '../instances/manager.js'
import type { Logger } from '../logger.js'
import type { Outbox } from './outbox.js'

/**
 * `instance.status` for every status change (with its reason and close code) and `instance.qr` for every QR.
 * The status event is appended inside the transaction that records the change (the two commit together, so a crash
 * keeps both or neither; if the event cannot be written, neither is the change, and the supervisor logs it). A QR
 * is not stored, so its event is appended when the manager announces it.
 */
export function publishLifecycleEvents(manager: InstanceManager, outbox: Outbox, logger: Logger): () => void {
  const tenantOf = (id: string): string | null => {
    try {
      return manager.get(id).tenant_id
    } catch {
      return null
    }
  }
  const stopStatus = manager.writeWithStatusChanges((change) => {
    outbox.append({
      type: 'instance.status',
      instanceId: change.instanceId,
      tenantId: tenantOf(change.instanceId),
      occurredAt: change.at,
      data: { status: change.to, previous_status: change.from, reason: change.reason, code: change.code ?? null },
    })
  })
  const onQr: Parameters<typeof manager.on<'qr'>>[1] = (qr) => {
    try {
      outbox.append({
        type: 'instance.qr',
        instanceId: qr.instanceId,
        tenantId: tenantOf(qr.instanceId),
        data: { qr: qr.qr, attempt: qr.attempt, expires_at: qr.expiresAt },
      })
    } catch (err) {
      logger.error({ err, instanceId: qr.instanceId }, 'recording instance.qr failed')
    }
  }
  manager.on('qr', onQr)
  return () => {
    stopStatus()
    manager.off('qr', onQr)
  }
}
