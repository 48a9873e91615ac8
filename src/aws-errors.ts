/** Recognising AWS SDK errors by name, and describing them without anything a caller passed in. */

const THROTTLING_ERRORS = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'])

export function errorName (err: unknown): string {
  return (err as { name?: string } | null)?.name ?? ''
}

/** A conditional write whose condition did not hold (for us: the session was renewed, destroyed or already gone). */
export function isConditionFailure (err: unknown): boolean {
  return errorName(err) === 'ConditionalCheckFailedException'
}

export function isThrottle (err: unknown): boolean {
  return THROTTLING_ERRORS.has(errorName(err))
}

/** The fields of an error worth logging: name, code, message (AWS messages never carry item keys or values). */
export function errorFields (err: unknown): { name: string, code?: string, message: string } {
  const e = err as { name?: string, code?: string, message?: string } | null
  return { name: e?.name || 'Error', ...(e?.code === undefined ? {} : { code: e.code }), message: e?.message ?? String(err) }
}

/** Wraps a cause in one of our coded errors, keeping it as `cause`. */
export function withCause<E extends Error> (error: E, cause: unknown): E {
  error.cause = cause
  return error
}
