import sharp from 'sharp'
import { AppError } from '../errors.js'
import { conversionFailed } from './conversion-error.js'
import type { FfmpegRunner } from './ffmpeg.js'
import { isImage, sniffMedia } from './sniff.js'
import { MAX_INPUT_PIXELS } from './types.js'

export interface PreparedImage {
  bytes: Buffer
  mimetype: string
  width: number
  height: number
  jpegThumbnail: Buffer
}

const SHARP_INPUT: sharp.SharpOptions = { limitInputPixels: MAX_INPUT_PIXELS }
const THUMBNAIL_WIDTH = 32
const WHITE = { r: 255, g: 255, b: 255 }

/** JPEG and PNG go out as they came unless EXIF says to rotate; every other image format becomes JPEG. */
export async function prepareImage(input: Buffer, ffmpeg: FfmpegRunner): Promise<PreparedImage> {
  const type = sniffMedia(input)
  if (!type || !isImage(type)) throw new AppError('MEDIA_TYPE_MISMATCH', 'The content is not an image')
  try {
    const bytes = await readableBySharp(input, type.mime, ffmpeg)
    const meta = await sharp(bytes, SHARP_INPUT).metadata()
    const rotated = (meta.orientation ?? 1) > 1
    const passThrough = (type.mime === 'image/jpeg' || type.mime === 'image/png') && !rotated
    let out = bytes
    let mimetype = type.mime
    let width = meta.width
    let height = meta.height
    if (!passThrough) {
      const pipeline = sharp(bytes, SHARP_INPUT).rotate()
      const { data, info } = await (type.mime === 'image/png'
        ? pipeline.png()
        : pipeline.flatten({ background: WHITE }).jpeg({ quality: 85 })
      ).toBuffer({ resolveWithObject: true })
      out = data
      mimetype = type.mime === 'image/png' ? 'image/png' : 'image/jpeg'
      width = info.width
      height = info.height
    }
    if (!width || !height) throw new Error('the image has no dimensions')
    return { bytes: out, mimetype, width, height, jpegThumbnail: await jpegThumbnail(out) }
  } catch (err) {
    throw conversionFailed(err, 'image')
  }
}

/** The small preview WhatsApp shows before the download (Baileys' `jpegThumbnail`, 32 px wide). */
export function jpegThumbnail(image: Buffer): Promise<Buffer> {
  return sharp(image, SHARP_INPUT)
    .rotate()
    .resize({ width: THUMBNAIL_WIDTH })
    .flatten({ background: WHITE })
    .jpeg({ quality: 50 })
    .toBuffer()
}

const STICKER_SIZE = 512

/** WebP goes out as it came (it may be animated); other images become a 512×512 WebP, letterboxed on transparency. */
export async function prepareSticker(input: Buffer, ffmpeg: FfmpegRunner): Promise<Omit<PreparedImage, 'jpegThumbnail'>> {
  const type = sniffMedia(input)
  if (!type || !isImage(type)) throw new AppError('MEDIA_TYPE_MISMATCH', 'A sticker must be an image (WebP, PNG or JPEG)')
  try {
    const bytes = await readableBySharp(input, type.mime, ffmpeg)
    if (type.mime === 'image/webp') {
      const meta = await sharp(bytes, SHARP_INPUT).metadata()
      if (!meta.width || !meta.height) throw new Error('the image has no dimensions')
      return { bytes, mimetype: 'image/webp', width: meta.width, height: meta.pageHeight ?? meta.height }
    }
    const { data, info } = await sharp(bytes, SHARP_INPUT)
      .rotate()
      .resize(STICKER_SIZE, STICKER_SIZE, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .webp({ quality: 80 })
      .toBuffer({ resolveWithObject: true })
    return { bytes: data, mimetype: 'image/webp', width: info.width, height: info.height }
  } catch (err) {
    throw conversionFailed(err, 'sticker')
  }
}

// sharp's prebuilt libvips has no BMP loader; ffmpeg decodes BMP, so it turns one into PNG first.
async function readableBySharp(bytes: Buffer, mime: string, ffmpeg: FfmpegRunner): Promise<Buffer> {
  if (mime !== 'image/bmp') return bytes
  const { stdout } = await ffmpeg.run({
    input: bytes,
    timeoutMs: 30_000,
    args: () => ['-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', 'pipe:1'],
  })
  return stdout
}
