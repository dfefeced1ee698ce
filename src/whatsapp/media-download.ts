import { createHash } from 'node:crypto'
import { downloadContentFromMessage } from '@whiskeysockets/baileys'
import type { MediaSource } from './inbound.js'

export class MediaTooLargeError extends Error {
  readonly code = 'MEDIA_TOO_LARGE'
}

/**
 * Downloads and decrypts one inbound media file with Baileys (Utils/messages-media.js:416-426: a GET of the
 * encrypted bytes through the global fetch, then AES-CBC with keys derived from mediaKey; the trailing MAC is
 * checked). Stops reading past `maxBytes` and after `timeoutMs`. No socket is needed, so a pending download can
 * resume after a restart.
 */
export async function downloadInboundMedia(source: MediaSource, opts: { maxBytes: number; timeoutMs: number }): Promise<{ bytes: Buffer; sha256: string }> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('media download timed out'), { code: 'MEDIA_TIMEOUT' })), opts.timeoutMs)
  })
  let stream: Awaited<ReturnType<typeof downloadContentFromMessage>> | undefined
  try {
    const work = (async () => {
      stream = await downloadContentFromMessage(
        { mediaKey: Buffer.from(source.mediaKey, 'base64'), directPath: source.directPath ?? undefined, url: source.url ?? undefined },
        source.type,
      )
      const chunks: Buffer[] = []
      let size = 0
      const hash = createHash('sha256')
      for await (const chunk of stream) {
        size += (chunk as Buffer).length
        if (size > opts.maxBytes) throw new MediaTooLargeError(`media larger than ${opts.maxBytes} bytes`)
        hash.update(chunk as Buffer)
        chunks.push(chunk as Buffer)
      }
      return { bytes: Buffer.concat(chunks), sha256: hash.digest('hex') }
    })()
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
    stream?.destroy()
  }
}
