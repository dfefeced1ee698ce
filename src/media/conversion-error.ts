import { AppError } from '../errors.js'
import { FfmpegError } from './ffmpeg.js'

/** Any failure of sharp or ffmpeg on user bytes becomes MEDIA_CONVERSION_FAILED, with the tool's reason in details. */
export function conversionFailed(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err
  const reason = err instanceof Error ? err.message : String(err)
  const details: Record<string, unknown> = { reason }
  if (err instanceof FfmpegError && err.timedOut) details.timedOut = true
  return new AppError('MEDIA_CONVERSION_FAILED', `The ${what} could not be converted`, details)
}
