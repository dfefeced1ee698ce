import { AppError } from '../errors.js'
import { FfmpegError } from './ffmpeg.js'

/**
 * Any failure of sharp or ffmpeg on user bytes becomes MEDIA_CONVERSION_FAILED (422: the input's fault), with the
 * tool's reason in details. A system error — ffmpeg missing, a full disk for its temp files — is the server's:
 * MEDIA_CONVERSION_UNAVAILABLE (503, retryable), so a client does not drop a good file as bad.
 */
export function conversionFailed(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err
  const reason = err instanceof Error ? err.message : String(err)
  if (typeof (err as NodeJS.ErrnoException | undefined)?.syscall === 'string') {
    return new AppError('MEDIA_CONVERSION_UNAVAILABLE', undefined, { reason })
  }
  const details: Record<string, unknown> = { reason }
  if (err instanceof FfmpegError && err.timedOut) details.timedOut = true
  return new AppError('MEDIA_CONVERSION_FAILED', `The ${what} could not be converted`, details)
}
