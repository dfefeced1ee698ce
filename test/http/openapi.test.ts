import { Validator } from '@seriousme/openapi-schema-validator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERRORS } from '../../src/errors.js'
import { startHarness, type Harness } from '../helpers/harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h?.close()
})

const OPERATIONS = ['get', 'put', 'post', 'delete', 'patch'] as const

async function spec(): Promise<any> {
  const res = await h.request('GET', '/openapi.json', undefined, {})
  expect(res.status).toBe(200)
  return res.body
}

describe('OpenAPI document', () => {
  it('documents every API route: a response schema, tags and a summary (from the route catalog)', () => {
    const routes = h.daemon.app.routeCatalog.filter((r) => r.method !== 'HEAD' && !r.schema?.hide)
    const api = routes.filter((r) => r.url.startsWith('/api/'))
    // A floor, so the check can't pass by collecting nothing.
    expect(api.length).toBeGreaterThanOrEqual(12)
    const undocumented = routes
      .filter((r) => r.url.startsWith('/api/') || r.url.startsWith('/pair/') || r.url.startsWith('/health') || r.url === '/metrics')
      .filter((r) => {
        const s = r.schema
        const success = s?.response ? Object.keys(s.response as object).some((code) => /^2\d\d$/.test(code)) : false
        return !s || !success || !s.tags?.length || !s.summary
      })
      .map((r) => `${r.method} ${r.url}`)
    expect(undocumented).toEqual([])
  })

  it('is a valid OpenAPI 3.1 document listing every catalogued route', async () => {
    const doc = await spec()
    const validator = new Validator()
    const result = await validator.validate(doc)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(doc.openapi).toBe('3.1.0')
    const documented = new Set<string>()
    for (const [path, item] of Object.entries<any>(doc.paths)) for (const m of OPERATIONS) if (item[m]) documented.add(`${m.toUpperCase()} ${path}`)
    const missing = h.daemon.app.routeCatalog
      .filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD' && !r.schema?.hide)
      .map((r) => `${r.method} ${r.url.replace(/:([A-Za-z_]+)/g, '{$1}')}`)
      .filter((key) => !documented.has(key))
    expect(missing).toEqual([])
  })

  it('declares both auth schemes and puts the right one on each operation', async () => {
    const doc = await spec()
    expect(doc.components.securitySchemes.adminBearer).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(doc.components.securitySchemes.instanceBasic).toMatchObject({ type: 'http', scheme: 'basic' })
    expect(doc.paths['/api/v1/instances'].post.security).toEqual([{ adminBearer: [] }])
    expect(doc.paths['/api/v1/message/{message_type}'].post.security).toEqual([{ instanceBasic: [] }])
    expect(doc.paths['/pair/{id}'].get.security).toEqual([])
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      if (!path.startsWith('/api/')) continue
      for (const m of OPERATIONS) {
        const op = item[m]
        if (!op) continue
        expect(op.security?.length, `${m} ${path} security`).toBeGreaterThan(0)
        expect(op.responses['401'], `${m} ${path} 401`).toBeDefined()
      }
    }
  })

  it('lists every error code of src/errors.ts, with examples on error responses', async () => {
    const doc = await spec()
    const codes = Object.keys(ERRORS)
    expect(doc.components.schemas.ErrorCode.enum).toEqual(codes)
    for (const code of codes) expect(doc.info.description).toContain(`| \`${code}\` | ${ERRORS[code as keyof typeof ERRORS].status} |`)
    const notFound = doc.paths['/api/v1/instances/{id}'].get.responses['404']
    expect(notFound.content['application/json'].examples.INSTANCE_NOT_FOUND.value).toEqual({
      data: null,
      meta: null,
      errors: [{ code: 'INSTANCE_NOT_FOUND', message: ERRORS.INSTANCE_NOT_FOUND.message }],
    })
    expect(doc.paths['/pair/{id}'].get.responses['403'].description).toContain('PAIRING_LINK_INVALID')
  })

  it('serves the browsable reference at /docs from the package, with no CDN', async () => {
    const page = await h.daemon.app.inject({ method: 'GET', url: '/docs/' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
    expect(page.body).not.toMatch(/https?:\/\/(?!localhost)[^"']*\.(js|css)/)
    const bundle = await h.daemon.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' })
    expect(bundle.statusCode).toBe(200)
    expect(bundle.body.length).toBeGreaterThan(100_000)
    const json = await h.daemon.app.inject({ method: 'GET', url: '/docs/json' })
    expect(json.json().openapi).toBe('3.1.0')
  })
})
