/** Raised when an outbound connection would reach a forbidden address; match on `code`, not on the class. */
export class SsrfForbiddenError extends Error {
  readonly code = 'SSRF_FORBIDDEN'
  readonly hostname: string
  readonly address: string

  constructor(hostname: string, address: string) {
    super(
      hostname === address
        ? `Refusing to connect to forbidden address ${address}`
        : `Refusing to connect to ${hostname}: it resolves to forbidden address ${address}`,
    )
    this.name = 'SsrfForbiddenError'
    this.hostname = hostname
    this.address = address
  }
}

/** True for the guard's refusal, also when undici wrapped it as the `cause` of another error. */
export function isSsrfForbidden(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === 'SSRF_FORBIDDEN') return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}
