import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { PreparedMedia } from '../media/index.js'
import type { StoredMedia } from './types.js'

/**
 * Outbound media files under `<dataDir>/media/outbound/`, one per queued message, written before the row that
 * names them is inserted (so a row never points at a missing file). No fsync: the row and the file share the
 * fate of a process crash; a power loss may lose both, which the client sees as a send that never happened.
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
      sha256: createHash('sha256').update(media.bytes).digest('base64'),
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
}
