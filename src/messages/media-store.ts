import { createHash } from 'node:crypto'
import { readdirSync, rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { PreparedMedia } from '../media/index.js'
import type { StoredMedia } from './types.js'

/**
 * Outbound media files under `<dataDir>/media/outbound/`, one per queued message (named by its id), written before
 * the row that names them is inserted (so a row never points at a missing file), removed once the message is sent
 * or has finally failed. No fsync: the row and the file share the fate of a process crash; a power loss may lose
 * both, which the client sees as a send that never happened.
 */
export class OutboundMediaStore {
  readonly dir: string

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'media', 'outbound')
  }

  async write(messageId: string, media: PreparedMedia): Promise<StoredMedia> {
    await fs.mkdir(this.dir, { recursive: true })
    const file = path.join(this.dir, messageId)
    await fs.writeFile(file, media.bytes)
    return {
      path: file,
      mimetype: media.mimetype,
      size: media.bytes.length,
      sha256: createHash('sha256').update(media.bytes).digest('hex'), // hex, as inbound media's (contract: media.sha256)
      filename: media.fileName ?? null,
      duration_seconds: media.seconds ?? null,
      width: media.width ?? null,
      height: media.height ?? null,
      jpeg_thumbnail: media.jpegThumbnail ? media.jpegThumbnail.toString('base64') : null,
      waveform: media.waveform ? Buffer.from(media.waveform).toString('base64') : null,
      ptt: media.ptt === true || media.kind === 'voice',
    }
  }

  read(media: StoredMedia): Promise<Buffer> {
    return fs.readFile(media.path)
  }

  async remove(media: StoredMedia | undefined): Promise<void> {
    if (media) await fs.rm(media.path, { force: true })
  }

  removeNow(media: StoredMedia): void {
    rmSync(media.path, { force: true })
  }

  /**
   * At boot, before any request: deletes every file whose message is no longer queued (or never was), i.e. what a
   * crash left between a final status and the file's removal, or between writing a file and its row's commit.
   * Synchronous, so no request can be writing a file whose row is not committed yet. Answers how many went.
   */
  sweep(isQueued: (messageId: string) => boolean): number {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return 0 // no outbound media yet
    }
    const orphans = names.filter((name) => !isQueued(name))
    for (const name of orphans) rmSync(path.join(this.dir, name), { force: true })
    return orphans.length
  }
}
