/**
 * undici's errors renamed to what the SDK's Node handler throws, so the SDK's classifiers (`isTransientError` tests
 * the name `TimeoutError` and codes such as `ECONNRESET`) and the rest of the code see one shape on either transport.
 */

/** undici's timeouts, with the code the SDK's handler gives each (none for a connect or a body timeout). */
const TIMEOUT_CODES = new Map<string, string | undefined>([
  ['UND_ERR_CONNECT_TIMEOUT', undefined],
  ['UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT'],
  ['UND_ERR_BODY_TIMEOUT', undefined]
])
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'])

interface CodedError extends Error { code?: string }

/** The error the SDK throws when a call's AbortSignal fires. */
export function abortError (): Error {
  const err = new Error('Request aborted')
  err.name = 'AbortError'
  return err
}

/** A network-level failure of one attempt, named and coded as the SDK's handler would. */
export function networkError (err: unknown, aborted: boolean): Error {
  if (aborted) return abortError()
  if (!(err instanceof Error)) return new Error(String(err))
  const code = (err as CodedError).code ?? ''
  if (TIMEOUT_CODES.has(code)) return timeoutError(err, TIMEOUT_CODES.get(code))
  // The SDK's handler names a reset connection a TimeoutError too, with the socket's code.
  if (RESET_CODES.has(code)) return timeoutError(err, 'ECONNRESET')
  return err
}

/** The SDK handler's TimeoutError (`code` ETIMEDOUT for its request timeout, none for a socket or connect timeout). */
export function timeoutError (cause: Error | string, code?: string): Error {
  const err: CodedError = typeof cause === 'string' ? new Error(cause) : new Error(cause.message, { cause })
  err.name = 'TimeoutError'
  if (code !== undefined) err.code = code
  return err
}
