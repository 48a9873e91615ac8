import { Writable } from 'node:stream'
import type { Registry } from 'prom-client'
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb'
import { makeClient } from './dynamo.js'

interface Teardown { teardown (fn: () => unknown): void }

/**
 * Records every unhandled rejection and uncaught exception from now until teardown. Listening also keeps one from
 * ending the process before the test can report it.
 */
export function watchUnexpected (t: Teardown): { readonly events: string[] } {
  const events: string[] = []
  const onRejection = (reason: unknown): void => { events.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`) }
  const onException = (err: unknown): void => { events.push(`uncaughtException: ${String((err as Error)?.stack ?? err)}`) }
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  t.teardown(() => {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
  })
  return { events }
}

type RetryStrategy = NonNullable<DynamoDBClientConfig['retryStrategy']>

/**
 * Retries like the SDK's standard mode (anything but a client error, up to `maxAttempts` attempts) without its
 * back-off, which for throttling waits up to seconds of real time per retry: the tests are about what the plugin
 * does with the outcome, not about the SDK's delays.
 */
export function quickRetries (maxAttempts: number): RetryStrategy {
  const token = (count: number): { getRetryCount: () => number, getRetryDelay: () => number } => ({ getRetryCount: () => count, getRetryDelay: () => 5 })
  return {
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (previous: ReturnType<typeof token>, info: { errorType: string }) => {
      if (previous.getRetryCount() + 1 >= maxAttempts || info.errorType === 'CLIENT_ERROR') throw new Error('No retry token available')
      return token(previous.getRetryCount() + 1)
    },
    recordSuccess: () => {}
  } as unknown as RetryStrategy
}

/**
 * The request timeout of impatientClient: what a stalled call costs a test per attempt. Healthy calls go through the
 * same client, so it stays far above their latency on a loaded 2-core machine or a slower endpoint (moto answers in
 * tens of milliseconds, and 250 ms was once too short for it there).
 */
export const IMPATIENT_TIMEOUT_MS = 1000

/** A client with short timeouts and few attempts, so a fault costs a test about a second per attempt. */
export function impatientClient (t: Teardown, endpoint: string, maxAttempts = 2, timeoutMs = IMPATIENT_TIMEOUT_MS): DynamoDBClient {
  return makeClient(t, endpoint, {
    maxAttempts,
    retryStrategy: quickRetries(maxAttempts),
    requestHandler: { requestTimeout: timeoutMs, connectionTimeout: timeoutMs, socketTimeout: timeoutMs, throwOnRequestTimeout: true }
  })
}

/** The value of one series of a metric (for a histogram: its `_count`), or 0 when the series does not exist. */
export async function metricValue (registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) throw new Error(`${name} is not registered`)
  const { values } = await metric.get()
  const wanted = values.filter((v) => [undefined, name, `${name}_count`].includes((v as { metricName?: string }).metricName) &&
    Object.entries(labels).every(([k, l]) => v.labels[k] === l))
  return wanted.reduce((sum, v) => sum + v.value, 0)
}

/** Resolves once `count` callers have arrived. */
export function barrier (count: number): () => Promise<void> {
  let arrived = 0
  let open!: () => void
  const opened = new Promise<void>((resolve) => { open = resolve })
  return async () => {
    if (++arrived >= count) open()
    await opened
  }
}

/** A gate a route waits at; `reached` resolves when the route gets there, `release()` lets it go on. */
export function gate (): { reached: Promise<void>, wait: () => Promise<void>, release: () => void } {
  let arrive!: () => void
  let release!: () => void
  const reached = new Promise<void>((resolve) => { arrive = resolve })
  const opened = new Promise<void>((resolve) => { release = resolve })
  return { reached, wait: async () => { arrive(); await opened }, release }
}

/** A writable stream that keeps what a logger writes, for a logger's `stream` option. */
export function logCapture (): { readonly stream: Writable, text (): string } {
  const chunks: string[] = []
  const stream = new Writable({
    write (chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString())
      callback()
    }
  })
  return { stream, text: () => chunks.join('') }
}

/**
 * Waits until `check()` holds, polling; fails after `timeoutMs`. The bound is generous on purpose: the wait ends as
 * soon as the condition holds, so only a failing test (or a very loaded machine) waits that long.
 */
export async function until (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
