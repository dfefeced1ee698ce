/**
 * A customer: another WhatsApp user (PN + LID, one device) the simulator plays. Sends text and media to
 * the daemon's account, decrypts and downloads what the daemon sends, and sends delivery/read receipts.
 */
import { readFile } from 'node:fs/promises'
import {
  assertMediaContent,
  downloadContentFromMessage,
  prepareWAMessageMedia,
  toBuffer,
  type AnyMediaMessageContent,
  type MediaType,
  type WAMediaUploadFunction
} from '@whiskeysockets/baileys'
import type { Account } from './accounts.js'
import type { MediaServer } from './media-server.js'
import { silentLogger } from './memory-auth.js'
import { VirtualUser, type ReceivedMessage, type VirtualUserHost } from './virtual-user.js'

export interface CustomerMedia {
  type: 'image' | 'video' | 'audio' | 'document' | 'sticker'
  data: Buffer
  mimetype?: string
  caption?: string
  fileName?: string
  /** audio only: a voice note */
  ptt?: boolean
}

export interface CustomerHost extends VirtualUserHost {
  media?: MediaServer
}

export class Customer extends VirtualUser {
  constructor(
    private readonly customerHost: CustomerHost,
    account: Account
  ) {
    super(customerHost, account, 'customer')
  }

  get pushName(): string {
    return this.account.pushName
  }

  /** Encrypts and stores the media on the simulator's media host, then sends the media message. */
  async sendMedia(toPhone: string, media: CustomerMedia, opts: { id?: string } = {}): Promise<{ id: string }> {
    const message = await prepareWAMessageMedia(mediaContent(media), { upload: this.uploadToSimulator(), logger: silentLogger })
    return this.sendMessage(toPhone, message, opts)
  }

  sendImage(toPhone: string, data: Buffer, caption?: string): Promise<{ id: string }> {
    return this.sendMedia(toPhone, { type: 'image', data, mimetype: 'image/jpeg', caption })
  }

  sendDocument(toPhone: string, data: Buffer, fileName: string, mimetype = 'application/pdf'): Promise<{ id: string }> {
    return this.sendMedia(toPhone, { type: 'document', data, fileName, mimetype })
  }

  /** Downloads (over the HTTPS media host) and decrypts the media of a received message. */
  async downloadMedia(entry: ReceivedMessage): Promise<Buffer> {
    const content = assertMediaContent(entry.message)
    const type = mediaTypeOfEntry(entry)
    return toBuffer(await downloadContentFromMessage(content, type))
  }

  private uploadToSimulator(): WAMediaUploadFunction {
    return async encFilePath => {
      const media = this.customerHost.media
      if (!media) throw new Error('the simulator was started with media: false')
      const { url, directPath } = media.put(await readFile(encFilePath))
      return { mediaUrl: url, directPath }
    }
  }
}

function mediaContent(media: CustomerMedia): AnyMediaMessageContent {
  const { data, mimetype, caption, fileName } = media
  switch (media.type) {
    case 'image':
      // An explicit (empty) thumbnail skips Baileys' thumbnail generation (messages.js:134-136).
      return { image: data, mimetype, caption, jpegThumbnail: '' }
    case 'video':
      return { video: data, mimetype, caption, jpegThumbnail: '' }
    case 'audio':
      return media.ptt
        ? { audio: data, mimetype: mimetype ?? 'audio/ogg; codecs=opus', ptt: true, seconds: 1 }
        : { audio: data, mimetype, seconds: 1 }
    case 'document':
      return { document: data, mimetype: mimetype ?? 'application/octet-stream', fileName, caption }
    case 'sticker':
      return { sticker: data, mimetype: mimetype ?? 'image/webp' }
  }
}

function mediaTypeOfEntry(entry: ReceivedMessage): MediaType {
  const m = entry.message
  if (m.imageMessage) return 'image'
  if (m.videoMessage) return 'video'
  if (m.audioMessage) return 'audio'
  if (m.stickerMessage) return 'sticker'
  if (m.documentMessage || m.documentWithCaptionMessage) return 'document'
  throw new Error(`message ${entry.id} carries no media`)
}
