import { ConfigError, loadConfig } from './config.js'
import { createDaemon } from './daemon.js'
import { createLogger } from './logger.js'

/** Boot and shutdown, nothing else. */
async function main(): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw err
  }
  const logger = createLogger({ level: config.logLevel, pretty: config.logPretty })
  const daemon = await createDaemon(config, logger)
  if (daemon.generatedAdminToken) {
    // Printed once, on the first start, to stdout and never logged: it is stored only as a hash.
    process.stdout.write(
      `\n  Admin token (shown once, keep it safe): ${daemon.generatedAdminToken}\n` +
        `  Use it as: Authorization: Bearer <token>\n\n`,
    )
  }
  const address = await daemon.listen()
  logger.info({ address }, 'gateway listening')

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

void main()
