import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PairingLinks } from '../../src/security/pairing-links.js'
import { launchChromium } from '../helpers/browser.js'
import { SECRET_KEY, startHarness, uniquePhone, type Harness } from '../helpers/harness.js'
import { readSse } from '../helpers/sse.js'

let h: Harness
let origin: string
let chromium: Awaited<ReturnType<typeof launchChromium>>

beforeAll(async () => {
  h = await startHarness()
  const address = h.daemon.app.server.address() as AddressInfo
  origin = `http://127.0.0.1:${address.port}`
  chromium = await launchChromium()
  fs.mkdirSync('test-output', { recursive: true })
})
afterAll(async () => {
  await chromium?.close()
  await h?.close()
})

async function createInstance(name = 'Front desk'): Promise<string> {
  const res = await h.request('POST', '/api/v1/instances', { name })
  expect(res.status).toBe(201)
  return res.body.data.id
}

/** The signed link's path and query, served from the test's real address (PUBLIC_URL is not a listening port). */
async function pairingPath(id: string): Promise<string> {
  const res = await h.request('POST', `/api/v1/instances/${id}/pairing-link`)
  expect(res.status).toBe(200)
  const url = new URL(res.body.data.url)
  expect(url.origin).toBe(h.config.publicUrl)
  expect(url.searchParams.get('exp')).toMatch(/^\d+$/)
  expect(url.searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/)
  return `${url.pathname}${url.search}`
}

describe('pairing link', () => {
  it('is issued only to the admin, for an existing instance', async () => {
    const id = await createInstance()
    expect((await h.request('POST', `/api/v1/instances/${id}/pairing-link`, undefined, {})).status).toBe(401)
    const missing = await h.request('POST', '/api/v1/instances/inst_nope/pairing-link')
    expect(missing.status).toBe(404)
    expect(missing.body.errors[0].code).toBe('INSTANCE_NOT_FOUND')
    const res = await h.request('POST', `/api/v1/instances/${id}/pairing-link`)
    const ttlMs = Date.parse(res.body.data.expires_at) - Date.now()
    expect(ttlMs).toBeGreaterThan(14 * 60_000)
    expect(ttlMs).toBeLessThanOrEqual(15 * 60_000)
  })

  it('refuses a tampered, foreign, expired or missing signature with 403 PAIRING_LINK_INVALID', async () => {
    const id = await createInstance()
    const other = await createInstance()
    const good = new URL(`http://x${await pairingPath(id)}`)
    const exp = good.searchParams.get('exp')!
    const sig = good.searchParams.get('sig')!
    const expired = new PairingLinks(SECRET_KEY, h.config.publicUrl, 60, () => Date.now() - 3_600_000).issue(id)
    const cases = [
      `/pair/${id}?exp=${exp}&sig=${sig.slice(0, -2)}AA`,
      `/pair/${other}?exp=${exp}&sig=${sig}`,
      `/pair/${id}?exp=${Number(exp) + 60}&sig=${sig}`,
      `${new URL(expired.url).pathname}${new URL(expired.url).search}`,
      `/pair/${id}`,
      `/pair/${id}/events?exp=${exp}&sig=${sig.slice(0, -2)}AA`,
    ]
    for (const url of cases) {
      const res = await h.request('GET', url, undefined, {})
      expect(res.status, url).toBe(403)
      expect(res.body, url).toEqual({ data: null, meta: null, errors: [{ code: 'PAIRING_LINK_INVALID', message: expect.any(String) }] })
    }
    const code = await h.request('POST', `/pair/${id}/pairing-code?exp=${exp}&sig=bad`, { phone: '5511999990001' }, {})
    expect(code.status).toBe(403)
    // The link is checked before a body is read, and a valid link admits only a small one.
    const big = JSON.stringify({ phone: '5511999990001', pad: 'x'.repeat(4096) })
    expect((await h.request('POST', `/pair/${id}/pairing-code?exp=${exp}&sig=bad`, big, {})).status).toBe(403)
    const tooBig = await h.request('POST', `/pair/${id}/pairing-code?exp=${exp}&sig=${sig}`, big, {})
    expect(tooBig.status).toBe(413)
    expect(tooBig.body.errors[0].code).toBe('PAYLOAD_TOO_LARGE')
    // The admin token opens nothing here: only the signature does.
    const withAdmin = await h.request('GET', `/pair/${id}`)
    expect(withAdmin.status).toBe(403)
  })

  it('ends the page\'s event stream with `expired` when the link runs out', async () => {
    const id = await createInstance()
    // Signed with the daemon's own secret, valid for one to two seconds.
    const short = new URL(new PairingLinks(SECRET_KEY, h.config.publicUrl, 2).issue(id).url)
    const events = await readSse(`${origin}${short.pathname}/events${short.search}`, (seen) => seen.some((e) => e.event === 'expired'), 10_000, { authorization: '' })
    expect(events[0]?.event).toBe('state')
    expect(events[0]?.data.instance).toMatchObject({ id, status: expect.stringMatching(/pending_qr|connecting/) })
    expect(events.at(-1)).toEqual({ event: 'expired', data: { reason: 'link_expired' } })
  })

  it('serves a self-contained page: no external assets, a strict CSP, no referrer', async () => {
    const id = await createInstance()
    const res = await h.daemon.app.inject({ method: 'GET', url: await pairingPath(id) })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/html')
    expect(res.headers['content-security-policy']).toContain("default-src 'none'")
    expect(res.headers['referrer-policy']).toBe('no-referrer')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.body).not.toMatch(/(src|href)=["']?https?:/)
    expect(res.body).toContain('Front desk')
  })
})

describe('pairing page in Chromium', () => {
  it('shows the live QR, and turns into "Connected as +<number> (<push name>)" when the phone scans it', async () => {
    const id = await createInstance('Front desk')
    const phone = h.sim.createPhone({ phone: uniquePhone(), pushName: 'Acme Support' })
    const page = await chromium.browser.newPage({ viewport: { width: 720, height: 820 } })
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()))
    try {
      await page.goto(`${origin}${await pairingPath(id)}`)
      const qrBox = page.locator('#qr[data-qr]')
      await qrBox.locator('img').waitFor({ state: 'visible', timeout: 15_000 })
      const qr = await qrBox.getAttribute('data-qr')
      expect(qr).toBe(h.daemon.manager.supervisor(id).currentQr?.qr)
      await page.screenshot({ path: 'test-output/pairing-page-qr.png' })

      await phone.scanQr(qr!)
      const connected = page.locator('#connected-as')
      await connected.filter({ hasText: `Connected as +${phone.phone} (Acme Support)` }).waitFor({ state: 'visible', timeout: 15_000 })
      expect(await page.locator('#pairing').isHidden()).toBe(true)
      expect(await page.locator('#app').getAttribute('data-status')).toBe('connected')
      await page.screenshot({ path: 'test-output/pairing-page.png' })
      expect(errors).toEqual([])
    } finally {
      await page.close()
    }
  })

  it('offers a pairing code for a phone number instead of the QR', async () => {
    const id = await createInstance('Sales')
    const phone = h.sim.createPhone({ phone: uniquePhone(), pushName: 'Acme Sales' })
    const page = await chromium.browser.newPage({ viewport: { width: 720, height: 820 } })
    try {
      await page.goto(`${origin}${await pairingPath(id)}`)
      // The code is requested on the socket that issues QRs: wait until one is up.
      await page.locator('#qr[data-qr]').waitFor({ state: 'attached', timeout: 15_000 })
      await page.click('#tab-code')
      await page.fill('#phone', `+${phone.phone}`)
      await page.click('#code-submit')
      const shown = page.locator('#pairing-code')
      await shown.filter({ hasText: /^[A-Z0-9]{4}-[A-Z0-9]{4}$/ }).waitFor({ state: 'visible', timeout: 15_000 })
      await page.screenshot({ path: 'test-output/pairing-page-code.png' })
      const code = (await shown.textContent())!.replace('-', '')
      await phone.enterPairingCode(code)
      await page.locator('#connected-as').filter({ hasText: `Connected as +${phone.phone}` }).waitFor({ state: 'visible', timeout: 15_000 })
    } finally {
      await page.close()
    }
  })
})

describe('API reference in Chromium', () => {
  it('renders /docs with every tag of the API and no failed request', async () => {
    const page = await chromium.browser.newPage({ viewport: { width: 1200, height: 900 } })
    const failed: string[] = []
    page.on('requestfailed', (request) => failed.push(request.url()))
    page.on('pageerror', (err) => failed.push(err.message))
    try {
      await page.goto(`${origin}/docs/`)
      await page.locator('.swagger-ui .info .title').waitFor({ state: 'visible', timeout: 15_000 })
      for (const tag of ['instances', 'messages', 'webhooks']) {
        await page.locator(`.opblock-tag[data-tag="${tag}"]`).waitFor({ state: 'visible', timeout: 15_000 })
      }
      await page.screenshot({ path: 'test-output/docs.png' })
      expect(failed).toEqual([])
    } finally {
      await page.close()
    }
  })
})

