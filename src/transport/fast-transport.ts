import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry'
import type { AwsCredentialIdentity, ResponseMetadata, RetryErrorInfo, RetryStrategyV2, RetryToken, SdkError } from '@smithy/types'
import { Pool } from 'undici'
import { EndpointResolver, type ResolvedEndpoint } from './endpoint.js'
import { abortError, networkError } from './network-errors.js'
import { exchange, type ResponseHeaders, type TransportTimeouts } from './exchange.js'
import { SigV4Signer, type SignableRequest } from './sigv4.js'
import { amzTarget, type FastOperation, type OperationInputs, type OperationOutputs } from './operations.js'
import { CONTENT_TYPE, decodeItems, errorCode, responseMetadata, serializeInput, serviceException } from './protocol.js'
import { clockOffsetAfter, type ClockSample } from './clock-skew.js'

export interface FastSendOptions {
  /** Aborts the call, its retries and back-off included, with an `AbortError`. */
  readonly abortSignal?: AbortSignal | undefined
  /** Called with the error of every failed attempt, retried or not (the SDK's attempt middleware sees the same). */
  readonly onAttemptError?: ((err: unknown) => void) | undefined
  /** The input holds no binary (Uint8Array) value: its body is a plain JSON.stringify, without looking for one. */
  readonly jsonOnly?: boolean | undefined
}

/** One call across its attempts. */
interface Call {
  readonly operation: FastOperation
  readonly input: OperationInputs[FastOperation]
  readonly body: string
  readonly signal: AbortSignal | undefined
  readonly invocationId: string
  readonly maxAttempts: number
  readonly skewDisabled: boolean
}

/**
 * The client's per-call settings, resolved once and kept while its providers stay the same ones: the SDK memoizes
 * them (its retry strategy provider hands out one strategy), so awaiting them on every call only costs time.
 */
interface Settings {
  readonly strategyProvider: unknown
  readonly maxAttemptsProvider: unknown
  readonly skewProvider: unknown
  readonly strategy: RetryStrategyV2
  readonly maxAttempts: number
  readonly skewDisabled: boolean
}

type SettingsConfig = DynamoDBClient['config'] & { disableClockSkewCorrection?: () => Promise<boolean> }

/** Connections per origin: the SDK's Node handler allows 50 sockets per host. */
const CONNECTIONS_PER_ORIGIN = 50

interface HandlerConfig { connectionTimeout?: number, requestTimeout?: number, socketTimeout?: number }

/** The timeouts of the client's stock Node handler (they are settled once its config promise resolves). */
async function handlerTimeouts (client: DynamoDBClient): Promise<TransportTimeouts> {
  const handler = client.config.requestHandler as unknown as { configProvider?: Promise<HandlerConfig> }
  const config = await handler.configProvider ?? {}
  const requestTimeoutMs = config.requestTimeout ?? 0
  return {
    connectionTimeoutMs: config.connectionTimeout ?? 0,
    requestTimeoutMs,
    bodyTimeoutMs: config.socketTimeout ?? requestTimeoutMs
  }
}

function isTokenStrategy (strategy: unknown): strategy is RetryStrategyV2 {
  const s = strategy as Partial<RetryStrategyV2> | undefined
  return typeof s?.acquireInitialRetryToken === 'function' && typeof s.refreshRetryTokenForRetry === 'function' &&
    typeof s.recordSuccess === 'function'
}

/** Classifies an attempt's error as the SDK's retry middleware does, with its exported classifiers. */
function retryErrorInfo (err: unknown): RetryErrorInfo {
  const error = err as SdkError
  if (isThrottlingError(error)) return { error, errorType: 'THROTTLING' }
  if (isTransientError(error)) return { error, errorType: 'TRANSIENT' }
  return { error, errorType: isServerError(error) ? 'SERVER_ERROR' : 'CLIENT_ERROR' }
}

/** Records attempts and back-off on an error's `$metadata`, as the SDK's retry middleware does. */
function withAttempts (err: unknown, attempts: number, totalRetryDelay: number): unknown {
  if (err !== null && typeof err === 'object') {
    const e = err as { $metadata?: Record<string, unknown> }
    e.$metadata ??= {}
    e.$metadata.attempts = attempts
    e.$metadata.totalRetryDelay = totalRetryDelay
  }
  return err
}

/**
 * Sends DynamoDB's frequent operations without the SDK's per-call middleware: the client's own configuration
 * (credentials provider, endpoint resolver, retry strategy, clock offset, handler timeouts) drives an undici Pool,
 * requests signed by SigV4Signer (what the SDK's SignatureV4 signs, synchronously), outputs and errors in the SDK's shapes.
 */
export class FastTransport {
  readonly #client: DynamoDBClient
  readonly #endpoints: EndpointResolver
  /** Signers per identity (a refreshed identity gets its own) and signing scope; each caches its signing keys. */
  readonly #signers = new WeakMap<AwsCredentialIdentity, Map<string, SigV4Signer>>()
  /** The signer of the last call, for the next one with the same identity and endpoint. */
  #lastSigner: { identity: AwsCredentialIdentity, endpoint: ResolvedEndpoint, signer: SigV4Signer } | undefined
  readonly #pools = new Map<string, Pool>()
  readonly #timeouts: Promise<TransportTimeouts>
  #settledTimeouts: TransportTimeouts | undefined
  #settings: Settings | undefined
  readonly #connections: number
  #closed = false

  /** `timeouts` and `connections` (per origin) default to the client's request handler's. */
  constructor (client: DynamoDBClient, timeouts?: TransportTimeouts, connections = CONNECTIONS_PER_ORIGIN) {
    this.#client = client
    this.#connections = connections
    this.#endpoints = new EndpointResolver(client.config)
    this.#timeouts = timeouts === undefined ? handlerTimeouts(client) : Promise.resolve(timeouts)
    this.#timeouts.then((settled) => { this.#settledTimeouts = settled }, () => {})
  }

  /** True when the client's retry strategy offers the token API this transport drives (legacy ones do not). */
  static async supportsRetryStrategy (client: DynamoDBClient): Promise<boolean> {
    return isTokenStrategy(await client.config.retryStrategy())
  }

  async send<Op extends FastOperation> (
    operation: Op,
    input: OperationInputs[Op],
    options: FastSendOptions = {}
  ): Promise<OperationOutputs[Op]> {
    const signal = options.abortSignal
    if (isAborted(signal)) throw abortError()
    const settings = this.#currentSettings() ?? await this.#settle()
    const { strategy } = settings
    let token: RetryToken = await strategy.acquireInitialRetryToken('')
    const call: Call = {
      operation,
      input,
      body: options.jsonOnly === true ? JSON.stringify(input) : serializeInput(input),
      signal,
      invocationId: randomUUID(),
      maxAttempts: settings.maxAttempts,
      skewDisabled: settings.skewDisabled
    }
    let attempts = 0
    let totalRetryDelay = 0
    for (;;) {
      try {
        const output = await this.#attempt(call, attempts + 1)
        strategy.recordSuccess(token)
        Object.assign(output.$metadata, { attempts: attempts + 1, totalRetryDelay })
        return output as unknown as OperationOutputs[Op]
      } catch (err) {
        options.onAttemptError?.(err)
        try {
          if (isAborted(signal)) throw err
          // The SDK's strategies may wait inside (its standard one does its back-off there): abortable, as the SDK's.
          token = await raceAbort(strategy.refreshRetryTokenForRetry(token, retryErrorInfo(err)), signal)
        } catch (refusal) {
          if (isAborted(signal) && refusal !== err && (refusal as Error).name === 'AbortError') throw refusal
          throw withAttempts(err, attempts + 1, totalRetryDelay)
        }
        attempts = token.getRetryCount()
        const wait = token.getRetryDelay()
        totalRetryDelay += ((token as { $retryLog?: { acquisitionDelay?: number } }).$retryLog?.acquisitionDelay ?? 0) + wait
        if (wait > 0) await this.#backOff(wait, signal)
      }
    }
  }

  /** The settings resolved earlier, while the client's providers are still the ones they came from. */
  #currentSettings (): Settings | undefined {
    const settings = this.#settings
    const config = this.#client.config as SettingsConfig
    if (settings === undefined || settings.strategyProvider !== config.retryStrategy ||
      settings.maxAttemptsProvider !== config.maxAttempts || settings.skewProvider !== config.disableClockSkewCorrection) {
      return undefined
    }
    return settings
  }

  async #settle (): Promise<Settings> {
    const config = this.#client.config as SettingsConfig
    const strategyProvider = config.retryStrategy
    const maxAttemptsProvider = config.maxAttempts
    const skewProvider = config.disableClockSkewCorrection
    const strategy = await strategyProvider()
    if (!isTokenStrategy(strategy)) throw new TypeError('the fast transport needs a retry strategy with the token API')
    const settings: Settings = {
      strategyProvider,
      maxAttemptsProvider,
      skewProvider,
      strategy,
      maxAttempts: await maxAttemptsProvider(),
      skewDisabled: (await skewProvider?.()) === true
    }
    this.#settings = settings
    return settings
  }

  /** Closes the connections; calls in flight finish first. */
  async close (): Promise<void> {
    this.#closed = true
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map(async (pool) => await pool.close()))
  }

  async #backOff (ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await delay(ms, undefined, { signal })
    } catch {
      throw abortError()
    }
  }

  async #attempt (call: Call, attempt: number) {
    const { operation, input, body, signal } = call
    const identity = await this.#client.config.credentials()
    // Synchronous once this operation and table have been resolved for this identity.
    const endpoint = this.#endpoints.cached(operation, input, identity) ?? await this.#endpoints.resolve(operation, input, identity)
    const disabled = call.skewDisabled
    const sample: ClockSample = { sentAt: Date.now(), offset: disabled ? 0 : this.#offset(), disabled }
    const request = this.#request(call, attempt, endpoint)
    const headers = this.#signer(identity, endpoint).sign(request, sample.sentAt + sample.offset)
    const pool = this.#pools.get(endpoint.origin) ?? await this.#pool(endpoint.origin)
    const timeouts = this.#settledTimeouts ?? await this.#timeouts
    const response = await exchange(pool, { path: request.path, headers, body }, timeouts, signal)
    return this.#outcome(response.statusCode, response.headers, response.text, sample)
  }

  #outcome (status: number, headers: ResponseHeaders, text: string, sample: ClockSample) {
    const $metadata = responseMetadata(status, headers)
    const json = parseBody(text)
    const skew = this.#observeClock(headers, sample)
    if (status >= 200 && status < 300) {
      // Binary attributes come base64 in the JSON; a body without a "B member has none to decode.
      const output = text.includes('"B') ? decodeItems(json) : json
      output.$metadata = $metadata
      return output as Record<string, unknown> & { $metadata: ResponseMetadata }
    }
    const err = serviceException(status, errorCode(headers, json), json, $metadata)
    if (skew) Object.assign($metadata, { clockSkewCorrected: true })
    throw err
  }

  #offset (): number {
    const offset: unknown = this.#client.config.systemClockOffset
    return typeof offset === 'number' && Number.isFinite(offset) ? offset : 0
  }

  /** Updates the client's shared clock offset from the response's `Date`; true when a large skew was corrected. */
  #observeClock (headers: ResponseHeaders, sample: ClockSample): boolean {
    if (sample.disabled) return false
    const date = headers.date
    const age = headers.age
    const next = clockOffsetAfter(Array.isArray(date) ? date[0] : date, age !== undefined, this.#offset(), sample.sentAt)
    const config = this.#client.config as { systemClockOffset: number }
    const corrected = Math.abs(next) >= 240_000 && next !== sample.offset
    config.systemClockOffset = next
    return corrected
  }

  #request ({ operation, body, invocationId, maxAttempts }: Call, attempt: number, endpoint: ResolvedEndpoint): SignableRequest {
    const url = endpoint.url
    return {
      method: 'POST',
      path: url.pathname === '' ? '/' : url.pathname,
      headers: {
        ...endpoint.headers,
        host: url.host,
        'content-type': CONTENT_TYPE,
        'x-amz-target': amzTarget(operation),
        'content-length': String(Buffer.byteLength(body)),
        // The SDK's retry middleware sends these too: one id per call, the attempt number per attempt.
        'amz-sdk-invocation-id': invocationId,
        'amz-sdk-request': `attempt=${attempt}; max=${maxAttempts}`
      },
      body
    }
  }

  /** A signer bound to the identity the endpoint was resolved for (the provider may hand out another meanwhile). */
  #signer (identity: AwsCredentialIdentity, endpoint: ResolvedEndpoint): SigV4Signer {
    const last = this.#lastSigner
    if (last?.identity === identity && last.endpoint === endpoint) return last.signer
    const signer = this.#signerFor(identity, endpoint)
    this.#lastSigner = { identity, endpoint, signer }
    return signer
  }

  #signerFor (identity: AwsCredentialIdentity, endpoint: ResolvedEndpoint): SigV4Signer {
    let signers = this.#signers.get(identity)
    if (signers === undefined) {
      signers = new Map()
      this.#signers.set(identity, signers)
    }
    const key = `${endpoint.signingRegion}\u0000${endpoint.signingName}`
    let signer = signers.get(key)
    if (signer === undefined) {
      const config = this.#client.config as unknown as { signingEscapePath?: boolean }
      signer = new SigV4Signer({
        credentials: identity,
        region: endpoint.signingRegion,
        service: endpoint.signingName,
        uriEscapePath: config.signingEscapePath ?? true
      })
      signers.set(key, signer)
    }
    return signer
  }

  /** The pool of an origin the caller found none for (made once the handler's timeouts are settled). */
  async #pool (origin: string): Promise<Pool> {
    if (this.#closed) throw closedError()
    const timeouts = await this.#timeouts
    // close() may have come during the wait: no pool is made after it.
    if (this.#closed) throw closedError()
    let pool = this.#pools.get(origin)
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.#connections,
        connect: { timeout: timeouts.connectionTimeoutMs },
        headersTimeout: timeouts.requestTimeoutMs,
        bodyTimeout: timeouts.bodyTimeoutMs
      })
      this.#pools.set(origin, pool)
    }
    return pool
  }

}

function closedError (): Error {
  return networkError(Object.assign(new Error('the fast transport is closed'), { code: 'UND_ERR_CLOSED' }), false)
}

/** `promise`, or an AbortError as soon as `signal` fires. */
async function raceAbort<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await promise
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(abortError())
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Read at each use: an await in between may have seen it fire. */
function isAborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

/** A response body as JSON; `{}` when it is empty or not JSON (a proxy's 5xx page). */
function parseBody (text: string): Record<string, unknown> {
  if (text === '') return {}
  try {
    const parsed: unknown = JSON.parse(text)
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as Record<string, unknown> : {}
  } catch {
    return {}
  }
}
