import type { GatewayMetrics } from './metrics.js'

/** The part of an outbox event envelope (contract.md "Events") the counters need. */
interface EventLike {
  type: string
  data: Record<string, unknown>
}

/**
 * Counts sends, failures and inbound messages from the durable event stream rather than from inside the sending
 * and inbound code: the events are the contract, so the counters mean exactly what webhook consumers see.
 * (The outbox announces only events whose transaction has committed.)
 */
export function recordEvents(metrics: GatewayMetrics, events: readonly EventLike[]): void {
  for (const event of events) {
    const type = typeof event.data.type === 'string' ? event.data.type : 'unknown'
    if (event.type === 'message.inbound') metrics.inbound(type)
    // Accepted by the server: left `queued` for anything but `failed` (a receipt may come before the ack).
    else if (event.type === 'message.status' && event.data.previous_status === 'queued' && event.data.status !== 'failed') metrics.sent(type)
    else if (event.type === 'message.status' && event.data.status === 'failed') {
      const error = event.data.error as { code?: unknown } | null | undefined
      metrics.sendFailed(type, typeof error?.code === 'string' ? error.code : 'UNKNOWN')
    }
  }
}
