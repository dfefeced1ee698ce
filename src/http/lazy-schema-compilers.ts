import { AjvCompiler } from '@fastify/ajv-compiler'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import type { FastifyServerOptions } from 'fastify'

/**
 * Fastify's own compilers (the ones it builds when given none: fastify/lib/schema-controller.js:23-28), deferred:
 * each route's request validator and response serializer is compiled on the route's first request instead of at
 * `ready`. Compiling all of them at start took ≈ 250 ms of a 1.5 s cold start (bench/startup.ts), for routes an
 * instance may never call; the first request of a route pays its own few milliseconds. Behaviour is otherwise
 * Fastify's: same Ajv options, same fast-json-stringify.
 */
export function lazySchemaCompilers(): NonNullable<FastifyServerOptions['schemaController']> {
  const buildValidator = AjvCompiler()
  const buildSerializer = SerializerSelector()
  return {
    compilersFactory: {
      buildValidator: (...args: Parameters<typeof buildValidator>) => {
        const compile = buildValidator(...args)
        return (route: Parameters<typeof compile>[0]) => onFirstCall(() => compile(route))
      },
      buildSerializer: (...args: Parameters<typeof buildSerializer>) => {
        const compile = buildSerializer(...args)
        return (route: Parameters<typeof compile>[0]) => onFirstCall(() => compile(route))
      },
    },
  }
}

function onFirstCall<F extends (data: any) => any>(compile: () => F): F {
  let compiled: F | undefined
  const call = ((data: unknown) => (compiled ??= compile())(data)) as F
  // A failed validation leaves its reasons on the validator function, where Fastify reads them (lib/validation.js:131).
  Object.defineProperty(call, 'errors', { get: () => (compiled as { errors?: unknown } | undefined)?.errors })
  return call
}
