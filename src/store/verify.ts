import { DescribeTableCommand, type DynamoDBClient, type TableDescription } from '@aws-sdk/client-dynamodb'
import {
  DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_EXPIRY_INDEX_NAME, DEFAULT_ID_ATTRIBUTE, type OnStoreError, type TableShape
} from '../options.js'
import { errorFields, errorName } from '../aws-errors.js'
import { isLoopbackUrl, resolvedRegion } from '../client.js'
import { MissingCredentialsError, StoreUnreachableError, TableMissingError } from '../errors.js'
import { checkKeySchema, indexStateOf } from './table.js'

/** The AWS errors that mean "no usable credentials": none found, unknown key, bad signature, expired token. */
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError', 'UnrecognizedClientException', 'InvalidSignatureException', 'MissingAuthenticationToken',
  'MissingAuthenticationTokenException', 'ExpiredTokenException', 'IncompleteSignatureException'
])

/** Where the plugin's table lives, as the startup check names it in its errors and logs. */
export interface TableTarget {
  readonly tableName: string
  /** The endpoint URL, or DynamoDB's regional endpoint. */
  readonly endpoint: string
  readonly region: string
}

/** The logger the check reports to (Fastify's). */
export interface VerifyLog {
  warn (fields: object, message: string): void
  info (fields: object, message: string): void
}

export interface VerifyTableOptions {
  readonly shape: TableShape
  readonly onStoreError: OnStoreError
  readonly log: VerifyLog
  /** Where AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL are read from. Defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv
}

/** A global secondary index the options configure: the option that names it, and its name. */
export interface ConfiguredIndex {
  readonly option: string
  readonly indexName: string
}

/** Pure: the indexes the table shape configures. Each new index option adds its entry here, and the check covers it. */
export function configuredIndexes (shape: TableShape): ConfiguredIndex[] {
  const indexes: ConfiguredIndex[] = []
  if (shape.expiryIndex !== false) indexes.push({ option: 'expiryIndex', indexName: shape.expiryIndex.indexName })
  if (shape.ownerIndex !== false) indexes.push({ option: 'ownerIndex', indexName: shape.ownerIndex.indexName })
  return indexes
}

/** Pure: the `init` command that creates the table (and adds missing indexes) with these options. */
export function initCommand (shape: TableShape, target: TableTarget, local: boolean): string {
  const parts = ['npx dynamo-session init', `--table ${shape.tableName}`]
  if (shape.idAttribute !== DEFAULT_ID_ATTRIBUTE) parts.push(`--id-attribute ${shape.idAttribute}`)
  if (shape.expiresAttribute !== DEFAULT_EXPIRES_ATTRIBUTE) parts.push(`--expires-attribute ${shape.expiresAttribute}`)
  if (shape.expiryIndex === false) parts.push('--no-expiry-index')
  else if (shape.expiryIndex.indexName !== DEFAULT_EXPIRY_INDEX_NAME) parts.push(`--expiry-index-name ${shape.expiryIndex.indexName}`)
  if (shape.ownerIndex === false) parts.push('--no-owner-index')
  if (local) parts.push(`--endpoint ${target.endpoint}`)
  else parts.push(`--region ${target.region}`)
  return parts.join(' ')
}

/** The endpoint the client sends to: its own, the environment's, or DynamoDB's regional one. */
export async function tableTarget (client: DynamoDBClient, tableName: string, env: NodeJS.ProcessEnv = process.env): Promise<TableTarget> {
  const region = await resolvedRegion(client) ?? 'unknown'
  const configured = await client.config.endpoint?.()
  const fromConfig = configured === undefined ? undefined : endpointUrl(configured)
  const fromEnv = nonEmpty(env.AWS_ENDPOINT_URL_DYNAMODB) ?? nonEmpty(env.AWS_ENDPOINT_URL)
  return { tableName, region, endpoint: fromConfig ?? fromEnv ?? `https://dynamodb.${region}.amazonaws.com` }
}

function endpointUrl (endpoint: { protocol: string, hostname: string, port?: number, path: string }): string {
  const port = endpoint.port === undefined ? '' : `:${endpoint.port}`
  const path = endpoint.path === '/' ? '' : endpoint.path
  return `${endpoint.protocol}//${endpoint.hostname}${port}${path}`
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/**
 * The startup check (`verifyTable`): one DescribeTable. A missing table, missing or rejected credentials, and a
 * table of another key schema fail startup with a coded error that says what to do; an unreachable DynamoDB fails it
 * with `onStoreError: 'fail'` and is logged with `'anonymous'`; a role without `dynamodb:DescribeTable` gets one
 * warning (the policy did not need it before); a configured index that is missing is logged.
 */
export async function verifyTable (client: DynamoDBClient, options: VerifyTableOptions): Promise<void> {
  const { shape, log } = options
  const target = await tableTarget(client, shape.tableName, options.env)
  const command = initCommand(shape, target, isLoopbackUrl(target.endpoint))
  let table: TableDescription | undefined
  try {
    table = (await client.send(new DescribeTableCommand({ TableName: shape.tableName }))).Table
  } catch (err) {
    checkFailed(err, target, command, options)
    return
  }
  if (table === undefined) throw new TableMissingError(where(target), command)
  checkKeySchema(table, shape.tableName, shape.idAttribute)
  reportIndexes(table, shape, command, log)
}

function checkFailed (err: unknown, target: TableTarget, command: string, options: VerifyTableOptions): void {
  const { tableName, endpoint, region } = target
  const name = errorName(err)
  if (name === 'ResourceNotFoundException') throw new TableMissingError(where(target), command, { cause: err })
  if (CREDENTIAL_ERRORS.has(name)) throw new MissingCredentialsError(where(target), describe(err), { cause: err })
  if (name === 'AccessDeniedException') {
    options.log.warn(
      { err: errorFields(err), table: tableName },
      `dynamo-session: could not check table ${tableName} (DescribeTable was denied); starting without the check: ` +
        'allow dynamodb:DescribeTable (docs/aws.md) or set verifyTable: false'
    )
    return
  }
  const failure = new StoreUnreachableError(where(target), describe(err), { cause: err })
  if (options.onStoreError === 'fail') throw failure
  options.log.warn(
    { err: errorFields(err), table: tableName, endpoint, region },
    `dynamo-session: ${failure.message}; starting anyway (onStoreError: 'anonymous')`
  )
}

/** `T at http://… (region r)`: the first argument of the check's errors. */
function where ({ tableName, endpoint, region }: TableTarget): string {
  return `${tableName} at ${endpoint} (region ${region})`
}

function describe (err: unknown): string {
  const { name, code, message } = errorFields(err)
  return `${code ?? name}: ${message}`
}

function reportIndexes (table: TableDescription, shape: TableShape, command: string, log: VerifyLog): void {
  for (const { option, indexName } of configuredIndexes(shape)) {
    const state = indexStateOf(table, indexName)
    if (state === 'active') continue
    const fields = { table: shape.tableName, index: indexName, option, state }
    if (state === 'missing' && option === 'ownerIndex') {
      // Sessions of a user are opt-in: a table without their index serves every other feature, and only the owner
      // methods fail (FST_DYNAMO_SESSION_NO_OWNER_INDEX). Said once at info level, not a warning at every startup.
      log.info(fields, `dynamo-session: table ${shape.tableName} has no index ${indexName} (${option}): listByOwner, ` +
        `destroyByOwner and destroyOthers need it; create it with: ${command}, or set ownerIndex: false`)
    } else if (state === 'missing') {
      log.warn(fields, `dynamo-session: table ${shape.tableName} has no index ${indexName} (${option}); create it with: ${command}`)
    } else {
      log.info(fields, `dynamo-session: index ${indexName} (${option}) of table ${shape.tableName} is ${state}`)
    }
  }
}
