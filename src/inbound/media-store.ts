import fs from 'node:fs'
import path from 'node:path'
import PQueue from 'p-queue'
import type { Database } from '../db/database.js'
import type { Schema } from '../db/schema.js'
import type { Logger } from '../logger.js'
import type { InboundMedia, MediaSource } from '../whatsapp/inbound.js'
import { newId } from '../ids.js'

export type MediaFileRow = Schema['media_files']

export type MediaFetcher = (source: MediaSource, maxBytes: number) => Promise<{ bytes: Buffer; sha256: string }>

export interface InboundMediaStoreDeps {
  db: Database
  dataDir: string
  fetch: MediaFetcher
  logger: Logger
  /** 0 keeps files forever */
  retentionDays: number
  maxBytes: (type: MediaSource['type']) => number
  /** parallel downloads */
  concurrency?: number
  now?: () => number
}

/**
 * Inbound media under `${dataDir}/media/inbound/`. The row is written (status `pending`, with what Baileys needs to
 * download it) in the same transaction as the message and its event; the download happens afterwards, off the
 * inbound path, so an event is never lost to a failed or slow download. A link to a file that is not downloaded
 * yet downloads it on demand. A periodic sweep deletes files and rows past their retention.
 */
export class InboundMediaStore {
  readonly dir: string
  private readonly queue: PQueue
  private readonly inFlight = new Map<string, Promise<MediaFileRow>>()
  private readonly now: () => number

  constructor(private readonly deps: InboundMediaStoreDeps) {
    this.dir = path.join(deps.dataDir, 'media', 'inbound')
    this.queue = new PQueue({ concurrency: deps.concurrency ?? 2 })
    this.now = deps.now ?? Date.now
  }

  /** Synchronous: call inside the transaction that records the message. */
  register(instanceId: string, messageId: string, media: InboundMedia): MediaFileRow {
    const id = newId('med')
    const now = this.now()
    const row: MediaFileRow = {
      id,
      instance_id: instanceId,
      message_id: messageId,
      path: path.join(this.dir, id),
      mimetype: media.mimetype,
      size: media.size ?? 0,
      sha256: media.sha256 ?? '',
      filename: media.filename,
      created_at: new Date(now).toISOString(),
      expires_at: this.deps.retentionDays > 0 ? new Date(now + this.deps.retentionDays * 86_400_000).toISOString() : null,
      status: 'pending',
      source: JSON.stringify(media.source),
      error: null,
    }
    this.deps.db.run(this.deps.db.qb.insertInto('media_files').values(row))
    return row
  }

  get(id: string): MediaFileRow | undefined {
    return this.deps.db.first(this.deps.db.qb.selectFrom('media_files').selectAll().where('id', '=', id))
  }

  /** The stored file, downloading it first when needed. Concurrent callers share one download. */
  ensure(id: string): Promise<MediaFileRow> {
    const row = this.get(id)
    if (!row) return Promise.reject(Object.assign(new Error('no such media'), { code: 'NOT_FOUND' }))
    if (row.status === 'stored' && fs.existsSync(row.path)) return Promise.resolve(row)
    const running = this.inFlight.get(id)
    if (running) return running
    const job = this.queue.add(() => this.download(row)) as Promise<MediaFileRow>
    this.inFlight.set(id, job)
    void job.finally(() => this.inFlight.delete(id)).catch(() => undefined)
    return job
  }

  /** Starts downloads in the background (after the recording transaction committed). */
  prefetch(ids: readonly string[]): void {
    for (const id of ids) this.ensure(id).catch(() => undefined)
  }

  /** Boot: downloads whatever a previous process left pending. */
  resumePending(): void {
    const rows = this.deps.db.all(this.deps.db.qb.selectFrom('media_files').select('id').where('status', '=', 'pending').limit(1000))
    this.prefetch(rows.map((r) => r.id))
  }

  /**
   * Deletes files and rows whose retention ended, and files no row names any more (their instance was deleted and
   * its rows went with it, or a crash interrupted a download); answers how many files went.
   */
  sweep(): number {
    const iso = new Date(this.now()).toISOString()
    const expired = this.deps.db.all(this.deps.db.qb.selectFrom('media_files').select(['id', 'path']).where('expires_at', '<=', iso).limit(5000))
    for (const row of expired) {
      fs.rmSync(row.path, { force: true })
      this.deps.db.run(this.deps.db.qb.deleteFrom('media_files').where('id', '=', row.id))
    }
    return expired.length + this.removeOrphans()
  }

  private removeOrphans(): number {
    let names: string[]
    try {
      names = fs.readdirSync(this.dir)
    } catch {
      return 0
    }
    const known = new Set(this.deps.db.all(this.deps.db.qb.selectFrom('media_files').select('id')).map((r) => r.id))
    const orphans = names.filter((name) => !known.has(name.replace(/\.part$/, '')))
    for (const name of orphans) fs.rmSync(path.join(this.dir, name), { force: true })
    return orphans.length
  }

  private async download(row: MediaFileRow): Promise<MediaFileRow> {
    const source = JSON.parse(row.source ?? 'null') as MediaSource | null
    if (!source) throw new Error('media has no download source')
    try {
      const { bytes, sha256 } = await this.deps.fetch(source, this.deps.maxBytes(source.type))
      if (row.sha256 && row.sha256 !== sha256) throw new Error('downloaded media does not match the announced SHA-256')
      fs.mkdirSync(this.dir, { recursive: true })
      const tmp = `${row.path}.part`
      fs.writeFileSync(tmp, bytes)
      fs.renameSync(tmp, row.path)
      this.deps.db.run(
        this.deps.db.qb.updateTable('media_files').set({ status: 'stored', size: bytes.length, sha256, error: null }).where('id', '=', row.id),
      )
    } catch (err) {
      const message = (err as Error).message.slice(0, 300)
      this.deps.db.run(this.deps.db.qb.updateTable('media_files').set({ status: 'failed', error: message }).where('id', '=', row.id))
      this.deps.logger.warn({ err, mediaId: row.id }, 'inbound media download failed')
      throw err
    }
    return this.get(row.id) as MediaFileRow
  }
}
