import type { Dispatcher } from 'undici'
import { networkError, timeoutError } from './network-errors.js'
import { responseMetadata } from './protocol.js'

/** The HTTP limits of one attempt, as the client's request handler has them. */
export interface TransportTimeouts {
  /** Time to open a connection; 0 for none. */
  readonly connectionTimeoutMs: number
  /** Time until the response headers; 0 for none. */
  readonly requestTimeoutMs: number
  /** Longest pause in the response body; 0 for none. */
  readonly bodyTimeoutMs: number
}

/** One signed request. */
export interface Outgoing {
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export type ResponseHeaders = Record<string, string | string[] | undefined>

/** A whole response. */
export interface Incoming {
  readonly statusCode: number
  readonly headers: ResponseHeaders
  readonly text: string
}

/** undici's raw header list (name, value, name, value, …) as lower-case names, repeated names as arrays. */
function parseRawHeaders (raw: ReadonlyArray<Buffer | string>): ResponseHeaders {
  const headers: ResponseHeaders = {}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = String(raw[i]).toLowerCase()
    const value = String(raw[i + 1])
    const seen = headers[name]
    if (seen === undefined) headers[name] = value
    else if (Array.isArray(seen)) seen.push(value)
    else headers[name] = [seen, value]
  }
  return headers
}

/**
 * One attempt's request and response through undici's handler API (no response stream, no per-attempt
 * AbortController), on exact timers as the SDK's Node handler has them: `requestTimeoutMs` from the attempt's start
 * to the response headers, a wait for a connection included (a TimeoutError coded ETIMEDOUT), then `bodyTimeoutMs`
 * of silence in the body (a TimeoutError). The call's AbortSignal ends it with an AbortError. A request still waiting
 * for a connection when it ends is abandoned as soon as it gets one.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #timeouts: TransportTimeouts
  readonly #signal: AbortSignal | undefined
  readonly #resolve: (incoming: Incoming) => void
  readonly #reject: (err: unknown) => void
  readonly #onAbort = (): void => { this.#fail(networkError(this.#signal?.reason, true)) }
  readonly #chunks: Buffer[] = []
  #timer: NodeJS.Timeout | undefined
  #abort: ((reason?: Error) => void) | undefined
  #status = 0
  #headers: ResponseHeaders | undefined
  #done = false

  constructor (
    timeouts: TransportTimeouts,
    signal: AbortSignal | undefined,
    resolve: (incoming: Incoming) => void,
    reject: (err: unknown) => void
  ) {
    this.#timeouts = timeouts
    this.#signal = signal
    this.#resolve = resolve
    this.#reject = reject
    signal?.addEventListener('abort', this.#onAbort, { once: true })
    const ms = timeouts.requestTimeoutMs
    if (ms > 0) this.#timer = setTimeout(() => { this.#fail(timeoutError(`no response within ${ms} ms`, 'ETIMEDOUT')) }, ms)
  }

  onConnect (abort: (reason?: Error) => void): void {
    this.#abort = abort
    if (this.#done) abort(new Error('the attempt has ended'))
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[]): boolean {
    if (this.#done) return false
    // An informational response (100 Continue, 103 Early Hints): the final one is still to come, on the same timer.
    if (statusCode < 200) return true
    this.#status = statusCode
    this.#headers = parseRawHeaders(rawHeaders)
    clearTimeout(this.#timer)
    const ms = this.#timeouts.bodyTimeoutMs
    if (ms > 0) this.#timer = setTimeout(() => { this.#fail(timeoutError(`the response body was silent for ${ms} ms`)) }, ms)
    return true
  }

  onData (chunk: Buffer): boolean {
    if (this.#done) return false
    this.#timer?.refresh()
    this.#chunks.push(chunk)
    return true
  }

  onComplete (): void {
    if (this.#end()) {
      const text = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer).toString('utf8') : Buffer.concat(this.#chunks).toString('utf8')
      this.#resolve({ statusCode: this.#status, headers: this.#headers ?? {}, text })
    }
  }

  onError (err: Error): void {
    this.#fail(networkError(err, this.#signal?.aborted === true), false)
  }

  /**
   * Ends the attempt with `err` (and its request, unless undici ended it); once the headers came, the SDK's error
   * carries their metadata (status, request id).
   */
  #fail (err: Error, abortRequest = true): void {
    if (!this.#end()) return
    if (abortRequest) this.#abort?.(err)
    if (this.#headers !== undefined) Object.assign(err, { $metadata: responseMetadata(this.#status, this.#headers) })
    this.#reject(err)
  }

  /** True the first time: clears the timer and the signal's listener. */
  #end (): boolean {
    if (this.#done) return false
    this.#done = true
    clearTimeout(this.#timer)
    this.#signal?.removeEventListener('abort', this.#onAbort)
    return true
  }
}

/** Sends one POST and reads its whole response, within the attempt's limits. */
export async function exchange (
  dispatcher: Dispatcher,
  request: Outgoing,
  timeouts: TransportTimeouts,
  signal: AbortSignal | undefined
): Promise<Incoming> {
  if (signal?.aborted === true) throw networkError(signal.reason, true)
  return await new Promise<Incoming>((resolve, reject) => {
    const handler = new Exchange(timeouts, signal, resolve, reject)
    dispatcher.dispatch({ method: 'POST', path: request.path, headers: request.headers, body: request.body }, handler)
  })
}
