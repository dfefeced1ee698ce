import type { Logger } from '../logger.js'

/**
 * libsignal (Baileys' Signal implementation) writes straight to the console, and some of its lines print whole
 * session records — root and chain keys included (node_modules/libsignal/src/session_record.js:270-301,
 * session_builder.js:74, session_cipher.js:157-182). Those lines are routed to the logger at debug level with the
 * session objects dropped; every other console line passes through untouched.
 */
const LIBSIGNAL_LINES = [
  'Closing session',
  'Opening session',
  'Removing old closed session',
  'Session already closed',
  'Session already open',
  'Migrating session to',
  'Closing open session in favor of incoming prekey bundle',
  'Decrypted message with closed session',
  'Failed to decrypt message with any known session',
  'Session error:',
  'V1 session storage migration error',
  'Unhandled bucket type',
  'WARNING: Expected pubkey of length 33',
]

let installed = false

export function routeLibsignalConsole(logger: Logger): void {
  if (installed) return
  installed = true
  const log = logger.child({ module: 'libsignal' })
  for (const method of ['info', 'warn', 'error', 'log'] as const) {
    const original = console[method].bind(console)
    console[method] = (...args: unknown[]) => {
      const first = args[0]
      if (typeof first === 'string' && LIBSIGNAL_LINES.some((line) => first.startsWith(line))) {
        log.debug(first.split(':')[0] ?? first)
        return
      }
      original(...args)
    }
  }
}
