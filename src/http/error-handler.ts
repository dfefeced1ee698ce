import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { databaseWideFailure } from '../db/sqlite-errors.js'
import { AppError, ERRORS, type ErrorCode } from '../errors.js'
import { errorBody } from './envelope.js'

/** Fastify's own error codes for malformed requests, mapped to ours: bad input is always a 4xx, never a 5xx. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_BAD_URL: 'ROUTE_NOT_FOUND',
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any server/provider flavour
export function installErrorHandling(app: FastifyInstance<any, any, any, any, any>): void {
  app.setErrorHandler((thrown: FastifyError | AppError, request, reply) => {
    const error = thrown instanceof AppError ? thrown : (databaseUnavailable(thrown, request) ?? thrown)
    if (error instanceof AppError) {
      if (error.details?.retryAfterSeconds) {
        void reply.header('retry-after', String(error.details.retryAfterSeconds))
      }
      return reply.status(error.status).send(errorBody(error.code, error.message, publicDetails(error.details)))
    }
    // A phone that fails its schema (pairing code, history filter) gets the contract's own code, as in sends.
    if (error.code === 'FST_ERR_VALIDATION' && error.validation?.[0]?.instancePath === '/phone') {
      return reply.status(ERRORS.INVALID_PHONE.status).send(errorBody('INVALID_PHONE', undefined, { field: 'phone' }))
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined
    if (mapped) {
      const message = mapped === 'VALIDATION_FAILED' ? error.message : ERRORS[mapped].message
      return reply.status(ERRORS[mapped].status).send(errorBody(mapped, message))
    }
    if (error instanceof SyntaxError || (error.statusCode !== undefined && error.statusCode < 500 && error.statusCode >= 400)) {
      const code: ErrorCode = error instanceof SyntaxError ? 'INVALID_JSON' : 'VALIDATION_FAILED'
      return reply.status(ERRORS[code].status).send(errorBody(code, error.message))
    }
    request.log.error({ err: error }, 'unhandled error')
    return reply.status(500).send(errorBody('INTERNAL'))
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody('ROUTE_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`))
  })
}

/**
 * A SQLite failure of the whole database as the AppError the client gets. Nothing was stored (the transaction rolled
 * back): a condition of the server, not of the request, and worth a retry: a lock held past busy_timeout soon, a full
 * disk once the operator freed space.
 */
function databaseUnavailable(err: FastifyError, request: FastifyRequest): AppError | undefined {
  const failure = databaseWideFailure(err)
  if (!failure) return undefined
  request.log.error({ err }, 'database unavailable')
  return failure === 'busy'
    ? new AppError('DATABASE_BUSY', undefined, { retryAfterSeconds: 1 })
    : new AppError('STORAGE_UNAVAILABLE', undefined, { retryAfterSeconds: 30 })
}

function publicDetails(details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!details) return undefined
  const { retryAfterSeconds: _drop, ...rest } = details
  return Object.keys(rest).length > 0 ? rest : undefined
}
