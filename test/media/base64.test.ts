import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AppError } from '../../src/errors.js'
import { decodeBase64Media } from '../../src/media/base64.js'

const MAX = 1024
const hello = Buffer.from('hello world!') // 12 bytes: no padding
const hi = Buffer.from('hi') // 2 bytes: "aGk="
const bin = Buffer.from([0xfb, 0xff, 0xbf, 0xfe]) // "+/+//g==" / "-_-__g=="

describe('decodeBase64Media', () => {
  const valid: Array<[name: string, input: string, bytes: Buffer, declaredMime?: string]> = [
    ['plain, no padding needed', 'aGVsbG8gd29ybGQh', hello],
    ['one padding char', 'aGk=', hi],
    ['two padding chars', 'aA==', Buffer.from('h')],
    ['unpadded, 2 chars left', 'aA', Buffer.from('h')],
    ['unpadded, 3 chars left', 'aGk', hi],
    ['standard alphabet + and /', '+/+//g==', bin],
    ['URL-safe alphabet - and _', '-_-__g==', bin],
    ['URL-safe unpadded', '-_-__g', bin],
    ['newlines every 4 chars', 'aGVs\nbG8g\nd29y\nbGQh\n', hello],
    ['CRLF and spaces and tabs', ' aGVsbG8g\r\n\td29ybGQh ', hello],
    ['data URL with mime', 'data:image/png;base64,aGk=', hi, 'image/png'],
    ['data URL with parameters', 'data:audio/ogg;codecs=opus;base64,aGk=', hi, 'audio/ogg'],
    ['data URL, upper-case scheme and mime', 'DATA:Image/JPEG;BASE64,aGk=', hi, 'image/jpeg'],
    ['data URL without mime', 'data:;base64,aGk=', hi],
    ['data URL with newline in payload', 'data:text/plain;base64,aGVsbG8g\nd29ybGQh', hello, 'text/plain'],
    ['exactly at the limit', Buffer.alloc(MAX).toString('base64'), Buffer.alloc(MAX)],
  ]
  it.each(valid)('accepts %s', (_name, input, bytes, declaredMime) => {
    const decoded = decodeBase64Media(input, MAX)
    expect(decoded.bytes.equals(bytes)).toBe(true)
    expect(decoded.declaredMime).toBe(declaredMime)
  })

  const invalid: Array<[name: string, input: string]> = [
    ['empty', ''],
    ['only whitespace', ' \n\t '],
    ['empty data URL payload', 'data:image/png;base64,'],
    ['invalid character', 'aGVs*G8='],
    ['non-ASCII', 'aGVsbG8gd29ybGQh\u00e9'],
    ['padding in the middle', 'aG=sbG8='],
    ['three padding chars', 'aA==='],
    ['padding with wrong length', 'aGk=='],
    ['single trailing char', 'aGVsb'],
    ['lonely char', 'a'],
    ['lonely padding', '=='],
    ['mixed alphabets', '+_+//g=='],
    ['non-canonical trailing bits', 'aB=='],
    ['non-canonical trailing bits unpadded', 'aGl'],
    ['data URL without base64 flag', 'data:text/plain,hello'],
    ['data URL without comma', 'data:image/png;base64'],
    ['percent-encoded', 'aGk%3D'],
    ['dot', 'aG.k'],
  ]
  it.each(invalid)('rejects %s with BASE64_INVALID', (_name, input) => {
    expect(() => decodeBase64Media(input, MAX)).toThrow(expect.objectContaining({ code: 'BASE64_INVALID', status: 400 }))
  })

  it('rejects one byte over the limit with MEDIA_TOO_LARGE (413)', () => {
    const input = Buffer.alloc(MAX + 1).toString('base64')
    expect(() => decodeBase64Media(input, MAX)).toThrow(expect.objectContaining({ code: 'MEDIA_TOO_LARGE', status: 413 }))
  })

  it('judges the size from the encoded length, before validating or decoding anything', () => {
    const huge = '!'.repeat(4 * 1024 * 1024)
    expect(() => decodeBase64Media(huge, MAX)).toThrow(expect.objectContaining({ code: 'MEDIA_TOO_LARGE' }))
  })

  it('does not count whitespace towards the size', () => {
    const input = Buffer.alloc(MAX).toString('base64').replace(/(.{76})/g, '$1\r\n')
    expect(decodeBase64Media(input, MAX).bytes.length).toBe(MAX)
  })

  it('round-trips any bytes in both alphabets, with or without padding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }).filter((a) => a.length > 0), fc.boolean(), (arr, urlSafe) => {
        const bytes = Buffer.from(arr)
        const encoded = bytes.toString(urlSafe ? 'base64url' : 'base64')
        expect(decodeBase64Media(encoded, 1024).bytes.equals(bytes)).toBe(true)
      }),
    )
  })

  it('never throws anything but an AppError', () => {
    const base64ish = fc.string({ unit: fc.constantFrom(...'AQgw+/-_=\n data:;,base64image/png'.split('')), maxLength: 60 })
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), base64ish), fc.integer({ min: 0, max: 100 }), (input, max) => {
        try {
          const { bytes } = decodeBase64Media(input, max)
          expect(bytes.length).toBeLessThanOrEqual(max)
        } catch (err) {
          expect(err).toBeInstanceOf(AppError)
          expect(['BASE64_INVALID', 'MEDIA_TOO_LARGE']).toContain((err as AppError).code)
        }
      }),
      { numRuns: 2000 },
    )
  })
})
