import type { InstanceManager } from './manager.js'
import type { QrIssued, StatusChange } from './status.js'

export interface InstanceListeners {
  status?(change: StatusChange): void
  qr?(qr: QrIssued): void
  profile?(): void
  deleted?(): void
}

/** Listens to one instance's events on the manager; answers the function that stops listening. */
export function subscribeToInstance(manager: InstanceManager, instanceId: string, listeners: InstanceListeners): () => void {
  const onStatus = (change: StatusChange) => change.instanceId === instanceId && listeners.status?.(change)
  const onQr = (qr: QrIssued) => qr.instanceId === instanceId && listeners.qr?.(qr)
  const onProfile = (id: string) => id === instanceId && listeners.profile?.()
  const onDeleted = (id: string) => id === instanceId && listeners.deleted?.()
  manager.on('status', onStatus)
  manager.on('qr', onQr)
  manager.on('profile', onProfile)
  manager.on('deleted', onDeleted)
  return () => {
    manager.off('status', onStatus)
    manager.off('qr', onQr)
    manager.off('profile', onProfile)
    manager.off('deleted', onDeleted)
  }
}
