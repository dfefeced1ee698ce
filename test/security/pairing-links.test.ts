import { describe, expect, it } from 'vitest'
import { PairingLinks } from '../../src/security/pairing-links.js'

const SECRET = 'a-secret-key-of-at-least-32-characters!'

function parts(url: string): { id: string; exp: string; sig: string } {
  const u = new URL(url)
  return { id: decodeURIComponent(u.pathname.split('/')[2]!), exp: u.searchParams.get('exp')!, sig: u.searchParams.get('sig')! }
}

describe('PairingLinks', () => {
  it('issues a link under the public URL that verifies until it expires, and not a second after', () => {
    let now = 1_800_000_000_000
    const links = new PairingLinks(SECRET, 'https://gw.example.com', 900, () => now)
    const link = links.issue('inst_abc')
    expect(link.url).toMatch(/^https:\/\/gw\.example\.com\/pair\/inst_abc\?exp=\d+&sig=[\w-]{43}$/)
    expect(link.expiresAt).toBe(new Date(now + 900_000).toISOString())
    const { id, exp, sig } = parts(link.url)
    expect(links.verify(id, exp, sig)).toBe(true)
    now += 899_000
    expect(links.verify(id, exp, sig)).toBe(true)
    expect(links.remainingMs(exp)).toBe(1_000)
    now += 1_000
    expect(links.verify(id, exp, sig)).toBe(false)
  })

  it('binds the signature to the instance, the expiry and the daemon secret', () => {
    const links = new PairingLinks(SECRET, 'http://localhost:8080', 900)
    const { id, exp, sig } = parts(links.issue('inst_abc').url)
    expect(links.verify('inst_other', exp, sig)).toBe(false)
    expect(links.verify(id, String(Number(exp) + 1), sig)).toBe(false)
    expect(links.verify(id, exp, `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`)).toBe(false)
    expect(new PairingLinks(`${SECRET}x`, 'http://localhost:8080', 900).verify(id, exp, sig)).toBe(false)
    expect(links.verify(id, undefined, sig)).toBe(false)
    expect(links.verify(id, exp, undefined)).toBe(false)
    expect(links.verify(id, '1e12', sig)).toBe(false)
  })

  it('uses a key of its own: a media-link signature for the same id and expiry does not open the page', async () => {
    const { MediaLinks } = await import('../../src/inbound/media-links.js')
    const now = () => 1_800_000_000_000
    const media = parts(new MediaLinks(SECRET, 'http://h', 900, now).issue('inst_abc').url.replace('/media/', '/pair/'))
    expect(new PairingLinks(SECRET, 'http://h', 900, now).verify(media.id, media.exp, media.sig)).toBe(false)
  })
})
