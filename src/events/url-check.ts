import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { AppError } from '../errors.js'
import { isForbiddenAddress, type CidrList } from '../net/cidr.js'

/**
 * Create-time check of a webhook or core URL: http(s) only, no credentials in it, and no host that is (or resolves
 * to) a forbidden address. The guarded agent checks again at connect time (DNS may change); this check exists so
 * an operator hears about the mistake at once. A name that does not resolve yet is accepted.
 */
export async function assertDeliverableUrl(raw: string, allow: CidrList): Promise<string> {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new AppError('VALIDATION_FAILED', 'url must be an absolute http(s) URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AppError('VALIDATION_FAILED', 'url must be http or https')
  if (url.username || url.password) throw new AppError('VALIDATION_FAILED', 'url must not carry credentials')
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  let addresses: string[]
  if (isIP(host) !== 0) addresses = [host]
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address)
    } catch {
      addresses = []
    }
  }
  const forbidden = addresses.find((a) => isForbiddenAddress(a, allow))
  if (forbidden) throw new AppError('WEBHOOK_URL_FORBIDDEN', undefined, { address: forbidden })
  return url.toString()
}
