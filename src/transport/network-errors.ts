/**
 * undici's errors renamed to what the SDK's Node handler throws, so the SDK's classifiers (`isTransientError` tests
 * the name `TimeoutError` and codes such as `ECONNRESET`) and the rest of the code see one shape on either transport.
 */

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])
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
  if (TIMEOUT_CODES.has(code)) {
    const timeout = new Error(err.message, { cause: err })
    timeout.name = 'TimeoutError'
    return timeout
  }
  if (RESET_CODES.has(code)) {
    const reset: CodedError = new Error(err.message, { cause: err })
    reset.code = 'ECONNRESET'
    return reset
  }
  return err
}
