import { ERRORS, type ErrorCode } from '../errors.js'

/** The Plixa envelope every admin and read endpoint answers with (contract.md "Response shape"). */
export interface Envelope<T> {
  data: T
  meta: Record<string, unknown> | null
  errors: null
}

export function ok<T>(data: T, meta: Record<string, unknown> | null = null): Envelope<T> {
  return { data, meta, errors: null }
}

export interface ErrorBody {
  data: null
  meta: null
  errors: { code: ErrorCode; message: string; details?: Record<string, unknown> }[]
}

export function errorBody(code: ErrorCode, message: string = ERRORS[code].message, details?: Record<string, unknown>): ErrorBody {
  return { data: null, meta: null, errors: [{ code, message, ...(details ? { details } : {}) }] }
}
