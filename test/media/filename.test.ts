import { describe, expect, it } from 'vitest'
import { filenameFromContentDisposition, filenameFromUrl, sanitizeFilename } from '../../src/media/filename.js'

describe('filenames', () => {
  it.each([
    ['attachment; filename="report.pdf"', 'report.pdf'],
    ['attachment; filename=report.pdf', 'report.pdf'],
    [`attachment; filename="fallback.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`, 'résumé.pdf'],
    [`attachment; filename*=iso-8859-1'en'caf%E9.txt`, 'café.txt'],
    ['attachment; filename="a \\"quoted\\" name.txt"', 'a quoted name.txt'],
    ['attachment; filename="../../etc/passwd"', 'passwd'],
    ['inline', undefined],
    ['attachment; filename=""', undefined],
  ])('Content-Disposition %s → %s', (header, name) => {
    expect(filenameFromContentDisposition(header)).toBe(name)
  })

  it.each([
    ['https://cdn.example.com/a/b/photo%201.jpg?sig=x', 'photo 1.jpg'],
    ['https://cdn.example.com/', undefined],
    ['https://cdn.example.com/dir/..%2F..%2Fetc%2Fpasswd', 'passwd'],
    ['https://cdn.example.com/bad%E0%A4%A', 'bad%E0%A4%A'],
  ])('URL %s → %s', (url, name) => {
    expect(filenameFromUrl(new URL(url))).toBe(name)
  })

  it('strips control characters and bounds the length', () => {
    expect(sanitizeFilename('a\u0000b\nc.txt')).toBe('abc.txt')
    expect(sanitizeFilename('x'.repeat(500))).toHaveLength(200)
    expect(sanitizeFilename('..')).toBeUndefined()
  })
})
