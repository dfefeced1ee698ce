/** Event types of contract.md "Events". */
export type EventType = 'message.inbound' | 'message.outbound' | 'message.status' | 'instance.status' | 'instance.qr' | 'webhook.test'

export const EVENT_TYPES: readonly EventType[] = [
  'message.inbound',
  'message.outbound',
  'message.status',
  'instance.status',
  'instance.qr',
  'webhook.test',
]

/** What a producer hands the outbox. */
export interface DomainEvent {
  type: EventType
  instanceId: string | null
  tenantId: string | null
  data: Record<string, unknown>
  /** One event per key, ever: a redelivered WhatsApp stanza cannot produce a second event. */
  dedupeKey?: string
  occurredAt?: string
}

/** The envelope every sink receives (contract.md "Events"). */
export interface EventEnvelope {
  id: string
  type: EventType
  version: '1'
  occurred_at: string
  instance_id: string | null
  tenant_id: string | null
  data: Record<string, unknown>
}
