import type { InstanceManager } from '../instances/manager.js'
import type { Logger } from '../logger.js'
import type { Outbox } from './outbox.js'

/**
 * `instance.status` for every status change (with its reason and close code) and `instance.qr` for every QR.
 * The manager emits synchronously after it persisted the change; the event is appended right there.
 */
export function publishLifecycleEvents(manager: InstanceManager, outbox: Outbox, logger: Logger): () => void {
  const tenantOf = (id: string): string | null => {
    try {
      return manager.get(id).tenant_id
    } catch {
      return null
    }
  }
  const onStatus: Parameters<typeof manager.on<'status'>>[1] = (change) => {
    try {
      outbox.append({
        type: 'instance.status',
        instanceId: change.instanceId,
        tenantId: tenantOf(change.instanceId),
        occurredAt: change.at,
        data: { status: change.to, previous_status: change.from, reason: change.reason, code: change.code ?? null },
      })
    } catch (err) {
      logger.error({ err, instanceId: change.instanceId }, 'recording instance.status failed')
    }
  }
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
  manager.on('status', onStatus)
  manager.on('qr', onQr)
  return () => {
    manager.off('status', onStatus)
    manager.off('qr', onQr)
  }
}
