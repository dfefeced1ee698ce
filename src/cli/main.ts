import { parseCliArgs, UsageError } from './args.js'
import { run, USAGE } from './commands.js'

/** `wagw` / `npm run cli --`: the process around run(): arguments, Ctrl-C, exit code. */
async function main(): Promise<void> {
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort())
  let code: number
  try {
    code = await run({
      args: parseCliArgs(process.argv.slice(2), process.env),
      env: process.env,
      out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
      err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
      signal: controller.signal,
      isTty: Boolean(process.stdout.isTTY),
    })
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`wagw: ${err.message}\n\n${USAGE}\n`)
      code = 2
    } else {
      process.stderr.write(`wagw: ${(err as Error).stack ?? String(err)}\n`)
      code = 1
    }
  }
  process.exitCode = code
  // Open sockets (an aborted stream) must not keep the process alive once the command is done.
  setImmediate(() => process.exit(code)).unref()
}

void main()
