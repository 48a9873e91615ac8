import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb'
import { DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_MAX_ATTEMPTS } from './options.js'
import { MissingRegionError } from './errors.js'
import { ownClient } from './transport/sender.js'

/** The HTTP settings of every client the library builds. */
function requestHandler (requestTimeoutMs: number): NonNullable<DynamoDBClientConfig['requestHandler']> {
  return {
    requestTimeout: requestTimeoutMs,
    connectionTimeout: DEFAULT_CONNECTION_TIMEOUT_MS,
    // Without it the SDK only warns when requestTimeout passes, and the call hangs on.
    throwOnRequestTimeout: true,
    // requestTimeout ends when the response headers arrive: this cuts a body that stalls after them.
    socketTimeout: requestTimeoutMs
  }
}

/**
 * The plugin's client when none is given: region, endpoint and credentials from the environment as the AWS SDK
 * documents, and for a loopback endpoint (dynalite, `dynamo-session local`) a region and dummy credentials when none
 * are configured, as the CLI gives them (see buildClient); a whole-request timeout so a stalled DynamoDB cannot hang
 * requests; DEFAULT_MAX_ATTEMPTS attempts unless AWS_MAX_ATTEMPTS says otherwise.
 */
export function defaultClient (requestTimeoutMs: number, env: NodeJS.ProcessEnv = process.env): DynamoDBClient {
  return buildClient({ requestTimeoutMs, env }).client
}

/**
 * DynamoDB's clock minus ours, in milliseconds, as the SDK last measured it: after each response carrying a `Date`
 * header (1-second resolution) it stores the difference as `config.systemClockOffset` to correct its signatures.
 * 0 before the first response, and with `disableClockSkewCorrection`.
 */
export function clockOffsetMs (client: DynamoDBClient): number {
  const offset: unknown = client.config.systemClockOffset
  return typeof offset === 'number' && Number.isFinite(offset) ? offset : 0
}

/** Region used for loopback endpoints (dynalite and similar) when none is configured: they accept any. */
export const LOCAL_REGION = 'us-east-1'
/** Credentials sent to loopback endpoints when none are in the environment: local servers do not check them. */
export const LOCAL_ACCESS_KEY_ID = 'local'

export interface ClientSettings {
  /** Endpoint URL; defaults to AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL, then the SDK's (AWS itself). */
  endpoint?: string | undefined
  /** Region; defaults to AWS_REGION, then `LOCAL_REGION` for a loopback endpoint, then the SDK's config files. */
  region?: string | undefined
  /** Whole-request timeout per attempt, in milliseconds. */
  requestTimeoutMs: number
  /** Where AWS_* variables are read from. */
  env: NodeJS.ProcessEnv
}

export interface ClientTarget {
  readonly client: DynamoDBClient
  /** The endpoint URL, or `undefined` for AWS's regional endpoint. */
  readonly endpoint: string | undefined
  /** True when the endpoint is on this machine. */
  readonly local: boolean
}

/** True for http(s) URLs whose host is a loopback address. */
export function isLoopbackUrl (url: string): boolean {
  let host: string
  try {
    host = new URL(url).hostname
  } catch {
    return false
  }
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)
}

/** The endpoint from the environment, as the SDK reads it: AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL. */
export function environmentEndpoint (env: NodeJS.ProcessEnv): string | undefined {
  return set(env.AWS_ENDPOINT_URL_DYNAMODB) ?? set(env.AWS_ENDPOINT_URL)
}

/**
 * True when a client sends to this machine: its configured endpoint, or (none configured) the endpoint from the
 * environment, which the SDK then uses, has a loopback host.
 */
export async function sendsToLoopback (client: DynamoDBClient, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const configured = client.config.endpoint
  if (configured === undefined) {
    const fromEnv = environmentEndpoint(env)
    return fromEnv !== undefined && isLoopbackUrl(fromEnv)
  }
  const { protocol, hostname, port } = await configured()
  return isLoopbackUrl(`${protocol}//${hostname}${port === undefined ? '' : `:${port}`}`)
}

/** An environment variable's value, with empty counted as unset. */
function set (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

function positiveInt (text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined
  const n = Number(text)
  return n > 0 ? n : undefined
}

/**
 * A DynamoDB client for the plugin (no `client` option), the CLI and the demo, configured from explicit settings
 * and the given environment (not only `process.env`, so commands can run in-process with their own). Loopback
 * endpoints get a region and dummy credentials when none are configured; anything else uses the SDK's usual resolution (profiles, roles).
 */
export function buildClient (settings: ClientSettings): ClientTarget {
  const env = settings.env
  const endpoint = settings.endpoint ?? environmentEndpoint(env)
  const local = endpoint !== undefined && isLoopbackUrl(endpoint)
  const region = settings.region ?? set(env.AWS_REGION) ?? (local ? LOCAL_REGION : undefined)
  const keyId = set(env.AWS_ACCESS_KEY_ID)
  const secretKey = set(env.AWS_SECRET_ACCESS_KEY)
  const config: DynamoDBClientConfig = {
    requestHandler: requestHandler(settings.requestTimeoutMs),
    cacheMiddleware: true,
    maxAttempts: positiveInt(env.AWS_MAX_ATTEMPTS) ?? DEFAULT_MAX_ATTEMPTS,
    ...(set(env.AWS_RETRY_MODE) !== undefined ? { retryMode: env.AWS_RETRY_MODE } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(region !== undefined ? { region } : {})
  }
  if (keyId !== undefined && secretKey !== undefined) {
    const sessionToken = set(env.AWS_SESSION_TOKEN)
    config.credentials = { accessKeyId: keyId, secretAccessKey: secretKey, ...(sessionToken !== undefined ? { sessionToken } : {}) }
  } else if (local && set(env.AWS_PROFILE) === undefined) {
    // A named profile is the user's choice (a tunnel to AWS, a local server whose account follows the key): kept.
    // A fresh object: the SDK records where credentials came from on the object itself.
    config.credentials = { accessKeyId: LOCAL_ACCESS_KEY_ID, secretAccessKey: LOCAL_ACCESS_KEY_ID }
  }
  return { client: ownClient(new DynamoDBClient(config)), endpoint, local }
}

/** Fails with a coded error when the client has no region (the SDK would only fail at the first call). */
export async function assertRegion (client: DynamoDBClient): Promise<void> {
  if (await resolvedRegion(client) === undefined) throw new MissingRegionError()
}

/** The configured region, or `undefined` when the SDK cannot find one. */
export async function resolvedRegion (client: DynamoDBClient): Promise<string | undefined> {
  try {
    const region = await client.config.region()
    return typeof region === 'string' && region.length > 0 ? region : undefined
  } catch {
    return undefined
  }
}
