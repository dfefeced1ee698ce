import pino, { type Logger } from 'pino'

export type { Logger }

/**
 * Structured JSON logs; pretty-printed when a person is watching a terminal. Token, secret and QR fields are
 * redacted wherever they appear so that none of them reaches a log at any level by accident.
 */
export function createLogger(opts: { level: string; pretty: boolean }): Logger {
  return pino({
    level: opts.level,
    redact: {
      paths: ['token', 'secret', 'qr', '*.token', '*.secret', '*.qr', 'req.headers.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
    ...(opts.pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  })
}

export const silentLogger: Logger = pino({ level: 'silent' })
