import {
  CreateTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, UpdateTimeToLiveCommand,
  type CreateTableCommandInput, type DynamoDBClient, type TableDescription
} from '@aws-sdk/client-dynamodb'
import {
  DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_ID_ATTRIBUTE, DEFAULT_TABLE_NAME, resolveExpiryIndex, type ExpiryIndexShape
} from '../options.js'
import { TableSetupError } from '../errors.js'
import { errorFields, errorName } from '../aws-errors.js'

export const BILLING_MODES = ['on-demand', 'provisioned'] as const
export type Billing = typeof BILLING_MODES[number]

export const DEFAULT_BILLING: Billing = 'on-demand'
/** Read and write capacity of a provisioned table (the tutorial's table). */
export const DEFAULT_PROVISIONED_CAPACITY = 5
export const DEFAULT_TABLE_WAIT_MS = 120_000

export interface EnsureTableOptions {
  /** Defaults to `'ManejoSesion'`. */
  tableName?: string
  /** Defaults to `'Sesion_Id'`. */
  idAttribute?: string
  /** Defaults to `'Expire_Session'`. */
  expiresAttribute?: string
  /**
   * The expiry index (its name and key attributes), created with a new table; `false` for none. Defaults to the
   * plugin's default `expiryIndex`.
   */
  expiryIndex?: Pick<ExpiryIndexShape, 'indexName' | 'attribute' | 'shardAttribute'> | false
  /** Defaults to `'on-demand'`. */
  billing?: Billing
  /** Provisioned read capacity. Defaults to `5` (the tutorial's table). */
  readCapacity?: number
  /** Provisioned write capacity. Defaults to `5`. */
  writeCapacity?: number
  /** How long to wait for the table to become ACTIVE, in milliseconds. Defaults to `120000`. */
  waitTimeoutMs?: number
  /** Progress messages. */
  log?: (message: string) => void
}

/**
 * What TTL looks like after setup: `enabled` (this call enabled it), `already-enabled`, `enabling`,
 * `other-attribute` (TTL is on another attribute: expired sessions are then only removed by the reaper),
 * `disabling` (a recent disable is still applying; run again later), `unsupported` (the endpoint has no TTL API).
 */
export type TtlState = 'enabled' | 'already-enabled' | 'enabling' | 'other-attribute' | 'disabling' | 'unsupported'

export interface EnsureTableResult {
  tableName: string
  created: boolean
  tableStatus: string
  billing: Billing
  ttl: TtlState
  ttlAttribute: string | undefined
  messages: string[]
}

const POLL_MS = 250


/** Any failure of setup is a TableSetupError; the DynamoDB error is its cause. */
function setupFailure (tableName: string, what: string, err: unknown): Error {
  const { name, message } = errorFields(err)
  return new TableSetupError(tableName, `${what}: ${name}: ${message}`, { cause: err })
}

async function describe (client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return undefined
    throw setupFailure(tableName, 'DescribeTable failed', err)
  }
}

export type IndexKeys = Pick<ExpiryIndexShape, 'indexName' | 'attribute' | 'shardAttribute'>

/** Pure: the expiry index's definition: (shard HASH, bucket RANGE), both Numbers, KEYS_ONLY. */
export interface ExpiryIndexDefinition {
  attributes: Array<{ AttributeName: string, AttributeType: 'N' }>
  index: {
    IndexName: string
    KeySchema: Array<{ AttributeName: string, KeyType: 'HASH' | 'RANGE' }>
    Projection: { ProjectionType: 'KEYS_ONLY' }
  }
}

export function expiryIndexDefinition (index: IndexKeys): ExpiryIndexDefinition {
  return {
    attributes: [
      { AttributeName: index.shardAttribute, AttributeType: 'N' },
      { AttributeName: index.attribute, AttributeType: 'N' }
    ],
    index: {
      IndexName: index.indexName,
      KeySchema: [{ AttributeName: index.shardAttribute, KeyType: 'HASH' }, { AttributeName: index.attribute, KeyType: 'RANGE' }],
      Projection: { ProjectionType: 'KEYS_ONLY' }
    }
  }
}

/**
 * What DescribeTable says of an index: `missing`, `creating` (CREATING, or ACTIVE while still backfilling), `active`,
 * or `deleting`/`updating` as DynamoDB names them. Pure: the reaper's `auto` strategy and `init` read it.
 */
export type IndexState = 'missing' | 'creating' | 'active' | 'updating' | 'deleting'

export function indexStateOf (table: TableDescription | undefined, indexName: string): IndexState {
  const index = table?.GlobalSecondaryIndexes?.find((gsi) => gsi.IndexName === indexName)
  if (index === undefined) return 'missing'
  switch (index.IndexStatus) {
    case 'CREATING': return 'creating'
    case 'UPDATING': return 'updating'
    case 'DELETING': return 'deleting'
    default: return index.Backfilling === true ? 'creating' : 'active'
  }
}

/** Pure: the CreateTable input for a session table, with the expiry index unless `index` is false. */
export function buildCreateTableInput (
  tableName: string,
  idAttribute: string,
  billing: Billing,
  read: number,
  write: number,
  index: IndexKeys | false = false
): CreateTableCommandInput & { TableName: string } {
  const throughput = { ReadCapacityUnits: read, WriteCapacityUnits: write }
  const definition = index === false ? undefined : expiryIndexDefinition(index)
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: idAttribute, AttributeType: 'S' }, ...(definition?.attributes ?? [])],
    KeySchema: [{ AttributeName: idAttribute, KeyType: 'HASH' }],
    ...(billing === 'on-demand'
      ? { BillingMode: 'PAY_PER_REQUEST' as const }
      : { BillingMode: 'PROVISIONED' as const, ProvisionedThroughput: throughput }),
    ...(definition === undefined
      ? {}
      : {
          GlobalSecondaryIndexes: [{
            ...definition.index,
            ...(billing === 'on-demand' ? {} : { ProvisionedThroughput: { ...throughput } })
          }]
        })
  }
}

function checkKeySchema (table: TableDescription, tableName: string, idAttribute: string): void {
  const keys = table.KeySchema ?? []
  const hash = keys.find((k) => k.KeyType === 'HASH')
  const type = table.AttributeDefinitions?.find((a) => a.AttributeName === idAttribute)?.AttributeType
  if (hash?.AttributeName !== idAttribute || keys.length !== 1 || type !== 'S') {
    const typeOf = (name: string | undefined): string =>
      table.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType ?? '?'
    const found = keys.map((k) => `${k.AttributeName ?? '?'} (${k.KeyType ?? '?'}, ${typeOf(k.AttributeName)})`).join(', ')
    throw new TableSetupError(tableName, `expected a single String partition key ${idAttribute}, found ${found || 'no key'}`)
  }
}

/**
 * Creates the session table when missing, waits for it to be ACTIVE, and enables TTL on the expiry attribute only
 * when DescribeTimeToLive says it is not already (a second UpdateTimeToLive within an hour fails on AWS).
 * Idempotent. Endpoints without the TTL API (dynalite) are reported as `unsupported`, not an error.
 */
export async function ensureSessionTable (client: DynamoDBClient, options: EnsureTableOptions = {}): Promise<EnsureTableResult> {
  const tableName = options.tableName ?? DEFAULT_TABLE_NAME
  const idAttribute = options.idAttribute ?? DEFAULT_ID_ATTRIBUTE
  const expiresAttribute = options.expiresAttribute ?? DEFAULT_EXPIRES_ATTRIBUTE
  const billing = options.billing ?? DEFAULT_BILLING
  const readCapacity = options.readCapacity ?? DEFAULT_PROVISIONED_CAPACITY
  const writeCapacity = options.writeCapacity ?? DEFAULT_PROVISIONED_CAPACITY
  const log = options.log ?? (() => {})
  const messages: string[] = []
  const say = (message: string): void => { messages.push(message); log(message) }

  const index = options.expiryIndex ?? resolveExpiryIndex(undefined)
  const createInput = buildCreateTableInput(tableName, idAttribute, billing, readCapacity, writeCapacity, index)
  const created = await createTableIfMissing(client, createInput, billing, say)
  const table = await waitUntilActive(client, tableName, options.waitTimeoutMs ?? DEFAULT_TABLE_WAIT_MS)
  checkKeySchema(table, tableName, idAttribute)
  const tableBilling: Billing = table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST' ? 'on-demand' : 'provisioned'
  const { ttl, ttlAttribute } = await ensureTimeToLive(client, tableName, expiresAttribute, say)
  return { tableName, created, tableStatus: table.TableStatus ?? 'ACTIVE', billing: tableBilling, ttl, ttlAttribute, messages }
}

/** Creates the table unless DescribeTable finds it; `true` when this call created it. */
async function createTableIfMissing (
  client: DynamoDBClient,
  input: CreateTableCommandInput & { TableName: string },
  billing: Billing,
  say: (message: string) => void
): Promise<boolean> {
  const tableName = input.TableName
  if (await describe(client, tableName) !== undefined) {
    say(`table ${tableName} exists`)
    return false
  }
  try {
    await client.send(new CreateTableCommand(input))
    say(`created table ${tableName} (${billing})`)
    return true
  } catch (err) {
    // Another instance created it at the same moment: fine.
    if (errorName(err) !== 'ResourceInUseException') throw setupFailure(tableName, 'CreateTable failed', err)
    return false
  }
}

/** Polls DescribeTable until the table is ACTIVE, or fails after `waitTimeoutMs`. */
async function waitUntilActive (client: DynamoDBClient, tableName: string, waitTimeoutMs: number): Promise<TableDescription> {
  const deadline = Date.now() + waitTimeoutMs
  for (;;) {
    const table = await describe(client, tableName)
    if (table?.TableStatus === 'ACTIVE') return table
    if (Date.now() > deadline) throw new TableSetupError(tableName, `not ACTIVE after waiting (status ${table?.TableStatus ?? 'missing'})`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/** Enables TTL on the expiry attribute unless DescribeTimeToLive shows it on, going on, going off, or on another attribute. */
async function ensureTimeToLive (
  client: DynamoDBClient,
  tableName: string,
  expiresAttribute: string,
  say: (message: string) => void
): Promise<{ ttl: TtlState, ttlAttribute: string | undefined }> {
  let current
  try {
    current = (await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }))).TimeToLiveDescription
  } catch (err) {
    throw setupFailure(tableName, 'DescribeTimeToLive failed', err)
  }
  const ttlAttribute = current?.AttributeName
  const status = current?.TimeToLiveStatus ?? 'DISABLED'
  if ((status === 'ENABLED' || status === 'ENABLING') && ttlAttribute !== expiresAttribute) {
    say(`TTL is on ${ttlAttribute ?? '?'}, not ${expiresAttribute}: expired sessions are removed only by the reaper`)
    return { ttl: 'other-attribute', ttlAttribute }
  }
  if (status === 'ENABLED') {
    say(`TTL already enabled on ${expiresAttribute}`)
    return { ttl: 'already-enabled', ttlAttribute }
  }
  if (status === 'ENABLING') {
    say(`TTL on ${expiresAttribute} is being enabled`)
    return { ttl: 'enabling', ttlAttribute }
  }
  if (status === 'DISABLING') {
    say('TTL is being disabled; run again once that finishes (AWS can take up to an hour)')
    return { ttl: 'disabling', ttlAttribute }
  }
  return await enableTimeToLive(client, tableName, expiresAttribute, say)
}

/** UpdateTimeToLive on the expiry attribute; an endpoint without the TTL API (dynalite) is `unsupported`. */
async function enableTimeToLive (
  client: DynamoDBClient,
  tableName: string,
  expiresAttribute: string,
  say: (message: string) => void
): Promise<{ ttl: TtlState, ttlAttribute: string | undefined }> {
  try {
    await client.send(new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: expiresAttribute, Enabled: true }
    }))
    say(`enabled TTL on ${expiresAttribute}`)
    return { ttl: 'enabled', ttlAttribute: expiresAttribute }
  } catch (err) {
    if (errorName(err) !== 'UnknownOperationException') throw setupFailure(tableName, 'enabling TTL failed', err)
    say('this endpoint does not implement TTL (e.g. dynalite): expired sessions are removed only by the reaper')
    return { ttl: 'unsupported', ttlAttribute: undefined }
  }
}
