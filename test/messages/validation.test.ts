import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERRORS } from '../../src/errors.js'
import { ADMIN_TOKEN, basicAuth, startHarness, type Harness } from '../helpers/harness.js'
import { sendFixture, type SendFixture } from './helpers.js'

/** Small limits so size errors are cheap to provoke. */
const MEDIA_MAX = 64 * 1024
const DOCUMENT_MAX = 256 * 1024

interface Case {
  name: string
  type?: string
  /** Object → JSON; string → sent as is. */
  body?: unknown
  headers?: Record<string, string>
  /** Replaces the instance's auth header; null drops it. */
  auth?: string | null
  query?: string
  status: number
  code: string
}

const b64 = (s: string) => Buffer.from(s).toString('base64')
const PHONE = '__customer__'

function cases(): Case[] {
  const text = (data: unknown, extra: Partial<Case> & Pick<Case, 'status' | 'code' | 'name'>): Case => ({ type: 'text', body: { phone: PHONE, data }, ...extra })
  const withPhone = (phone: unknown, name: string): Case => ({ name: `phone ${name}`, type: 'text', body: { phone, data: { text: 'hi' } }, status: 400, code: 'INVALID_PHONE' })
  const media = (type: string, data: unknown, status: number, code: string, name: string): Case => ({ name: `${type}: ${name}`, type, body: { phone: PHONE, data }, status, code })
  const list: Case[] = [
    // --- authentication: always first, and the same answer for every way of being wrong
    { name: 'no Authorization', auth: null, type: 'text', body: { phone: PHONE, data: { text: 'hi' } }, status: 401, code: 'UNAUTHORIZED' },
    { name: 'Bearer admin token on the send route', auth: `Bearer ${ADMIN_TOKEN}`, type: 'text', body: { phone: PHONE, data: { text: 'hi' } }, status: 401, code: 'UNAUTHORIZED' },
    { name: 'Basic with a wrong token', auth: '__wrong_token__', type: 'text', body: { phone: PHONE, data: { text: 'hi' } }, status: 401, code: 'UNAUTHORIZED' },
    { name: 'Basic with an unknown user', auth: basicAuth('inst_nope', 'wgi_nope').authorization, type: 'text', body: {}, status: 401, code: 'UNAUTHORIZED' },
    { name: 'Basic without a colon', auth: `Basic ${b64('justuser')}`, type: 'text', body: {}, status: 401, code: 'UNAUTHORIZED' },
    { name: 'Basic with an empty token', auth: `Basic ${b64('user:')}`, type: 'text', body: {}, status: 401, code: 'UNAUTHORIZED' },
    { name: 'Basic with garbage', auth: 'Basic %%%not-base64%%%', type: 'text', body: {}, status: 401, code: 'UNAUTHORIZED' },
    { name: 'Digest scheme', auth: 'Digest username="x"', type: 'text', body: {}, status: 401, code: 'UNAUTHORIZED' },
    { name: 'Basic and nothing else', auth: 'Basic', type: 'text', body: {}, status: 401, code: 'UNAUTHORIZED' },
    { name: 'auth checked before the type', auth: null, type: 'nonsense', body: {}, status: 401, code: 'UNAUTHORIZED' },
    // --- content type
    { name: 'no content type', type: 'text', body: '{"phone":"1","data":{}}', headers: { 'content-type': '' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'text/plain', type: 'text', body: '{"phone":"1"}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'form-urlencoded (curl -d without -H)', type: 'text', body: 'phone=1&text=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'multipart', type: 'text', body: '--x\r\n\r\n--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'application/xml', type: 'text', body: '<a/>', headers: { 'content-type': 'application/xml' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'octet-stream', type: 'image', body: 'xxxx', headers: { 'content-type': 'application/octet-stream' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    // --- JSON
    { name: 'malformed JSON', type: 'text', body: '{"phone": "5511', status: 400, code: 'INVALID_JSON' },
    { name: 'trailing comma', type: 'text', body: '{"phone":"551199999999","data":{"text":"a"},}', status: 400, code: 'INVALID_JSON' },
    { name: 'single quotes', type: 'text', body: "{'phone':'551199999999'}", status: 400, code: 'INVALID_JSON' },
    { name: 'empty body with JSON type', type: 'text', body: '', status: 400, code: 'INVALID_JSON' },
    { name: 'JSON null', type: 'text', body: 'null', status: 400, code: 'VALIDATION_FAILED' },
    { name: 'JSON array', type: 'text', body: '[]', status: 400, code: 'VALIDATION_FAILED' },
    { name: 'JSON string', type: 'text', body: '"hello"', status: 400, code: 'VALIDATION_FAILED' },
    { name: 'JSON number', type: 'text', body: '42', status: 400, code: 'VALIDATION_FAILED' },
    { name: 'JSON true', type: 'text', body: 'true', status: 400, code: 'VALIDATION_FAILED' },
    { name: 'prototype pollution key', type: 'text', body: '{"__proto__":{"x":1},"phone":"5511999999999","data":{"text":"a"}}', status: 400, code: 'INVALID_JSON' },
    { name: 'body over the limit', type: 'document', body: JSON.stringify({ phone: PHONE, data: { base64: 'A'.repeat(2 * 1024 * 1024) } }), status: 413, code: 'PAYLOAD_TOO_LARGE' },
    // --- type
    ...['txt', 'TEXT', 'Text', 'poll', 'buttons', 'list', 'gif', 'ptt', 'file', 'image.json', 'text%00', 'constructor', '__proto__', 'toString', ''].map(
      (type): Case => ({ name: `type ${type.slice(0, 20)}`, type, body: { phone: PHONE, data: { text: 'hi' } }, status: 400, code: 'UNKNOWN_MESSAGE_TYPE' }),
    ),
    // The dot segment is normalised away and leaves the route; a long type is still a type, and an unknown one.
    { name: 'type ..', type: '..', body: { phone: PHONE, data: { text: 'hi' } }, status: 404, code: 'ROUTE_NOT_FOUND' },
    { name: 'type of 300 characters', type: 'x'.repeat(300), body: { phone: PHONE, data: { text: 'hi' } }, status: 400, code: 'UNKNOWN_MESSAGE_TYPE' },
    { name: 'type of 600 characters', type: 'x'.repeat(600), body: { phone: PHONE, data: { text: 'hi' } }, status: 404, code: 'ROUTE_NOT_FOUND' },
    // --- phone
    withPhone(undefined, 'missing'),
    withPhone('', 'empty'),
    withPhone('1234567', 'seven digits'),
    withPhone('1234567890123456789', 'nineteen digits'),
    withPhone('55 44 99999 9999', 'with spaces'),
    withPhone('55-44-99999-9999', 'with dashes'),
    withPhone('(44) 99999-9999', 'formatted'),
    withPhone('++5544999999999', 'double plus'),
    withPhone('5544999999999+', 'trailing plus'),
    withPhone('+', 'just a plus'),
    withPhone('abcdefghij', 'letters'),
    withPhone('55449999999a9', 'a letter inside'),
    withPhone('５５４４９９９９９９９９', 'fullwidth digits'),
    withPhone('٥٥٤٤٩٩٩٩٩٩٩٩', 'arabic-indic digits'),
    withPhone('5544999999999\n', 'trailing newline'),
    withPhone(' 5544999999999', 'leading space'),
    withPhone('5544999999999@s.whatsapp.net', 'a JID'),
    withPhone(-5544999999999, 'negative number'),
    withPhone(5544999999.5, 'fractional number'),
    withPhone(1e30, 'huge number'),
    withPhone(null, 'null'),
    withPhone(true, 'boolean'),
    withPhone(['5544999999999'], 'array'),
    withPhone({ number: '5544999999999' }, 'object'),
    // --- body shape and junk
    { name: 'unknown top-level field', type: 'text', body: { phone: PHONE, data: { text: 'a' }, foo: 1 }, status: 400, code: 'UNKNOWN_FIELD' },
    { name: 'number at top level', type: 'text', body: { phone: PHONE, data: { text: 'a' }, number: PHONE }, status: 400, code: 'UNKNOWN_FIELD' },
    text({ text: 'a', foo: 'bar' }, { name: 'unknown data field', status: 400, code: 'UNKNOWN_FIELD' }),
    text({ text: 'a', base64: 'AAAA' }, { name: 'media field on text', status: 400, code: 'UNKNOWN_FIELD' }),
    text({ text: 'a', latitude: 1 }, { name: 'location field on text', status: 400, code: 'UNKNOWN_FIELD' }),
    text('hello', { name: 'data is a string', status: 400, code: 'VALIDATION_FAILED' }),
    text(['hello'], { name: 'data is an array', status: 400, code: 'VALIDATION_FAILED' }),
    text(42, { name: 'data is a number', status: 400, code: 'VALIDATION_FAILED' }),
    // --- text
    text(undefined, { name: 'text: no data', status: 400, code: 'TEXT_REQUIRED' }),
    text({}, { name: 'text: missing', status: 400, code: 'TEXT_REQUIRED' }),
    text({ text: '' }, { name: 'text: empty', status: 400, code: 'TEXT_REQUIRED' }),
    text({ text: '   \n\t' }, { name: 'text: whitespace', status: 400, code: 'TEXT_REQUIRED' }),
    text({ text: 42 }, { name: 'text: number', status: 400, code: 'TEXT_REQUIRED' }),
    text({ text: null }, { name: 'text: null', status: 400, code: 'TEXT_REQUIRED' }),
    text({ text: ['a'] }, { name: 'text: array', status: 400, code: 'TEXT_REQUIRED' }),
    text({ text: { t: 'a' } }, { name: 'text: object', status: 400, code: 'TEXT_REQUIRED' }),
    text({ text: 'x'.repeat(65_537) }, { name: 'text: too long', status: 400, code: 'TEXT_TOO_LONG' }),
    text({ text: 'a', quoted_message_id: 42 }, { name: 'quoted id: number', status: 400, code: 'VALIDATION_FAILED' }),
    text({ text: 'a', quoted_message_id: 'q'.repeat(200) }, { name: 'quoted id: too long', status: 400, code: 'VALIDATION_FAILED' }),
    text({ text: 'a', quoted_message_id: 'msg_unknown' }, { name: 'quoted id: unknown', status: 422, code: 'QUOTED_MESSAGE_NOT_FOUND' }),
    { name: 'wait=delivered', type: 'text', body: { phone: PHONE, data: { text: 'a' } }, query: '?wait=delivered', status: 400, code: 'VALIDATION_FAILED' },
    { name: 'Idempotency-Key with spaces', type: 'text', body: { phone: PHONE, data: { text: 'a' } }, headers: { 'idempotency-key': 'a b' }, status: 400, code: 'IDEMPOTENCY_KEY_INVALID' },
    { name: 'Idempotency-Key too long', type: 'text', body: { phone: PHONE, data: { text: 'a' } }, headers: { 'idempotency-key': 'k'.repeat(256) }, status: 400, code: 'IDEMPOTENCY_KEY_INVALID' },
    { name: 'Idempotency-Key non-ASCII', type: 'text', body: { phone: PHONE, data: { text: 'a' } }, headers: { 'idempotency-key': 'chave-ç' }, status: 400, code: 'IDEMPOTENCY_KEY_INVALID' },
    // --- media input
    ...['image', 'video', 'audio', 'voice', 'document', 'sticker'].flatMap((type) => [
      media(type, {}, 400, 'MEDIA_REQUIRED', 'nothing'),
      media(type, { base64: '', url: '' }, 400, 'MEDIA_REQUIRED', 'both empty'),
      media(type, { base64: 'AAAA', url: 'https://example.com/a' }, 400, 'MEDIA_AMBIGUOUS', 'both'),
      media(type, { base64: 'not base64!!' }, 400, 'BASE64_INVALID', 'bad characters'),
      media(type, { url: 'ftp://example.com/a' }, 400, 'URL_INVALID', 'ftp url'),
    ]),
    media('image', { base64: 12345 }, 400, 'BASE64_INVALID', 'base64 number'),
    media('image', { base64: 'AAA=A' }, 400, 'BASE64_INVALID', 'padding inside'),
    media('image', { base64: 'AB+_' }, 400, 'BASE64_INVALID', 'mixed alphabets'),
    media('image', { base64: 'AB=' }, 400, 'BASE64_INVALID', 'bad padding'),
    media('image', { base64: 'data:image/png,AAAA' }, 400, 'BASE64_INVALID', 'data url not base64'),
    media('image', { base64: 'data:image/pngAAAA' }, 400, 'BASE64_INVALID', 'malformed data url'),
    media('image', { url: 'not a url' }, 400, 'URL_INVALID', 'not a url'),
    media('image', { url: 'javascript:alert(1)' }, 400, 'URL_INVALID', 'javascript url'),
    media('image', { url: 'file:///etc/passwd' }, 400, 'URL_INVALID', 'file url'),
    media('image', { url: 'http://user:pw@example.com/a.jpg' }, 400, 'URL_INVALID', 'url with credentials'),
    media('image', { url: 42 }, 400, 'URL_INVALID', 'url number'),
    media('image', { url: 'http://10.0.0.1/a.jpg' }, 422, 'MEDIA_URL_FORBIDDEN', 'private address'),
    media('image', { url: 'http://169.254.169.254/latest/meta-data' }, 422, 'MEDIA_URL_FORBIDDEN', 'metadata address'),
    media('image', { url: 'http://[::ffff:10.0.0.1]/a.jpg' }, 422, 'MEDIA_URL_FORBIDDEN', 'mapped IPv6 private address'),
    media('image', { base64: b64('this is plain text, not a picture') }, 422, 'MEDIA_TYPE_MISMATCH', 'text as an image'),
    media('video', { base64: b64('%PDF-1.4 not a video') }, 422, 'MEDIA_TYPE_MISMATCH', 'pdf as a video'),
    media('image', { base64: Buffer.alloc(MEDIA_MAX + 1024, 0xff).toString('base64') }, 413, 'MEDIA_TOO_LARGE', 'over the media limit'),
    media('document', { base64: Buffer.alloc(DOCUMENT_MAX + 1024, 1).toString('base64') }, 413, 'MEDIA_TOO_LARGE', 'over the document limit'),
    media('image', { base64: 'AAAA', filename: 42 }, 400, 'VALIDATION_FAILED', 'filename number'),
    media('image', { base64: 'AAAA', text: 7 }, 400, 'VALIDATION_FAILED', 'caption number'),
    media('audio', { base64: 'AAAA', ptt: 'yes' }, 400, 'VALIDATION_FAILED', 'ptt string'),
    media('sticker', { base64: 'AAAA', text: 'caption' }, 400, 'UNKNOWN_FIELD', 'caption on a sticker'),
    media('image', { base64: 'AAAA', ptt: true }, 400, 'UNKNOWN_FIELD', 'ptt on an image'),
    // --- location, reaction, contact
    media('location', {}, 400, 'LOCATION_INVALID', 'nothing'),
    media('location', { latitude: 91, longitude: 0 }, 400, 'LOCATION_INVALID', 'latitude 91'),
    media('location', { latitude: 0, longitude: -181 }, 400, 'LOCATION_INVALID', 'longitude -181'),
    media('location', { latitude: '1', longitude: '2' }, 400, 'LOCATION_INVALID', 'strings'),
    media('location', { latitude: 1, longitude: 2, name: 3 }, 400, 'VALIDATION_FAILED', 'name number'),
    media('reaction', {}, 400, 'REACTION_INVALID', 'nothing'),
    media('reaction', { message_id: 'msg_x' }, 400, 'REACTION_INVALID', 'no emoji'),
    media('reaction', { message_id: 'msg_x', emoji: 'ok' }, 400, 'REACTION_INVALID', 'letters'),
    media('reaction', { message_id: 'msg_x', emoji: '👍👍👍👍👍👍👍👍👍👍👍' }, 400, 'REACTION_INVALID', 'too many emoji'),
    media('reaction', { emoji: '👍' }, 400, 'REACTION_INVALID', 'no target'),
    media('reaction', { message_id: 'msg_unknown', emoji: '👍' }, 422, 'TARGET_MESSAGE_NOT_FOUND', 'unknown target'),
    media('contact', {}, 400, 'CONTACT_INVALID', 'nothing'),
    media('contact', { contact_name: 'Ana' }, 400, 'CONTACT_INVALID', 'no phone'),
    media('contact', { contact_name: 'Ana', contact_phone: '12' }, 400, 'CONTACT_INVALID', 'short phone'),
    media('contact', { contact_name: ' ', contact_phone: '5511999999999' }, 400, 'CONTACT_INVALID', 'blank name'),
    // --- recipient
    { name: 'a number not on WhatsApp', type: 'text', body: { phone: '5511900000077', data: { text: 'a' } }, status: 422, code: 'PHONE_NOT_ON_WHATSAPP' },
  ]
  return list
}

describe('bad requests to POST /api/v1/message/:type', () => {
  let h: Harness
  let f: SendFixture

  beforeAll(async () => {
    h = await startHarness({ env: { AUTH_FAILURES_MAX: '1000000', MEDIA_MAX_BYTES: String(MEDIA_MAX), DOCUMENT_MAX_BYTES: String(DOCUMENT_MAX) } })
    f = await sendFixture(h)
  })
  afterAll(async () => {
    await h?.close()
  })

  const all = cases()
  it('has at least 100 cases', () => expect(all.length).toBeGreaterThanOrEqual(100))

  async function run(c: Case) {
    const auth = c.auth === undefined ? f.auth.authorization : c.auth === '__wrong_token__' ? basicAuth(f.inst.id, 'wgi_wrong').authorization : c.auth
    const body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body).replaceAll(PHONE, f.customer.phone)
    const res = await h.daemon.app.inject({
      method: 'POST',
      url: `/api/v1/message/${encodeURIComponent(c.type ?? 'text').replace('%00', '%2500')}${c.query ?? ''}`,
      headers: { 'content-type': 'application/json', ...(auth !== null ? { authorization: auth } : {}), ...c.headers },
      payload: body,
    })
    return res
  }

  it.each(all.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = h.daemon.messaging.repo.countOutbound()
    const res = await run(c)
    const json = res.json()
    expect({ status: res.statusCode, code: json.errors?.[0]?.code }).toEqual({ status: c.status, code: c.code })
    expect(json).toMatchObject({ data: null, meta: null })
    expect(h.daemon.messaging.repo.countOutbound()).toBe(before)
  })

  it('fuzz: any body, type, and content type gives a 4xx with a registered code, never a 5xx, never a queued row', async () => {
    const before = h.daemon.messaging.repo.countOutbound()
    const codes = new Set(Object.keys(ERRORS))
    const phoneish = fc.oneof(
      fc.stringMatching(/^\+?\d{8,18}$/).map((p) => `5511900${p.replace(/\D/g, '').slice(0, 8)}`), // valid, not on WhatsApp
      fc.string(),
      fc.integer(),
      fc.constant(null),
    )
    const data = fc.dictionary(
      fc.constantFrom('text', 'base64', 'url', 'filename', 'mimetype', 'ptt', 'latitude', 'longitude', 'emoji', 'message_id', 'contact_name', 'contact_phone', 'quoted_message_id', 'junk'),
      fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.base64String(), fc.webUrl(), fc.anything()),
    )
    const body = fc.oneof(
      fc.record({ phone: phoneish, data }, { requiredKeys: [] }),
      fc.json(),
      fc.string(),
      fc.anything().map((v) => {
        try {
          return JSON.stringify(v) ?? 'null'
        } catch {
          return '{}'
        }
      }),
    )
    const type = fc.oneof(fc.constantFrom('text', 'image', 'video', 'audio', 'voice', 'document', 'sticker', 'location', 'reaction', 'contact'), fc.string({ minLength: 1 }))
    const contentType = fc.oneof(fc.constant('application/json'), fc.constant('application/json; charset=utf-8'), fc.constantFrom('text/plain', '', 'application/x-www-form-urlencoded'))
    await fc.assert(
      fc.asyncProperty(type, body, contentType, async (t, b, ct) => {
        const res = await h.daemon.app.inject({
          method: 'POST',
          url: `/api/v1/message/${encodeURIComponent(t)}`,
          headers: { ...f.auth, 'content-type': ct },
          payload: typeof b === 'string' ? b : JSON.stringify(b),
        })
        expect(res.statusCode).toBeGreaterThanOrEqual(400)
        expect(res.statusCode).toBeLessThan(500)
        const code = res.json().errors?.[0]?.code
        expect(codes.has(code)).toBe(true)
      }),
      { numRuns: 300 },
    )
    expect(h.daemon.messaging.repo.countOutbound()).toBe(before)
  })
})
