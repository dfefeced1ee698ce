import type { Outbox } from './outbox.js'
import type { EventEnvelope } from './types.js'

export interface StreamFilter {
  instanceId?: string
  tenantId?: string
}

type Listener = (event: EventEnvelope) => void

/**
 * Live copies of appended events for operators (SSE). Best effort and in-process only; the outbox is the durable
 * path, and announces only events whose transaction has committed.
 */
export class LiveEventStream {
  private readonly subscribers = new Map<Listener, StreamFilter>()
  private unsubscribe: (() => void) | undefined

  constructor(private readonly outbox: Outbox) {}

  subscribe(filter: StreamFilter, listener: Listener): () => void {
    this.subscribers.set(listener, filter)
    this.unsubscribe ??= this.outbox.onAppended((batch) => this.fanOut(batch))
    return () => {
      this.subscribers.delete(listener)
      if (this.subscribers.size === 0) {
        this.unsubscribe?.()
        this.unsubscribe = undefined
      }
    }
  }

  private fanOut(batch: readonly EventEnvelope[]): void {
    for (const event of batch) {
      for (const [listener, f] of this.subscribers) {
        if (f.instanceId !== undefined && f.instanceId !== event.instance_id) continue
        if (f.tenantId !== undefined && f.tenantId !== event.tenant_id) continue
        listener(event)
      }
    }
  }
}
