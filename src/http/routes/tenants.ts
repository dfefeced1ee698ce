import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { TenantService } from '../../events/tenants.js'
import type { Authenticator } from '../auth.js'
import { ok } from '../envelope.js'
import { envelopeOf, ErrorResponse, TenantId, Nullable } from '../schemas.js'

/** `TenantView` (src/events/tenants.ts): the secret itself is never shown. */
const TenantSchema = Type.Object({
  id: Type.String(),
  core_url: Nullable(Type.String()),
  core_secret_set: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})

const authErrors = { 401: ErrorResponse, 429: ErrorResponse }

/** A tenant's Plixa core (admin): the sink that receives every event of the tenant's instances. */
const TenantParams = Type.Object({ id: TenantId })

export const tenantRoutes =
  ({ tenants, auth }: { tenants: TenantService; auth: Authenticator }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.addHook('onRequest', auth.admin)

    app.put(
      '/api/v1/tenants/:id',
      {
        schema: {
          tags: ['tenants'],
          summary: "Set (or with nulls, remove) the tenant's Plixa core URL and signing secret",
          params: TenantParams,
          body: Type.Object(
            {
              core_url: Type.Union([Type.String({ minLength: 8, maxLength: 2048 }), Type.Null()]),
              core_secret: Type.Union([Type.String({ minLength: 16, maxLength: 512 }), Type.Null()]),
            },
            { additionalProperties: false },
          ),
          // 400: shape, or core_url and core_secret not both set/both null; 422: the URL resolves to a forbidden address
          response: { 200: envelopeOf(TenantSchema), 400: ErrorResponse, 422: ErrorResponse, ...authErrors },
        },
      },
      async (request) => ok(await tenants.put(request.params.id, { coreUrl: request.body.core_url, coreSecret: request.body.core_secret })),
    )

    app.get(
      '/api/v1/tenants/:id',
      {
        schema: {
          tags: ['tenants'],
          summary: 'Get a tenant (the secret is never shown)',
          params: TenantParams,
          response: { 200: envelopeOf(TenantSchema), 400: ErrorResponse, 404: ErrorResponse, ...authErrors },
        },
      },
      async (request) => ok(tenants.get(request.params.id)),
    )
  }
