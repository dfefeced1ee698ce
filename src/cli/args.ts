import { parseArgs } from 'node:util'

export interface CliArgs {
  /** Positional words: the command, its subcommand and its operands. */
  positionals: string[]
  url: string
  token: string | undefined
  name: string | undefined
  tenant: string | undefined
  json: boolean
  help: boolean
}

export class UsageError extends Error {
  override name = 'UsageError'
}

/** Flags may appear anywhere on the line; the environment fills in what the flags leave out. */
export function parseCliArgs(argv: string[], env: Record<string, string | undefined>): CliArgs {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        name: { type: 'string' },
        tenant: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  return {
    positionals,
    url: (values.url ?? env.WAGW_URL ?? 'http://localhost:8080').replace(/\/+$/, ''),
    token: values.token,
    name: values.name,
    tenant: values.tenant,
    json: values.json ?? false,
    help: values.help ?? false,
  }
}
