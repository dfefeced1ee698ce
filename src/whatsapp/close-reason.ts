import { DisconnectReason } from '@whiskeysockets/baileys'

/** Why a socket closed, in the terms the reconnect policy switches on. */
export type CloseKind =
  | 'restart_required' // 515 after pairing: open a new socket with the same auth at once
  | 'logged_out' // 401: logged out here, unlinked on the phone, or login refused; credentials are void
  | 'replaced' // 440: the same device logged in elsewhere; reconnecting would knock the other one off
  | 'qr_exhausted' // 408 while pairing: every QR ref expired unscanned
  | 'connection_lost' // 408: keep-alive failed
  | 'connection_closed' // 428: the server ended the stream or the WebSocket dropped
  | 'unavailable' // 503
  | 'bad_session' // 500
  | 'refused' // 403 (the account is not allowed, e.g. banned) or 411 (multi-device mismatch): retrying cannot help
  | 'other'

export interface CloseInfo {
  kind: CloseKind
  code: number
  /** Machine-readable detail, e.g. `device_removed`, `failure_401`, `logout`. */
  reason: string
}

interface BoomLike {
  message?: string
  output?: { statusCode?: number }
  data?: { tag?: string; attrs?: Record<string, string>; reason?: string; content?: unknown } & Record<string, unknown>
}

/** Maps Baileys' close error (`lastDisconnect.error`, a Boom) to a CloseInfo. */
export function classifyClose(error: unknown): CloseInfo {
  const boom = (error ?? {}) as BoomLike
  const code = boom.output?.statusCode ?? DisconnectReason.connectionClosed
  const message = boom.message ?? ''
  switch (code) {
    case DisconnectReason.restartRequired:
      return { kind: 'restart_required', code, reason: 'restart_required' }
    case DisconnectReason.loggedOut:
      return { kind: 'logged_out', code, reason: loggedOutReason(boom) }
    case DisconnectReason.connectionReplaced:
      return { kind: 'replaced', code, reason: 'replaced' }
    case DisconnectReason.timedOut:
      // Both keep-alive loss and the end of the QR refs close with 408; Baileys tells them apart only by the
      // Boom message it builds itself (Socket/socket.js:716 "QR refs attempts ended", :540 "Connection was lost").
      return message.includes('QR refs attempts ended')
        ? { kind: 'qr_exhausted', code, reason: 'qr_attempts_exhausted' }
        : { kind: 'connection_lost', code, reason: 'connection_lost' }
    case DisconnectReason.connectionClosed:
      return { kind: 'connection_closed', code, reason: 'connection_closed' }
    case DisconnectReason.unavailableService:
      return { kind: 'unavailable', code, reason: 'service_unavailable' }
    case DisconnectReason.badSession:
      return { kind: 'bad_session', code, reason: 'bad_session' }
    // 403: <failure reason="403"/> at login (Socket/socket.js:798-801); 411: <ib><downgrade_webclient/> (:802-803).
    case DisconnectReason.forbidden:
      return { kind: 'refused', code, reason: 'forbidden' }
    case DisconnectReason.multideviceMismatch:
      return { kind: 'refused', code, reason: 'multidevice_mismatch' }
    default:
      return { kind: 'other', code, reason: `closed_${code}` }
  }
}

function loggedOutReason(boom: BoomLike): string {
  // <stream:error code="401"><conflict type="device_removed"/></stream:error> → data is the <conflict> node
  // (Socket/socket.js:791-796); <failure reason="401"/> → data is the node's attrs (socket.js:798-801).
  if (boom.data?.tag === 'conflict' && boom.data.attrs?.type) return boom.data.attrs.type
  if (boom.data?.reason === '401' || boom.message === 'Connection Failure') return 'failure_401'
  if (boom.message?.includes('Intentional Logout')) return 'logout'
  return 'logged_out'
}
