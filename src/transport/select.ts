import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { TransportMode } from '../options.js'
import type { Transport } from '../instrumentation.js'
import { FastTransport } from './fast-transport.js'

export interface TransportChoice {
  readonly transport: Transport
  /** Why, in a few words, for the startup log line. */
  readonly reason: string
}

let stockStack: string | undefined

/** The middleware of a DynamoDBClient as the SDK builds it (the same whatever its configuration). */
function stockMiddleware (): string {
  if (stockStack === undefined) {
    const reference = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'stock', secretAccessKey: 'stock' } })
    stockStack = JSON.stringify(reference.middlewareStack.identify())
    reference.destroy()
  }
  return stockStack
}

/** Agent options the SDK's Node handler sets itself; any other (a CA, a certificate, a proxy) is the application's. */
const STOCK_AGENT_OPTIONS = new Set(['keepAlive', 'maxSockets', 'noDelay', 'path'])

interface HandlerConfig { httpAgent?: { options?: object }, httpsAgent?: { options?: object } }

/** Why the client's request handler is not the SDK's stock Node handler with its own agents, or undefined. */
async function handlerDifference (client: DynamoDBClient): Promise<string | undefined> {
  const handler = client.config.requestHandler as unknown as { constructor?: { name?: string }, configProvider?: Promise<HandlerConfig> }
  if (handler?.constructor?.name !== 'NodeHttpHandler' || handler.configProvider === undefined) return 'a custom request handler'
  const config = await handler.configProvider
  for (const agent of [config.httpAgent, config.httpsAgent]) {
    if (Object.keys(agent?.options ?? {}).some((key) => !STOCK_AGENT_OPTIONS.has(key))) return 'a request handler with its own agent'
  }
  return undefined
}

/** Instrumentation (OpenTelemetry's included) wraps `send` with shimmer, which marks the wrapper. */
function sendWrapped (client: DynamoDBClient): boolean {
  const send = client.send as { __wrapped?: unknown, __original?: unknown }
  return Object.hasOwn(client, 'send') || send.__wrapped !== undefined || typeof send.__original === 'function' ||
    send !== (DynamoDBClient.prototype as { send: unknown }).send
}

/** Why `auto` cannot use the fast transport for this client, or undefined when it can. */
export async function fastBlocker (client: DynamoDBClient): Promise<string | undefined> {
  if (!await FastTransport.supportsRetryStrategy(client)) return 'a legacy retry strategy'
  if (JSON.stringify(client.middlewareStack.identify()) !== stockMiddleware()) return 'middleware added to the client (X-Ray, plugins)'
  if (sendWrapped(client)) return 'a wrapped send (instrumentation)'
  const handler = await handlerDifference(client)
  if (handler !== undefined) return handler
  const discovery = client.config as unknown as { endpointDiscoveryEnabled?: () => Promise<boolean | undefined> }
  if (await discovery.endpointDiscoveryEnabled?.() === true) return 'endpoint discovery'
  return undefined
}

/**
 * `sdk` always sends through `client.send()`; `fast` always uses the fast transport (a client whose retry strategy
 * lacks the token API cannot); `auto` uses it for a stock client only, so nothing an application added to the
 * client (middleware, an instrumented send, a proxy or TLS agent) is silently bypassed.
 */
export async function chooseTransport (client: DynamoDBClient, mode: TransportMode): Promise<TransportChoice> {
  if (mode === 'sdk') return { transport: 'sdk', reason: "transport: 'sdk'" }
  if (mode === 'fast') {
    const supported = await FastTransport.supportsRetryStrategy(client)
    if (!supported) return { transport: 'sdk', reason: "transport: 'fast' but a legacy retry strategy" }
    return { transport: 'fast', reason: "transport: 'fast'" }
  }
  const blocker = await fastBlocker(client)
  return blocker === undefined ? { transport: 'fast', reason: 'a stock client' } : { transport: 'sdk', reason: blocker }
}
