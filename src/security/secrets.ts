import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Database } from '../db/database.js'
import { generateToken, hashToken } from './tokens.js'

/**
 * The key that seals credentials at rest: GATEWAY_SECRET_KEY when set, else one generated on first start and kept
 * in data/secret.key (mode 0600). Losing it makes every stored session unreadable, so it is never regenerated
 * while the file exists.
 */
export function resolveSecretKey(configured: string | undefined, dataDir: string): string {
  if (configured) return configured
  const file = path.join(dataDir, 'secret.key')
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim()
  fs.mkdirSync(dataDir, { recursive: true })
  const key = randomBytes(32).toString('base64')
  fs.writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' })
  return key
}

/**
 * The admin token's hash. GATEWAY_ADMIN_TOKEN wins when set. Otherwise a token is generated on first start, its
 * hash kept in the database, and the token itself returned once so the caller can print it; later starts return
 * only the stored hash.
 */
export function resolveAdminToken(configured: string | undefined, db: Database): { hash: string; generated?: string } {
  if (configured) return { hash: hashToken(configured) }
  const stored = db.first(db.qb.selectFrom('settings').select('value').where('key', '=', 'admin_token_hash'))
  if (stored) return { hash: stored.value }
  const token = generateToken('wga')
  const hash = hashToken(token)
  db.run(db.qb.insertInto('settings').values({ key: 'admin_token_hash', value: hash }))
  return { hash, generated: token }
}
