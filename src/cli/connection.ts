import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { buildClient, resolvedRegion } from '../client.js'
import { describeError } from '../aws-errors.js'
import { CommandFailure } from './command.js'
import { UsageError, type FlagSpecs, type Flags } from './flags.js'

/** Per-attempt timeout of table setup calls (control-plane calls are slower than item reads). */
export const CLI_REQUEST_TIMEOUT_MS = 10_000

export const CONNECTION_FLAGS: FlagSpecs = {
  endpoint: { type: 'string', arg: 'url', description: 'DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, else AWS)' },
  region: { type: 'string', arg: 'region', description: 'AWS region (default: AWS_REGION; us-east-1 for a loopback endpoint)' }
}

export interface Connection {
  readonly client: DynamoDBClient
  /** The endpoint from --endpoint or the environment; undefined for AWS. */
  readonly endpoint: string | undefined
  /** Where the client sends, for messages: the endpoint, or `AWS (region)`. */
  readonly where: string
}

/** Checks --endpoint and --region without sending anything. */
function connectionFlags (flags: Flags): { endpoint: string | undefined, region: string | undefined } {
  const endpoint = flags.text('endpoint')
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(endpoint)) {
    throw new UsageError(`--endpoint must be an http:// or https:// URL, got '${endpoint}'`)
  }
  const region = flags.text('region')
  if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) {
    throw new UsageError(`--region must be a region name such as eu-west-1, got '${region}'`)
  }
  return { endpoint, region }
}

/** A client from --endpoint/--region and the environment; fails when no region can be found. */
export async function connect (flags: Flags, env: NodeJS.ProcessEnv, requestTimeoutMs = CLI_REQUEST_TIMEOUT_MS): Promise<Connection> {
  const { endpoint, region } = connectionFlags(flags)
  const target = buildClient({ endpoint, region, requestTimeoutMs, env })
  const resolved = await resolvedRegion(target.client)
  if (resolved === undefined) {
    target.client.destroy()
    throw new CommandFailure('no AWS region configured: pass --region or set AWS_REGION')
  }
  return { client: target.client, endpoint: target.endpoint, where: target.endpoint ?? `AWS (${resolved})` }
}

/**
 * Runs `use` with a client built from the flags, and destroys the client however `use` ends. When `action` is given
 * (`counting Sessions`), an error of `use` becomes a CommandFailure of the one line every command fails with
 * (failureLine).
 */
export async function withClient<T> (
  flags: Flags, env: NodeJS.ProcessEnv, use: (connection: Connection) => Promise<T>, action?: string
): Promise<T> {
  const connection = await connect(flags, env)
  try {
    return await use(connection)
  } catch (err) {
    if (action === undefined) throw err
    throw new CommandFailure(failureLine(action, connection.where, err), { cause: err })
  } finally {
    connection.client.destroy()
  }
}

/** The failure of every command that talks to DynamoDB: `<action> at <where> failed: <error>`, on one line. */
export function failureLine (action: string, where: string, err: unknown): string {
  return `${action} at ${where} failed: ${err instanceof CommandFailure ? err.message : describeError(err)}`
}
