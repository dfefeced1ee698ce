/**
 * The one registry of error codes. Every error the daemon answers with is an AppError whose code is listed here;
 * the HTTP layer turns it into the contract's envelope `{data:null, meta:null, errors:[{code, message}]}`.
 * Codes are stable: clients switch on them. Retry policy switches on `retryable`, never on message text.
 */
export const ERRORS = {
  // auth
  UNAUTHORIZED: { status: 401, retryable: false, message: 'Missing or invalid credentials' },
  FORBIDDEN: { status: 403, retryable: false, message: 'These credentials may not access this resource' },
  RATE_LIMITED: { status: 429, retryable: true, message: 'Too many requests' },
  // generic request shape
  VALIDATION_FAILED: { status: 400, retryable: false, message: 'The request is invalid' },
  INVALID_JSON: { status: 400, retryable: false, message: 'The body is not valid JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, message: 'Content-Type must be application/json' },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, message: 'The request body is too large' },
  NOT_FOUND: { status: 404, retryable: false, message: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, retryable: false, message: 'No such route' },
  // instances
  INSTANCE_NOT_FOUND: { status: 404, retryable: false, message: 'No such instance' },
  INSTANCE_NOT_PAIRING: { status: 409, retryable: false, message: 'The instance has no QR code pending' },
  INSTANCE_NOT_CONNECTED: { status: 409, retryable: false, message: 'The instance is not connected; pair it first' },
  INSTANCE_ALREADY_PAIRED: { status: 409, retryable: false, message: 'The instance is already paired' },
  PAIRING_CODE_FAILED: { status: 502, retryable: true, message: 'WhatsApp did not issue a pairing code' },
  PAIRING_LINK_INVALID: { status: 403, retryable: false, message: 'The pairing link is invalid or has expired; ask for a new one' },
  // sending
  INVALID_PHONE: { status: 400, retryable: false, message: 'phone must be 8 to 18 digits, optionally with a leading +' },
  UNKNOWN_MESSAGE_TYPE: { status: 400, retryable: false, message: 'Unknown message type' },
  TEXT_REQUIRED: { status: 400, retryable: false, message: 'data.text is required' },
  MEDIA_REQUIRED: { status: 400, retryable: false, message: 'data.base64 or data.url is required' },
  MEDIA_AMBIGUOUS: { status: 400, retryable: false, message: 'Give data.base64 or data.url, not both' },
  BASE64_INVALID: { status: 400, retryable: false, message: 'data.base64 is not valid base64' },
  URL_INVALID: { status: 400, retryable: false, message: 'data.url must be an http(s) URL' },
  MEDIA_TOO_LARGE: { status: 413, retryable: false, message: 'The media is larger than the limit' },
  MEDIA_URL_FORBIDDEN: { status: 422, retryable: false, message: 'The media URL resolves to a forbidden address' },
  MEDIA_URL_UNREACHABLE: { status: 422, retryable: true, message: 'The media URL could not be fetched' },
  MEDIA_TYPE_MISMATCH: { status: 422, retryable: false, message: 'The content is not media of the requested type' },
  MEDIA_CONVERSION_FAILED: { status: 422, retryable: false, message: 'The media could not be converted' },
  QUOTED_MESSAGE_NOT_FOUND: { status: 422, retryable: false, message: 'quoted_message_id names no known message' },
  PHONE_NOT_ON_WHATSAPP: { status: 422, retryable: false, message: 'The phone number is not on WhatsApp' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, retryable: true, message: 'A request with this Idempotency-Key is still in flight' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, retryable: false, message: 'This Idempotency-Key was used with a different body' },
  MESSAGE_NOT_FOUND: { status: 404, retryable: false, message: 'No such message' },
  UNKNOWN_FIELD: { status: 400, retryable: false, message: 'The body has a field this message type does not take' },
  TEXT_TOO_LONG: { status: 400, retryable: false, message: 'data.text is longer than WhatsApp allows (65,536 characters)' },
  LOCATION_INVALID: { status: 400, retryable: false, message: 'data.latitude must be -90..90 and data.longitude -180..180' },
  REACTION_INVALID: { status: 400, retryable: false, message: 'A reaction needs data.message_id and data.emoji (one emoji, or "" to remove)' },
  CONTACT_INVALID: { status: 400, retryable: false, message: 'A contact needs data.contact_name and data.contact_phone (8 to 18 digits)' },
  TARGET_MESSAGE_NOT_FOUND: { status: 422, retryable: false, message: 'data.message_id names no known message of this instance' },
  IDEMPOTENCY_KEY_INVALID: { status: 400, retryable: false, message: 'Idempotency-Key must be 1 to 255 visible ASCII characters' },
  // outbound failures recorded on a message (GET /messages/:id error.code, message.status events); never an HTTP answer
  SEND_FAILED: { status: 502, retryable: true, message: 'WhatsApp did not accept the message after several attempts' },
  WHATSAPP_RATE_LIMITED: { status: 429, retryable: true, message: 'WhatsApp refused the message: rate limit or reach-out lock' },
  WHATSAPP_REJECTED: { status: 502, retryable: false, message: 'WhatsApp refused the message' },
  // webhooks and tenants
  WEBHOOK_NOT_FOUND: { status: 404, retryable: false, message: 'No such webhook' },
  WEBHOOK_URL_FORBIDDEN: { status: 422, retryable: false, message: 'The webhook URL resolves to a forbidden address' },
  DELIVERY_NOT_FOUND: { status: 404, retryable: false, message: 'No such delivery' },
  DELIVERY_NOT_FAILED: { status: 409, retryable: false, message: 'Only a terminally failed delivery can be retried' },
  TENANT_NOT_FOUND: { status: 404, retryable: false, message: 'No such tenant' },
  MEDIA_LINK_INVALID: { status: 403, retryable: false, message: 'The media link is invalid or has expired' },
  MEDIA_UNAVAILABLE: { status: 502, retryable: true, message: 'The media could not be downloaded from WhatsApp' },
  // server side
  SERVICE_UNAVAILABLE: { status: 503, retryable: true, message: 'The service is not ready' },
  MEDIA_CONVERSIONS_BUSY: { status: 503, retryable: true, message: 'Too many media conversions are waiting; retry shortly' },
  MEDIA_CONVERSION_UNAVAILABLE: { status: 503, retryable: true, message: 'The server could not run the media conversion; retry later' },
  DATABASE_BUSY: { status: 503, retryable: true, message: 'The database is busy; retry shortly' },
  STORAGE_UNAVAILABLE: { status: 503, retryable: true, message: 'The database cannot be written (disk full or I/O error); retry later' },
  INTERNAL: { status: 500, retryable: true, message: 'Internal error' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>

export type ErrorCode = keyof typeof ERRORS

export class AppError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly retryable: boolean
  readonly details?: Record<string, unknown>

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERRORS[code].message)
    this.name = 'AppError'
    this.code = code
    this.status = ERRORS[code].status
    this.retryable = ERRORS[code].retryable
    this.details = details
  }
}

