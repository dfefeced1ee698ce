import { beforeAll, describe, expect, it } from 'vitest'
import { sniffMedia } from '../../src/media/sniff.js'
import { fixtures, type Fixtures } from './fixtures.js'

let f: Fixtures
beforeAll(async () => {
  f = await fixtures()
})

const OOXML = 'application/vnd.openxmlformats-officedocument'

/** A zip whose first local file header names `name` (enough for the sniffer, which reads only headers). */
function zipNamed(...names: string[]): Buffer {
  return Buffer.concat(
    names.map((name) => {
      const header = Buffer.alloc(30)
      header.write('PK\x03\x04', 0, 'latin1')
      header.writeUInt16LE(name.length, 26)
      return Buffer.concat([header, Buffer.from(name, 'latin1'), Buffer.from('payload')])
    }),
  )
}

describe('sniffMedia', () => {
  const generated: Array<[fixture: keyof Fixtures, mime: string, ext: string]> = [
    ['jpeg', 'image/jpeg', 'jpg'],
    ['png', 'image/png', 'png'],
    ['webp', 'image/webp', 'webp'],
    ['gif', 'image/gif', 'gif'],
    ['tiff', 'image/tiff', 'tif'],
    ['bmp', 'image/bmp', 'bmp'],
    ['wav', 'audio/wav', 'wav'],
    ['mp3', 'audio/mpeg', 'mp3'],
    ['opusMono', 'audio/ogg; codecs=opus', 'ogg'],
    ['vorbis', 'audio/ogg', 'ogg'],
    ['m4a', 'audio/mp4', 'm4a'],
    ['flac', 'audio/flac', 'flac'],
    ['aac', 'audio/aac', 'aac'],
    ['amr', 'audio/amr', 'amr'],
    ['mp4', 'video/mp4', 'mp4'],
    ['mov', 'video/quicktime', 'mov'],
    ['threeGp', 'video/3gpp', '3gp'],
    ['webm', 'video/webm', 'webm'],
    ['webmAudio', 'video/webm', 'webm'],
    ['mkv', 'video/x-matroska', 'mkv'],
  ]
  it.each(generated)('%s → %s', (fixture, mime, ext) => {
    expect(sniffMedia(f[fixture])).toEqual({ mime, ext })
  })

  const handmade: Array<[name: string, bytes: Buffer, mime: string | undefined]> = [
    ['pdf', Buffer.from('%PDF-1.7\n%âãÏÓ\n'), 'application/pdf'],
    ['mp3 without ID3 (frame sync)', Buffer.from([0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0]), 'audio/mpeg'],
    ['docx', zipNamed('[Content_Types].xml', '_rels/.rels', 'word/document.xml'), `${OOXML}.wordprocessingml.document`],
    ['xlsx', zipNamed('[Content_Types].xml', 'xl/workbook.xml'), `${OOXML}.spreadsheetml.sheet`],
    ['pptx', zipNamed('[Content_Types].xml', 'ppt/presentation.xml'), `${OOXML}.presentationml.presentation`],
    ['plain zip', zipNamed('readme.txt'), 'application/zip'],
    ['amr-wb', Buffer.from('#!AMR-WB\n\x00\x00'), 'audio/amr-wb'],
    ['heic', Buffer.from('\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic', 'latin1'), 'image/heic'],
    ['text is not media', Buffer.from('hello, world\n'), undefined],
    ['random bytes', Buffer.from([0x13, 0x37, 0x00, 0x42, 0x99]), undefined],
    ['empty', Buffer.alloc(0), undefined],
    ['"BM" alone is not a bitmap', Buffer.from('BMW is a car'), undefined],
  ]
  it.each(handmade)('%s', (_name, bytes, mime) => {
    expect(sniffMedia(bytes)?.mime).toBe(mime)
  })

  it('falls back to text/plain only when asked (documents)', () => {
    expect(sniffMedia(Buffer.from('name,age\nAna,31\n'), { text: true })).toEqual({ mime: 'text/plain', ext: 'txt' })
    expect(sniffMedia(Buffer.from('Ação 🎉 ok'), { text: true })?.mime).toBe('text/plain')
    expect(sniffMedia(Buffer.from([0x61, 0x00, 0x62]), { text: true })).toBeUndefined()
    expect(sniffMedia(Buffer.from([0xc3, 0x28]), { text: true })).toBeUndefined()
  })

  it('ignores names: a PNG is a PNG whatever it is called (sniff takes only bytes)', () => {
    expect(sniffMedia(Buffer.concat([f.png, Buffer.from('.pdf')]))?.mime).toBe('image/png')
  })
})
