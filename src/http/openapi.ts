import fs from 'node:fs'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { ERRORS, type ErrorCode } from '../errors.js'

/** `schema.security` values for routes: say which credentials a route takes, and the document shows it. */
export const security = {
  admin: [{ adminBearer: [] }],
  instance: [{ instanceBasic: [] }],
  /** The admin, or an instance acting on itself. */
  any: [{ adminBearer: [] }, { instanceBasic: [] }],
  none: [],
} as const satisfies Record<string, readonly Record<string, readonly string[]>[]>

/** One registered route, as the catalog records it (tests check that every API route is documented). */
export interface RouteEntry {
  method: string
  url: string
  schema: FastifySchema | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route added after the OpenAPI plugin, in registration order. */
    routeCatalog: RouteEntry[]
  }
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- OpenAPI objects are free-form JSON

/**
 * OpenAPI 3.1 generated from the TypeBox schemas the routes validate with (@fastify/swagger), served at
 * `/openapi.json`, with Swagger UI at `/docs` from the npm package's own assets (no CDN). Must be registered
 * before any route: @fastify/swagger collects routes in an onRoute hook.
 *
 * 3.1 rather than 3.0 because TypeBox emits `type: 'null'` (envelopes, nullable fields), which only 3.1 allows.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any server/provider flavour
export async function registerOpenApi(app: FastifyInstance<any, any, any, any, any>, opts: { publicUrl: string }): Promise<void> {
  const catalog: RouteEntry[] = []
  app.decorate('routeCatalog', catalog)
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) catalog.push({ method, url: route.url, schema: route.schema as FastifySchema | undefined })
  })
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Plixa WhatsApp Gateway', version: packageVersion(), description: apiDescription() },
      servers: [{ url: opts.publicUrl }],
      tags: [
        { name: 'instances', description: 'WhatsApp numbers: create, pair, restart, disconnect (admin)' },
        { name: 'messages', description: 'Connexa-compatible sending and message history (instance Basic auth)' },
        { name: 'webhooks', description: 'Signed event delivery to your endpoints' },
        { name: 'pairing page', description: 'The browser page behind a signed pairing link (no credentials; the link signature authorises)' },
        { name: 'operations', description: 'Health, metrics, this document' },
      ],
      components: {
        securitySchemes: {
          adminBearer: { type: 'http', scheme: 'bearer', description: 'Admin token (GATEWAY_ADMIN_TOKEN, or generated and printed once on first start)' },
          instanceBasic: { type: 'http', scheme: 'basic', description: '`<tenant id or instance id>:<instance token>`; the token is shown once at create/rotate' },
        },
      },
    },
    transformObject: (documentObject) => ('openapiObject' in documentObject ? decorate(documentObject.openapiObject as Json) : documentObject.swaggerObject) as never,
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // BaseLayout drops Swagger UI's top bar (a URL box and the framework's logo) that means nothing to our users.
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false, layout: 'BaseLayout' },
    staticCSP: true,
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

/**
 * Post-processing of the generated document: default security by path for routes that did not declare it,
 * the error registry as components, and every error response pointed at the shared schema with one example per
 * code that answers with that status.
 */
function decorate(doc: Json): Json {
  doc.components ??= {}
  doc.components.schemas = { ...(doc.components.schemas ?? {}), ...errorComponents() }
  doc.components.responses = { ...(doc.components.responses ?? {}) }
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const op: Json | undefined = item[method]
      if (!op) continue
      if (op.security === undefined) op.security = defaultSecurity(path)
      op.responses ??= {}
      if (path.startsWith('/api/')) {
        if (op.security.length > 0 && !op.responses['401']) op.responses['401'] = {}
        op.responses['500'] ??= {}
      }
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        if (Number(status) >= 400) op.responses[status] = errorResponse(Number(status), response)
      }
    }
  }
  return doc
}

/** Routes that don't declare `schema.security`: sending is instance auth, history either, the rest of /api admin. */
function defaultSecurity(path: string): Json[] {
  if (path.startsWith('/api/v1/message/')) return [...security.instance]
  if (path.startsWith('/api/v1/messages')) return [...security.any]
  if (path.startsWith('/api/')) return [...security.admin]
  return []
}

function codesWithStatus(status: number): ErrorCode[] {
  return (Object.keys(ERRORS) as ErrorCode[]).filter((code) => ERRORS[code].status === status)
}

function errorResponse(status: number, existing: Json): Json {
  const codes = codesWithStatus(status)
  const examples = Object.fromEntries(
    codes.map((code) => [code, { summary: ERRORS[code].message, value: { data: null, meta: null, errors: [{ code, message: ERRORS[code].message }] } }]),
  )
  const headers = status === 429 ? { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } : undefined
  return {
    ...existing,
    description: codes.length > 0 ? `Error. Codes with this status: ${codes.map((c) => `\`${c}\``).join(', ')}` : 'Error',
    ...(headers ? { headers } : {}),
    // The route's own schema when it has one (it is what validates the answer); the shared one otherwise.
    content: {
      'application/json': {
        schema: existing.content?.['application/json']?.schema ?? { $ref: '#/components/schemas/ErrorResponse' },
        ...(codes.length > 0 ? { examples } : {}),
      },
    },
  }
}

function errorComponents(): Json {
  const codes = Object.keys(ERRORS) as ErrorCode[]
  return {
    ErrorCode: {
      type: 'string',
      enum: codes,
      description: 'Stable error codes (src/errors.ts). Clients switch on these, never on the message.',
      'x-errors': Object.fromEntries(codes.map((c) => [c, { status: ERRORS[c].status, retryable: ERRORS[c].retryable, message: ERRORS[c].message }])),
    },
    ErrorResponse: {
      type: 'object',
      required: ['data', 'meta', 'errors'],
      properties: {
        data: { type: 'null' },
        meta: { type: 'null' },
        errors: {
          type: 'array',
          items: {
            type: 'object',
            required: ['code', 'message'],
            properties: { code: { $ref: '#/components/schemas/ErrorCode' }, message: { type: 'string' }, details: {} },
          },
        },
      },
      examples: [{ data: null, meta: null, errors: [{ code: 'INSTANCE_NOT_FOUND', message: ERRORS.INSTANCE_NOT_FOUND.message }] }],
    },
  }
}

function apiDescription(): string {
  const rows = (Object.keys(ERRORS) as ErrorCode[]).map((c) => `| \`${c}\` | ${ERRORS[c].status} | ${ERRORS[c].retryable ? 'yes' : 'no'} | ${ERRORS[c].message} |`)
  return [
    'One WhatsApp Web session per instance, a Connexa-compatible send API, durable signed webhooks.',
    '',
    '## Authentication',
    '- **Admin** (instances, tenants, webhooks, everything): `Authorization: Bearer <admin token>`.',
    '- **Instance** (send, read its own messages): HTTP Basic `<tenant id or instance id>:<instance token>`.',
    '- **Pairing page** (`/pair/...`): no credentials; a short-lived signed link from `POST /api/v1/instances/{id}/pairing-link`.',
    '',
    '## Responses',
    'Admin and read endpoints answer `{ "data": …, "meta": … | null, "errors": null }`. Every error, on every route:',
    '`{ "data": null, "meta": null, "errors": [{ "code": "STABLE_CODE", "message": "…" }] }`. 429 carries `Retry-After`.',
    '',
    '## Error codes',
    '| code | HTTP | retryable | meaning |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n')
}

/** The version in the nearest package.json above this module: src/http/ under tsx, dist/ in the bundle. */
function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL('package.json', dir), 'utf8')) as { version?: string }
      return pkg.version ?? '0.0.0'
    } catch {
      if (dir.pathname === '/') return '0.0.0'
    }
  }
}
