import { Type, type TSchema } from '@sinclair/typebox'

/** Shared TypeBox schemas: one definition gives validation, the static type and the OpenAPI entry. */
export const ErrorResponse = Type.Object(
  {
    data: Type.Null(),
    meta: Type.Null(),
    errors: Type.Array(Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) })),
  },
  { $id: 'ErrorResponse' },
)

/** `T | null`, the way nullable fields are written in the answers (OpenAPI 3.1 `type: 'null'` in a union). */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const envelopeOf = <T extends TSchema>(data: T, meta: TSchema = Type.Null()) =>
  Type.Object({ data, meta, errors: Type.Null() })

export const InstanceSchema = Type.Object({
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  tenant_id: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('pending_qr'), Type.Literal('connecting'), Type.Literal('connected'), Type.Literal('disconnected')]),
  status_reason: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String({ description: 'digits, no +' }), Type.Null()]),
  push_name: Type.Union([Type.String(), Type.Null()]),
  connected_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_disconnect: Type.Union([
    Type.Object({ code: Type.Union([Type.Integer(), Type.Null()]), reason: Type.Union([Type.String(), Type.Null()]), at: Type.String() }),
    Type.Null(),
  ]),
  created_at: Type.String(),
  updated_at: Type.String(),
})

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) })

/**
 * A tenant id as Plixa core names its tenants. No `:` and no whitespace: an instance's credentials may be given as
 * Basic auth with the tenant id as the user, and Basic auth ends the user at the first colon.
 */
export const TenantId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[^:\\s]+$' })

export const PhoneString = Type.String({ pattern: '^\\+?\\d{8,18}$', description: 'digits, optionally with a leading +' })
