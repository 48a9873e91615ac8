import {
  CreateTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, UpdateTableCommand, UpdateTimeToLiveCommand,
  type CreateTableCommandInput, type DynamoDBClient, type TableDescription, type UpdateTableCommandInput
} from '@aws-sdk/client-dynamodb'
import {
  DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_ID_ATTRIBUTE, DEFAULT_TABLE_NAME, resolveExpiryIndex, resolveOwnerIndex, type ExpiryIndexShape,
  type OwnerIndexShape
} from '../options.js'
import { TableSetupError } from '../errors.js'
import { describeError, errorName } from '../aws-errors.js'

export const BILLING_MODES = ['on-demand', 'provisioned'] as const
export type Billing = typeof BILLING_MODES[number]

export const DEFAULT_BILLING: Billing = 'on-demand'
/** Read and write capacity of a provisioned table (the tutorial's table). */
export const DEFAULT_PROVISIONED_CAPACITY = 5
export const DEFAULT_TABLE_WAIT_MS = 120_000
/** How long `waitForIndex` waits for the expiry index's backfill (minutes to hours on a large table). */
export const DEFAULT_INDEX_WAIT_MS = 3_600_000

export interface EnsureTableOptions {
  /** Defaults to `'ManejoSesion'`. */
  tableName?: string
  /** Defaults to `'Sesion_Id'`. */
  idAttribute?: string
  /** Defaults to `'Expire_Session'`. */
  expiresAttribute?: string
  /**
   * The expiry index (its name and key attributes), created with a new table and added to an existing one; `false`
   * for none. Defaults to the plugin's default `expiryIndex`.
   */
  expiryIndex?: Pick<ExpiryIndexShape, 'indexName' | 'attribute' | 'shardAttribute'> | false
  /**
   * The owner index (sessions of a user: its name and key attribute), created with a new table in the same CreateTable
   * and added to an existing one once no other index is being created (DynamoDB creates one at a time: a later run,
   * or `waitForIndex`); `false` for none. Defaults to the plugin's default `ownerIndex`.
   */
  ownerIndex?: Pick<OwnerIndexShape, 'indexName' | 'attribute'> | false
  /**
   * Add the expiry index to an existing table that lacks it (UpdateTable; DynamoDB then backfills it from the
   * table). The plugin's `createTable` passes `false`. Defaults to `true`.
   */
  addIndexToExistingTable?: boolean
  /** The index's read capacity on a provisioned table. Defaults to the table's read capacity. */
  indexReadCapacity?: number
  /** The index's write capacity on a provisioned table. Defaults to the table's write capacity. */
  indexWriteCapacity?: number
  /** Wait until the expiry index is ACTIVE and backfilled (else return once its creation started). Defaults to `false`. */
  waitForIndex?: boolean
  /** How long `waitForIndex` waits, in milliseconds. Defaults to `3600000` (one hour). */
  indexWaitTimeoutMs?: number
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
  /** What setup found or did about the expiry index (see IndexSetup). */
  expiryIndex: IndexSetup
  /** What setup found or did about the owner index (see IndexSetup). */
  ownerIndex: IndexSetup
  messages: string[]
}

const POLL_MS = 250


/** Any failure of setup is a TableSetupError; the DynamoDB error is its cause. */
function setupFailure (tableName: string, what: string, err: unknown): Error {
  return new TableSetupError(tableName, `${what}: ${describeError(err)}`, { cause: err })
}

async function describe (client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return undefined
    throw setupFailure(tableName, 'DescribeTable failed', err)
  }
}

/** The table's description, or undefined when there is no such table; other failures are TableSetupErrors. */
export async function describeTableIfExists (client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  return await describe(client, tableName)
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

export type OwnerIndexKeys = Pick<OwnerIndexShape, 'indexName' | 'attribute'>

/**
 * Pure: the owner index's definition: the owner (String) as partition key, KEYS_ONLY. Sparse: rows without an owner
 * are not in it. KEYS_ONLY because nothing a listing shows is both fixed after login and worth an index write:
 * `Touched_At` and the expiry change with every refresh, and the label may be set after login (listByOwner reads
 * them from the table).
 */
export function ownerIndexDefinition (index: OwnerIndexKeys): GlobalIndexDefinition {
  return {
    attributes: [{ AttributeName: index.attribute, AttributeType: 'S' }],
    index: {
      IndexName: index.indexName,
      KeySchema: [{ AttributeName: index.attribute, KeyType: 'HASH' }],
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
  index: IndexKeys | false = false,
  indexCapacity: { read?: number | undefined, write?: number | undefined } = {},
  ownerIndex: OwnerIndexKeys | false = false
): CreateTableCommandInput & { TableName: string } {
  const throughput = { ReadCapacityUnits: read, WriteCapacityUnits: write }
  const indexThroughput = { ReadCapacityUnits: indexCapacity.read ?? read, WriteCapacityUnits: indexCapacity.write ?? write }
  const definitions: GlobalIndexDefinition[] = [
    ...(index === false ? [] : [expiryIndexDefinition(index)]),
    ...(ownerIndex === false ? [] : [ownerIndexDefinition(ownerIndex)])
  ]
  return {
    TableName: tableName,
    AttributeDefinitions: [
      { AttributeName: idAttribute, AttributeType: 'S' },
      ...definitions.flatMap((d) => d.attributes.map((a) => ({ ...a })))
    ],
    KeySchema: [{ AttributeName: idAttribute, KeyType: 'HASH' }],
    ...(billing === 'on-demand'
      ? { BillingMode: 'PAY_PER_REQUEST' as const }
      : { BillingMode: 'PROVISIONED' as const, ProvisionedThroughput: throughput }),
    ...(definitions.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: definitions.map((definition) => ({
            IndexName: definition.index.IndexName,
            KeySchema: definition.index.KeySchema.map((k) => ({ ...k })),
            Projection: { ...definition.index.Projection } as { ProjectionType: 'KEYS_ONLY' },
            ...(billing === 'on-demand' ? {} : { ProvisionedThroughput: indexThroughput })
          }))
        })
  }
}

export function checkKeySchema (table: TableDescription, tableName: string, idAttribute: string): void {
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
  const owner = options.ownerIndex ?? resolveOwnerIndex(undefined)
  const indexCapacity = { read: options.indexReadCapacity, write: options.indexWriteCapacity }
  const createInput = buildCreateTableInput(tableName, idAttribute, billing, readCapacity, writeCapacity, index, indexCapacity, owner)
  const created = await createTableIfMissing(client, createInput, billing, say)
  const table = await waitUntilActive(client, tableName, options.waitTimeoutMs ?? DEFAULT_TABLE_WAIT_MS)
  checkKeySchema(table, tableName, idAttribute)
  const tableBilling: Billing = table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST' ? 'on-demand' : 'provisioned'
  const expiryIndex = await ensureExpiryIndex(client, table, created, index, options, say)
  const ownerIndex = await ensureOwnerIndex(client, table, created, owner, expiryIndex, options, say)
  const { ttl, ttlAttribute } = await ensureTimeToLive(client, tableName, expiresAttribute, say)
  const tableStatus = table.TableStatus ?? 'ACTIVE'
  return { tableName, created, tableStatus, billing: tableBilling, ttl, ttlAttribute, expiryIndex, ownerIndex, messages }
}

/**
 * The owner index, after the expiry index: reported when the table was created with it; on an existing table added
 * only once the expiry index is settled (DynamoDB creates one index at a time), from a fresh DescribeTable (the
 * expiry index may have just been added).
 */
async function ensureOwnerIndex (
  client: DynamoDBClient,
  table: TableDescription,
  created: boolean,
  owner: OwnerIndexKeys | false,
  expiryIndex: IndexSetup,
  options: EnsureTableOptions,
  say: (message: string) => void
): Promise<IndexSetup> {
  if (owner === false) return 'none'
  if (createdWithTable(table, created, owner.indexName, say)) return 'created-with-table'
  const definition = ownerIndexDefinition(owner)
  const expiryBusy = expiryIndex === 'creating' || expiryIndex === 'retry-later' || expiryIndex === 'waiting-for-other-index'
  const current = expiryIndex === 'none' || expiryIndex === 'created-with-table' ? table : await describe(client, table.TableName ?? '?')
  if (current === undefined) throw new TableSetupError(table.TableName ?? '?', 'the table disappeared during setup')
  if (expiryBusy && indexPlan(current, current.TableName ?? '?', definition).action === 'create') {
    say(`index ${owner.indexName}: waiting for the expiry index (DynamoDB creates one index at a time); run again once it is ACTIVE`)
    return 'waiting-for-other-index'
  }
  return await ensureGlobalIndex(client, current, definition, indexSettings(options, say))
}

/** Whether the index came with the table this run created (said once); else it is checked and, when missing, added. */
function createdWithTable (table: TableDescription, created: boolean, indexName: string, say: (message: string) => void): boolean {
  if (!created || indexStateOf(table, indexName) !== 'active') return false
  say(`created index ${indexName} with the table`)
  return true
}

/** How `ensureSessionTable`'s options add and wait for an index on an existing table (both indexes alike). */
function indexSettings (options: EnsureTableOptions, say: (message: string) => void): GlobalIndexSettings {
  return {
    add: options.addIndexToExistingTable ?? true,
    readCapacity: options.indexReadCapacity,
    writeCapacity: options.indexWriteCapacity,
    waitTimeoutMs: options.waitForIndex === true ? options.indexWaitTimeoutMs ?? DEFAULT_INDEX_WAIT_MS : undefined,
    say
  }
}

/** The expiry index: reported when the table was created with it, else checked and, when missing, added. */
async function ensureExpiryIndex (
  client: DynamoDBClient,
  table: TableDescription,
  created: boolean,
  index: IndexKeys | false,
  options: EnsureTableOptions,
  say: (message: string) => void
): Promise<IndexSetup> {
  if (index === false) return 'none'
  if (createdWithTable(table, created, index.indexName, say)) return 'created-with-table'
  return await ensureGlobalIndex(client, table, expiryIndexDefinition(index), indexSettings(options, say))
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

/** A global secondary index as `ensureGlobalIndex` creates it: its key attributes' definitions and the Create action. */
export interface GlobalIndexDefinition {
  attributes: ReadonlyArray<{ AttributeName: string, AttributeType: 'S' | 'N' | 'B' }>
  index: {
    IndexName: string
    KeySchema: ReadonlyArray<{ AttributeName: string, KeyType: 'HASH' | 'RANGE' }>
    Projection: { ProjectionType: 'KEYS_ONLY' | 'INCLUDE' | 'ALL', NonKeyAttributes?: readonly string[] }
  }
}

/**
 * What setup did about an index (`EnsureTableResult.expiryIndex`): `none` (none asked), `created-with-table`,
 * `active` (ACTIVE, or UPDATING its throughput: usable), `creating` (this call or an earlier one started it; DynamoDB
 * backfills it), `not-added` (missing on an existing table, and this call may not add it: the plugin's `createTable`),
 * `waiting-for-other-index` (another index of the table is being created: run again once it is ACTIVE),
 * `retry-later` (DynamoDB refused for now: LimitExceededException or the table is being updated), `deleting`
 * (an index of this name is being deleted: run again once it is gone).
 */
export type IndexSetup =
  | 'none' | 'created-with-table' | 'active' | 'creating' | 'not-added' | 'waiting-for-other-index' | 'retry-later' | 'deleting'

/** Pure: what to do about an index, from DescribeTable's answer: nothing (it exists), create it, or wait for another. */
export type IndexPlan =
  | { readonly action: 'none', readonly setup: 'active' | 'creating' | 'deleting' }
  | { readonly action: 'create' }
  | { readonly action: 'wait', readonly setup: 'waiting-for-other-index', readonly other: string }

const keyText = (keys: ReadonlyArray<{ AttributeName?: string, KeyType?: string }>, types: (name: string) => string): string =>
  keys.map((k) => `${k.AttributeName ?? '?'} (${k.KeyType ?? '?'}, ${types(k.AttributeName ?? '')})`).join(', ')

const projectionText = (p: { ProjectionType?: string, NonKeyAttributes?: readonly string[] } | undefined): string => {
  const nonKey = p?.NonKeyAttributes ?? []
  return `${p?.ProjectionType ?? '?'}${nonKey.length > 0 ? ` [${[...nonKey].sort().join(', ')}]` : ''}`
}

/**
 * Pure: the plan for `definition` on `table`. Throws a TableSetupError when an index of that name has other keys or
 * another projection, or when a key attribute is already defined with another type (UpdateTable would refuse it).
 */
export function indexPlan (table: TableDescription, tableName: string, definition: GlobalIndexDefinition): IndexPlan {
  const name = definition.index.IndexName
  const typeOf = (attribute: string): string => table.AttributeDefinitions?.find((a) => a.AttributeName === attribute)?.AttributeType ?? '?'
  const wantedType = (attribute: string): string => definition.attributes.find((a) => a.AttributeName === attribute)?.AttributeType ?? '?'
  const existing = table.GlobalSecondaryIndexes?.find((gsi) => gsi.IndexName === name)
  // One being deleted is waited for, whatever its shape: the name is free once it is gone.
  if (existing?.IndexStatus === 'DELETING') return { action: 'none', setup: 'deleting' }
  if (existing !== undefined) {
    const found = `${keyText(existing.KeySchema ?? [], typeOf)}; ${projectionText(existing.Projection)}`
    const wanted = `${keyText(definition.index.KeySchema, wantedType)}; ${projectionText(definition.index.Projection)}`
    if (found !== wanted) {
      throw new TableSetupError(tableName, `index ${name} exists with other keys or projection: expected ${wanted}, found ${found}`)
    }
    const state = indexStateOf(table, name)
    return { action: 'none', setup: state === 'updating' ? 'active' : state === 'missing' ? 'creating' : state }
  }
  for (const attribute of definition.attributes) {
    const type = typeOf(attribute.AttributeName)
    if (type !== '?' && type !== attribute.AttributeType) {
      const needed = `${attribute.AttributeName} of type ${attribute.AttributeType}`
      throw new TableSetupError(tableName, `index ${name} needs ${needed}, but the table defines it as ${type}`)
    }
  }
  const other = table.GlobalSecondaryIndexes?.find((gsi) => gsi.IndexStatus === 'CREATING' || gsi.Backfilling === true)
  if (other !== undefined) return { action: 'wait', setup: 'waiting-for-other-index', other: other.IndexName ?? '?' }
  return { action: 'create' }
}

/**
 * Pure: the UpdateTable input that adds `definition`, with `throughput` on a provisioned table (none on on-demand).
 * The table's `known` attribute definitions are repeated: DynamoDB merges them, moto replaces the table's with them.
 */
export function buildCreateIndexInput (
  tableName: string,
  definition: GlobalIndexDefinition,
  throughput: { ReadCapacityUnits: number, WriteCapacityUnits: number } | undefined,
  known: TableDescription['AttributeDefinitions'] = []
): UpdateTableCommandInput & { TableName: string } {
  const { IndexName, KeySchema, Projection } = definition.index
  const added = new Set(definition.attributes.map((a) => a.AttributeName))
  return {
    TableName: tableName,
    AttributeDefinitions: [...known.filter((a) => !added.has(a.AttributeName ?? '')), ...definition.attributes].map((a) => ({ ...a })),
    GlobalSecondaryIndexUpdates: [{
      Create: {
        IndexName,
        KeySchema: KeySchema.map((k) => ({ ...k })),
        Projection: {
          ProjectionType: Projection.ProjectionType,
          ...(Projection.NonKeyAttributes !== undefined ? { NonKeyAttributes: [...Projection.NonKeyAttributes] } : {})
        },
        ...(throughput !== undefined ? { ProvisionedThroughput: { ...throughput } } : {})
      }
    }]
  }
}

/** LimitExceededException of UpdateTable, taken out of the SDK's retries (which would treat it as throttling). */
class IndexLimitExceeded extends Error {
  override name = 'IndexLimitExceeded'
}

/** Below the SDK's retry middleware: LimitExceededException leaves the retries at once, as an IndexLimitExceeded. */
function withoutLimitRetries (command: UpdateTableCommand): UpdateTableCommand {
  command.middlewareStack.add((next) => async (args) => {
    try {
      return await next(args)
    } catch (err) {
      if (errorName(err) === 'LimitExceededException') throw new IndexLimitExceeded((err as Error).message, { cause: err })
      throw err
    }
  }, { step: 'finalizeRequest', priority: 'low', name: 'indexLimitWithoutRetries' })
  return command
}

export interface GlobalIndexSettings {
  /** Add the index to the table when it is missing (false: report `not-added`). */
  readonly add: boolean
  /** Index read and write capacity on a provisioned table. Defaults to the table's own. */
  readonly readCapacity?: number | undefined
  readonly writeCapacity?: number | undefined
  /** Poll until the index is ACTIVE and backfilled (waiting for another index first), for at most this long; undefined: no wait. */
  readonly waitTimeoutMs?: number | undefined
  readonly say: (message: string) => void
}

const INDEX_POLL_MAX_MS = 10_000

/**
 * Ensures one global secondary index on an existing table, under DynamoDB's rules: one index per UpdateTable call,
 * none while another is being created, ProvisionedThroughput on provisioned tables only. Without a wait it starts
 * the creation and returns `creating` (the backfill takes minutes to hours); with one, it polls until ACTIVE.
 */
export async function ensureGlobalIndex (
  client: DynamoDBClient, table: TableDescription, definition: GlobalIndexDefinition, settings: GlobalIndexSettings
): Promise<IndexSetup> {
  const tableName = table.TableName ?? '?'
  const deadline = Date.now() + (settings.waitTimeoutMs ?? 0)
  let current = table
  let said: IndexSetup | undefined
  let started = false
  for (let delay = POLL_MS; ; delay = Math.min(delay * 2, INDEX_POLL_MAX_MS)) {
    // Once this call started the creation, DescribeTable (eventually consistent) may not show the index yet.
    const setup = await indexStep(client, current, definition, started ? 'started' : settings.add ? 'add' : 'report', settings)
    started ||= setup === 'creating' || setup === 'active'
    if (setup !== said) settings.say(indexMessage(definition.index.IndexName, setup, current, definition))
    said = setup
    if (settings.waitTimeoutMs === undefined || setup === 'active' || setup === 'not-added') return setup
    if (Date.now() > deadline) {
      throw new TableSetupError(tableName, `index ${definition.index.IndexName} not ACTIVE after waiting (${setup})`)
    }
    await new Promise((resolve) => setTimeout(resolve, delay))
    const described = await describe(client, tableName)
    if (described === undefined) throw new TableSetupError(tableName, 'the table disappeared while its index was being created')
    current = described
  }
}

async function indexStep (
  client: DynamoDBClient, table: TableDescription, definition: GlobalIndexDefinition, mode: 'add' | 'report' | 'started',
  settings: GlobalIndexSettings
): Promise<IndexSetup> {
  const tableName = table.TableName ?? '?'
  const plan = indexPlan(table, tableName, definition)
  if (plan.action !== 'create') return plan.setup
  if (mode !== 'add') return mode === 'started' ? 'creating' : 'not-added'
  const onDemand = table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST'
  const throughput = onDemand
    ? undefined
    : {
        ReadCapacityUnits: settings.readCapacity ?? table.ProvisionedThroughput?.ReadCapacityUnits ?? DEFAULT_PROVISIONED_CAPACITY,
        WriteCapacityUnits: settings.writeCapacity ?? table.ProvisionedThroughput?.WriteCapacityUnits ?? DEFAULT_PROVISIONED_CAPACITY
      }
  if (onDemand && (settings.readCapacity !== undefined || settings.writeCapacity !== undefined)) {
    settings.say('index capacity ignored: the table is on-demand')
  }
  try {
    const input = buildCreateIndexInput(tableName, definition, throughput, table.AttributeDefinitions)
    const out = await client.send(withoutLimitRetries(new UpdateTableCommand(input)))
    // DynamoDB answers CREATING; an implementation that builds the index at once (moto) answers ACTIVE.
    return indexStateOf(out.TableDescription, definition.index.IndexName) === 'active' ? 'active' : 'creating'
  } catch (err) {
    return await afterRefusal(client, tableName, definition, err)
  }
}

/**
 * UpdateTable failed. DescribeTable decides: the index may be there all the same (another setup started it meanwhile,
 * or a call that timed out was applied). Otherwise LimitExceeded and a table being updated are `retry-later`, and
 * anything else is a TableSetupError with DynamoDB's error as its cause.
 */
async function afterRefusal (
  client: DynamoDBClient, tableName: string, definition: GlobalIndexDefinition, err: unknown
): Promise<IndexSetup> {
  const failure = setupFailure(tableName, `adding index ${definition.index.IndexName} failed`, err)
  const table = await describe(client, tableName).catch(() => { throw failure })
  const plan = table === undefined ? undefined : indexPlan(table, tableName, definition)
  if (plan !== undefined && plan.action !== 'create') return plan.setup
  const name = errorName(err)
  if (name === 'IndexLimitExceeded' || name === 'ResourceInUseException') return 'retry-later'
  throw failure
}

function indexMessage (indexName: string, setup: IndexSetup, table: TableDescription, definition: GlobalIndexDefinition): string {
  switch (setup) {
    case 'active': return `index ${indexName}: active`
    case 'creating': return `index ${indexName}: creating (DynamoDB backfills it from the table: minutes to hours)`
    case 'not-added': return `index ${indexName}: missing; not added to an existing table here (run dynamo-session init)`
    case 'deleting': return `index ${indexName}: being deleted; run again once it is gone`
    case 'retry-later':
      return `index ${indexName}: DynamoDB refused it for now (too many index operations at once, or the table is being updated); ` +
        'try again later'
    case 'waiting-for-other-index': {
      const plan = indexPlan(table, table.TableName ?? '?', definition)
      const other = plan.action === 'wait' ? plan.other : '?'
      return `index ${indexName}: index ${other} is being created (one at a time); run again once it is ACTIVE`
    }
    default: return `index ${indexName}: ${setup}`
  }
}
