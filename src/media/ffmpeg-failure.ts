import { AppError } from '../errors.js'
import { conversionFailed } from './conversion-error.js'
import { FfmpegError } from './ffmpeg.js'
import { parseFfmpegInfo } from './ffmpeg-info.js'

/**
 * When ffmpeg fails, its stderr still says what the input held: a file without the stream the kind needs is the
 * client's mismatch (MEDIA_TYPE_MISMATCH), anything else a failed conversion.
 */
export function explainFfmpegFailure(err: unknown, needs: 'audio' | 'video', what: string): AppError {
  if (err instanceof FfmpegError && !err.timedOut) {
    const info = parseFfmpegInfo(err.stderr)
    if (err.stderr.includes('Input #0') && !info[needs]) {
      return new AppError('MEDIA_TYPE_MISMATCH', `The content has no ${needs} stream`)
    }
  }
  return conversionFailed(err, what)
}
