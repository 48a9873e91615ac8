/** Recognising AWS SDK errors by name, and describing errors (ours, the SDK's, the network's) as log fields or one line. */

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

export interface ErrorFields { name: string, code?: string, message: string, cause?: ErrorFields }

/**
 * The fields of an error worth logging: name, code, message (AWS messages never carry item keys or values), and
 * those of its cause, one level down: a coded error's message names DynamoDB's error only, its cause says what it said.
 */
export function errorFields (err: unknown): ErrorFields {
  const e = err as { name?: string, code?: string, message?: string, cause?: unknown } | null
  const cause = e?.cause instanceof Error ? { cause: ownFields(e.cause) } : {}
  return { ...ownFields(err), ...cause }
}

function ownFields (err: unknown): ErrorFields {
  const e = err as { name?: string, code?: string, message?: string } | null
  return { name: e?.name || 'Error', ...(typeof e?.code === 'string' ? { code: e.code } : {}), message: e?.message ?? String(err) }
}

/**
 * A short label of an error, fit for a client to see (no message: AWS messages can carry account ids and ARNs): its
 * name, or for a plain `Error` (network failures: a refused connection) its code, e.g. `ECONNREFUSED`.
 */
export function errorLabel (err: unknown): string {
  const inner = innermost(err)
  const name = errorName(inner)
  if (name !== '' && name !== 'Error') return name
  const code = (inner as { code?: unknown } | null)?.code
  if (typeof code === 'string' && code !== '') return code
  return name || 'unknown error'
}

/** The first of an AggregateError without a message of its own (Node's connection attempts), else the error itself. */
function innermost (err: unknown): unknown {
  return err instanceof AggregateError && err.message === '' && err.errors[0] instanceof Error ? err.errors[0] : err
}

/** `name: message` of an error, on one line: its code instead of its name when it has one (network errors). */
export function describeError (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const inner = innermost(err) as Error
  const code = (inner as { code?: unknown }).code
  const label = typeof code === 'string' ? code : inner.name
  const message = inner.message.split('\n')[0]?.trim() ?? ''
  if (message === '') return label
  return message.includes(label) ? message : `${label}: ${message}`
}
