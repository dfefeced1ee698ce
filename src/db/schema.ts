import type { Generated } from 'kysely'
import type { InstanceStatus } from '../instances/status.js'

/** Row types of every table, as Kysely sees them. Must match migrations/. Timestamps are ISO-8601 UTC strings. */
export interface Schema {
  settings: { key: string; value: string }
  instances: InstanceRow
  instance_transitions: {
    id: Generated<number>
    instance_id: string
    from_status: string | null
    to_status: string
    reason: string
    code: number | null
    at: string
  }
  messages: MessageRow
  idempotency_keys: {
    instance_id: string
    key: string
    fingerprint: string
    state: 'in_progress' | 'done'
    response_status: number | null
    response_body: string | null
    created_at: number
  }
  wa_sent_messages: { instance_id: string; wa_message_id: string; content: Uint8Array; sent_at: number }
  wa_contacts: { instance_id: string; phone: string; jid: string | null; checked_at: number }
  tenants: { id: string; core_url: string | null; core_secret_enc: string | null; created_at: string; updated_at: string }
  webhooks: WebhookRow
  events: EventRow
  deliveries: DeliveryRow
  media_files: {
    id: string
    instance_id: string
    message_id: string | null
    path: string
    mimetype: string
    size: number
    sha256: string
    filename: string | null
    created_at: string
    expires_at: string | null
    status: 'pending' | 'stored' | 'failed'
    source: string | null
    error: string | null
  }
  /** Only entries an earlier version left: the journal now lives in each instance's session file (inbound-journal.ts). */
  inbound_journal: { instance_id: string; wa_message_id: string; stanza: string; plaintext: Buffer; created_at: number }
}

export interface InstanceRow {
  id: string
  name: string | null
  tenant_id: string | null
  token_hash: string
  status: InstanceStatus
  status_reason: string | null
  has_credentials: number
  phone: string | null
  lid: string | null
  push_name: string | null
  connected_at: string | null
  last_disconnect_code: number | null
  last_disconnect_reason: string | null
  last_disconnect_at: string | null
  pacing_ms: number | null
  created_at: string
  updated_at: string
}

export interface MessageRow {
  seq: Generated<number>
  id: string
  instance_id: string
  direction: 'inbound' | 'outbound'
  source: 'api' | 'phone' | null
  wa_message_id: string
  phone: string
  jid: string | null
  lid: string | null
  push_name: string | null
  type: string
  text: string | null
  payload: string
  media: string | null
  quoted_wa_id: string | null
  status: string
  error_code: string | null
  error_message: string | null
  error_wa_code: number | null
  attempts: number
  send_started_at: string | null
  wa_timestamp: number | null
  created_at: string
  updated_at: string
}

export interface WebhookRow {
  id: string
  url: string
  events: string
  instance_id: string | null
  tenant_id: string | null
  secret_enc: string
  previous_secret_enc: string | null
  previous_valid_until: string | null
  enabled: number
  disabled_reason: string | null
  include_media_base64: number
  created_at: string
  updated_at: string
}

export interface EventRow {
  seq: Generated<number>
  id: string
  instance_id: string | null
  tenant_id: string | null
  type: string
  dedupe_key: string | null
  body: string
  occurred_at: string
}

export interface DeliveryRow {
  seq: Generated<number>
  id: string
  event_id: string
  sink_kind: 'core' | 'webhook'
  sink_id: string
  status: 'pending' | 'succeeded' | 'failed'
  attempts: number
  next_attempt_at: number
  last_status: number | null
  last_error: string | null
  /** JSON array of AttemptLogEntry, oldest first; null before the first attempt */
  attempt_log: string | null
  created_at: string
  updated_at: string
}

/** One attempt in a delivery's `attempt_log`. */
export interface AttemptLogEntry {
  at: string
  status_code: number | null
  error: string | null
  duration_ms: number
}
