import t from 'tap'
import {
  CreateTableCommand, DescribeTableCommand, PutItemCommand, QueryCommand, type CreateTableCommandInput, type DynamoDBClient,
  type TableDescription
} from '@aws-sdk/client-dynamodb'
import dynalite from 'dynalite'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  buildCreateIndexInput, buildCreateTableInput, ensureGlobalIndex, ensureSessionTable, expiryIndexDefinition, indexPlan
} from '../../src/store/table.js'
import { DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_ID_ATTRIBUTE, DEFAULT_TABLE_NAME } from '../../src/options.js'
import { countCalls, freshTableName, makeClient, startDynalite } from '../helpers/dynamo.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { until } from '../helpers/reliability.js'
import { CAN, NEW_TABLE_TTL } from '../helpers/target.js'
import { buildApp, recordCommands } from '../helpers/app.js'

const TABLE_SETUP = 'FST_DYNAMO_SESSION_TABLE_SETUP'
const unique = (prefix: string): string => freshTableName(prefix)

async function setupError (fn: () => Promise<unknown>): Promise<{ code?: string, message: string }> {
  try {
    await fn()
  } catch (err) {
    return err as { code?: string, message: string }
  }
  throw new Error('expected a rejection')
}

async function createRaw (client: DynamoDBClient, input: Omit<CreateTableCommandInput, 'BillingMode'>): Promise<void> {
  await client.send(new CreateTableCommand({ BillingMode: 'PAY_PER_REQUEST', ...input }))
}

t.test('buildCreateTableInput: the expiry index, KEYS_ONLY, with the table\'s throughput on a provisioned table', async (t) => {
  const keys = { indexName: 'X', attribute: 'b', shardAttribute: 's' }
  const index = { IndexName: 'X', KeySchema: [{ AttributeName: 's', KeyType: 'HASH' }, { AttributeName: 'b', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }
  const definitions = [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 's', AttributeType: 'N' }, { AttributeName: 'b', AttributeType: 'N' }]
  t.strictSame(buildCreateTableInput('T', 'pk', 'on-demand', 5, 5, keys), {
    TableName: 'T', AttributeDefinitions: definitions, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST', GlobalSecondaryIndexes: [index]
  })
  t.strictSame(buildCreateTableInput('T', 'pk', 'provisioned', 3, 2, keys).GlobalSecondaryIndexes, [{ ...index, ProvisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 2 } }])
})

t.test('buildCreateTableInput: a single String partition key, on-demand or provisioned', async (t) => {
  t.strictSame(buildCreateTableInput('T', 'pk', 'on-demand', 5, 5), {
    TableName: 'T',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST'
  })
  t.strictSame(buildCreateTableInput('T', 'pk', 'provisioned', 3, 2), {
    TableName: 'T',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    BillingMode: 'PROVISIONED',
    ProvisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 2 }
  })
})

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  t.test('creates an on-demand table with the tutorial\'s defaults, ACTIVE, TTL enabled where the endpoint has it', async (t) => {
    const messages: string[] = []
    const result = await ensureSessionTable(client, { log: (m) => messages.push(m) })
    t.match(result, {
      tableName: DEFAULT_TABLE_NAME,
      created: true,
      tableStatus: 'ACTIVE',
      billing: 'on-demand',
      ttl: NEW_TABLE_TTL.state,
      ttlAttribute: NEW_TABLE_TTL.attribute(DEFAULT_EXPIRES_ATTRIBUTE),
      expiryIndex: 'created-with-table',
      ownerIndex: 'created-with-table'
    })
    t.strictSame(result.messages, messages, 'the log sees every message')
    t.match(messages.join('\n'), /created table ManejoSesion \(on-demand\)/)
    t.match(messages.join('\n'), NEW_TABLE_TTL.message)
    const table = (await client.send(new DescribeTableCommand({ TableName: DEFAULT_TABLE_NAME }))).Table!
    t.equal(table.TableStatus, 'ACTIVE')
    t.strictSame(table.KeySchema, [{ AttributeName: DEFAULT_ID_ATTRIBUTE, KeyType: 'HASH' }])
    t.strictSame(table.AttributeDefinitions, [
      { AttributeName: DEFAULT_ID_ATTRIBUTE, AttributeType: 'S' },
      { AttributeName: 'Expire_Shard', AttributeType: 'N' },
      { AttributeName: 'Expire_Bucket', AttributeType: 'N' },
      { AttributeName: 'Owner_Id', AttributeType: 'S' }
    ])
    const index = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === 'Expire_Bucket_Index')
    t.equal(table.GlobalSecondaryIndexes?.length, 2, 'the expiry index and the owner index are created with the table')
    const owner = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === 'Owner_Index')
    t.strictSame(owner?.KeySchema, [{ AttributeName: 'Owner_Id', KeyType: 'HASH' }])
    t.strictSame(owner?.Projection, { ProjectionType: 'KEYS_ONLY' })
    t.equal(index?.IndexName, 'Expire_Bucket_Index')
    t.strictSame(index?.KeySchema, [{ AttributeName: 'Expire_Shard', KeyType: 'HASH' }, { AttributeName: 'Expire_Bucket', KeyType: 'RANGE' }])
    t.strictSame(index?.Projection, { ProjectionType: 'KEYS_ONLY' })
    t.equal(table.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST')
    t.equal(DEFAULT_EXPIRES_ATTRIBUTE, 'Expire_Session')
  })

  t.test('a second call is idempotent: created=false, nothing created again', async (t) => {
    const tableName = unique('again')
    t.equal((await ensureSessionTable(client, { tableName })).created, true)
    const calls = countCalls(client)
    const second = await ensureSessionTable(client, { tableName })
    t.match(second, {
      tableName, created: false, tableStatus: 'ACTIVE', billing: 'on-demand', ttl: CAN.ttl ? 'already-enabled' : 'unsupported', expiryIndex: 'active'
    })
    t.equal(calls.count('UpdateTable'), 0, 'the index exists: no UpdateTable')
    t.match(second.messages.join('\n'), new RegExp(`table ${tableName} exists`))
    t.equal(calls.count('CreateTable'), 0)
    // DescribeTimeToLive first, then UpdateTimeToLive only when TTL reads as disabled (always, without the TTL API).
    t.equal(calls.count('DescribeTimeToLive'), 1)
    t.equal(calls.count('UpdateTimeToLive'), CAN.ttl ? 0 : 1)
    if (!CAN.ttl) t.ok(calls.calls.indexOf('DescribeTimeToLive') < calls.calls.indexOf('UpdateTimeToLive'))
  })

  t.test('creates a provisioned table with the given capacity (5/5 by default)', async (t) => {
    const tableName = unique('provisioned')
    const result = await ensureSessionTable(client, { tableName, billing: 'provisioned' })
    t.match(result, { created: true, billing: 'provisioned', tableStatus: 'ACTIVE' })
    const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table!
    t.equal(table.ProvisionedThroughput?.ReadCapacityUnits, 5)
    t.equal(table.ProvisionedThroughput?.WriteCapacityUnits, 5)

    const custom = unique('provisioned')
    await ensureSessionTable(client, { tableName: custom, billing: 'provisioned', readCapacity: 7, writeCapacity: 3 })
    const described = (await client.send(new DescribeTableCommand({ TableName: custom }))).Table!
    t.equal(described.ProvisionedThroughput?.ReadCapacityUnits, 7)
    t.equal(described.ProvisionedThroughput?.WriteCapacityUnits, 3)
    // An existing table's billing is reported as found, whatever was asked.
    t.equal((await ensureSessionTable(client, { tableName: custom, billing: 'on-demand' })).billing, 'provisioned')
  })

  t.test('custom key attribute', async (t) => {
    const tableName = unique('custom')
    await ensureSessionTable(client, { tableName, idAttribute: 'sid', expiresAttribute: 'exp' })
    const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table!
    t.strictSame(table.KeySchema, [{ AttributeName: 'sid', KeyType: 'HASH' }])
    t.equal((await ensureSessionTable(client, { tableName, idAttribute: 'sid' })).created, false)
  })

  t.test('an existing table with another key schema is refused', async (t) => {
    const numberKey = unique('number_key')
    await createRaw(client, {
      TableName: numberKey,
      AttributeDefinitions: [{ AttributeName: DEFAULT_ID_ATTRIBUTE, AttributeType: 'N' }],
      KeySchema: [{ AttributeName: DEFAULT_ID_ATTRIBUTE, KeyType: 'HASH' }]
    })
    const sortKey = unique('sort_key')
    await createRaw(client, {
      TableName: sortKey,
      AttributeDefinitions: [{ AttributeName: DEFAULT_ID_ATTRIBUTE, AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: DEFAULT_ID_ATTRIBUTE, KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]
    })
    const otherName = unique('other_name')
    await createRaw(client, {
      TableName: otherName,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }]
    })
    for (const tableName of [numberKey, sortKey, otherName]) {
      const err = await setupError(() => ensureSessionTable(client, { tableName }))
      t.equal(err.code, TABLE_SETUP, tableName)
      t.match(err.message, new RegExp(tableName))
    }
    // The key our options name is what counts: the 'id' table is fine for idAttribute 'id'.
    // (No index asked: dynalite refuses to add one to an existing on-demand table; that path is tested below.)
    t.equal((await ensureSessionTable(client, { tableName: otherName, idAttribute: 'id', expiryIndex: false, ownerIndex: false })).created, false)
  })

  t.test('regression: the key-schema error shows the type of the key it found', async (t) => {
    const tableName = unique('number_key_type')
    await createRaw(client, {
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: DEFAULT_ID_ATTRIBUTE, AttributeType: 'N' }],
      KeySchema: [{ AttributeName: DEFAULT_ID_ATTRIBUTE, KeyType: 'HASH' }]
    })
    const err = await setupError(() => ensureSessionTable(client, { tableName }))
    t.equal(err.code, TABLE_SETUP)
    t.match(err.message, `found ${DEFAULT_ID_ATTRIBUTE} (HASH, N)`)
  })

  t.test('a table that cannot be created is a coded error', async (t) => {
    if (!CAN.validatesInput) {
      // This target accepts the name and the capacity that DynamoDB refuses (test/helpers/target.ts).
      t.equal((await ensureSessionTable(client, { tableName: unique('zero'), billing: 'provisioned', readCapacity: 0 })).created, true)
      return
    }
    // DynamoDB refuses the name (at DescribeTable already): the coded error carries DynamoDB's as its cause.
    const err = await setupError(() => ensureSessionTable(client, { tableName: 'x' }))
    t.equal(err.code, TABLE_SETUP)
    t.match((err as { cause?: { name?: string } }).cause, { name: 'ValidationException' })
    const capacity = await setupError(() => ensureSessionTable(client, { tableName: unique('zero'), billing: 'provisioned', readCapacity: 0 }))
    t.equal(capacity.code, TABLE_SETUP)
  })

  t.test('DynamoDB failing during setup is a coded error with its cause', async (t) => {
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const flaky = makeClient(t, proxy.endpoint, { maxAttempts: 1 })
    const tableName = unique('flaky')
    proxy.inject({ kind: 'throttle', type: 'ThrottlingException' }, { operations: ['DescribeTimeToLive'] })
    const ttl = await setupError(() => ensureSessionTable(flaky, { tableName }))
    t.equal(ttl.code, TABLE_SETUP)
    t.match(ttl.message, /DescribeTimeToLive/)
    t.match((ttl as { cause?: { name?: string } }).cause, { name: 'ThrottlingException' })
    proxy.heal()
    proxy.inject({ kind: 'throttle', type: 'ThrottlingException' }, { operations: ['DescribeTable'] })
    const describe = await setupError(() => ensureSessionTable(flaky, { tableName }))
    t.equal(describe.code, TABLE_SETUP)
    t.match((describe as { cause?: { name?: string } }).cause, { name: 'ThrottlingException' })
    proxy.heal()
    t.equal((await ensureSessionTable(flaky, { tableName })).created, false, 'the table created by the first attempt is found')
  })

  t.test('concurrent setup of the same table: both succeed, one creates it', async (t) => {
    const tableName = unique('race')
    // The expiry index alone: moto replaces a table's attribute definitions with an UpdateTable's, so two setups racing
    // over two indexes there lose one's definition (DynamoDB merges them).
    const setup = { tableName, ownerIndex: false as const }
    const results = await Promise.all([ensureSessionTable(client, setup), ensureSessionTable(client, setup)])
    t.strictSame(results.map((r) => r.tableStatus), ['ACTIVE', 'ACTIVE'])
    t.ok(results.some((r) => r.created), 'one of them created it')
  })
})

// A dynalite that takes a while to create tables, as DynamoDB does.
async function slowDynalite (t: { teardown (fn: () => unknown): void }, createTableMs: number): Promise<string> {
  const server: Server = dynalite({ createTableMs, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('waits until the table is ACTIVE before returning', async (t) => {
  const endpoint = await slowDynalite(t, 600)
  const client = makeClient(t, endpoint)
  const tableName = unique('slow')
  const calls = countCalls(client)
  const result = await ensureSessionTable(client, { tableName })
  t.equal(result.tableStatus, 'ACTIVE')
  t.ok(calls.count('DescribeTable') > 2, 'it polled while the table was CREATING')
  // Usable right away.
  await client.send(new PutItemCommand({ TableName: tableName, Item: { Sesion_Id: { S: 'x' } } }))
})

t.test('gives up with a coded error when the table does not become ACTIVE in time', async (t) => {
  const endpoint = await slowDynalite(t, 1500)
  const client = makeClient(t, endpoint)
  const tableName = unique('never')
  const err = await setupError(() => ensureSessionTable(client, { tableName, waitTimeoutMs: 1 }))
  t.equal(err.code, TABLE_SETUP)
  t.match(err.message, /not ACTIVE/)
  // Let dynalite finish creating before the server closes (polled: how long depends on the machine's load).
  await until(async () => (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus === 'ACTIVE', 'the table to become ACTIVE')
})

// The expiry index on an existing table: what DescribeTable says decides (pure), then UpdateTable adds it.

const KEYS = { indexName: 'Expire_Bucket_Index', attribute: 'Expire_Bucket', shardAttribute: 'Expire_Shard' }
const DEFINITION = expiryIndexDefinition(KEYS)
const ID_DEFINITION = [{ AttributeName: DEFAULT_ID_ATTRIBUTE, AttributeType: 'S' as const }]

/** A DescribeTable answer: the session table with these indexes (and their key attributes, as Numbers). */
function described (indexes: NonNullable<TableDescription['GlobalSecondaryIndexes']>, extra: Partial<TableDescription> = {}): TableDescription {
  return {
    TableName: 'T',
    TableStatus: 'ACTIVE',
    KeySchema: [{ AttributeName: DEFAULT_ID_ATTRIBUTE, KeyType: 'HASH' }],
    AttributeDefinitions: [...ID_DEFINITION, ...DEFINITION.attributes],
    GlobalSecondaryIndexes: indexes,
    ...extra
  }
}
const ours = (status: 'CREATING' | 'ACTIVE' | 'UPDATING' | 'DELETING', backfilling?: boolean): NonNullable<TableDescription['GlobalSecondaryIndexes']>[number] =>
  ({ ...DEFINITION.index, IndexStatus: status, ...(backfilling === undefined ? {} : { Backfilling: backfilling }) })
const other = (status: 'CREATING' | 'ACTIVE', backfilling?: boolean): NonNullable<TableDescription['GlobalSecondaryIndexes']>[number] => ({
  IndexName: 'By_User', KeySchema: [{ AttributeName: 'User', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' }, IndexStatus: status,
  ...(backfilling === undefined ? {} : { Backfilling: backfilling })
})

t.test('indexPlan: what to do about the index, from DescribeTable\'s answer', async (t) => {
  t.strictSame(indexPlan(described([]), 'T', DEFINITION), { action: 'create' }, 'missing: create it')
  t.strictSame(indexPlan(described([], { GlobalSecondaryIndexes: undefined }), 'T', DEFINITION), { action: 'create' }, 'no index at all')
  t.strictSame(indexPlan(described([ours('ACTIVE')]), 'T', DEFINITION), { action: 'none', setup: 'active' })
  t.strictSame(indexPlan(described([ours('ACTIVE', false)]), 'T', DEFINITION), { action: 'none', setup: 'active' })
  t.strictSame(indexPlan(described([ours('UPDATING')]), 'T', DEFINITION), { action: 'none', setup: 'active' }, 'a throughput change: usable')
  t.strictSame(indexPlan(described([ours('CREATING', true)]), 'T', DEFINITION), { action: 'none', setup: 'creating' }, 'being created: success')
  t.strictSame(indexPlan(described([ours('ACTIVE', true)]), 'T', DEFINITION), { action: 'none', setup: 'creating' }, 'still backfilling')
  t.strictSame(indexPlan(described([ours('DELETING')]), 'T', DEFINITION), { action: 'none', setup: 'deleting' })
  const deletingOther = { ...ours('DELETING'), Projection: { ProjectionType: 'ALL' as const } }
  t.strictSame(indexPlan(described([deletingOther]), 'T', DEFINITION), { action: 'none', setup: 'deleting' }, 'being deleted: its shape does not matter')
  t.strictSame(indexPlan(described([other('CREATING', true)]), 'T', DEFINITION), { action: 'wait', setup: 'waiting-for-other-index', other: 'By_User' })
  t.strictSame(indexPlan(described([other('ACTIVE', true)]), 'T', DEFINITION), { action: 'wait', setup: 'waiting-for-other-index', other: 'By_User' })
  t.strictSame(indexPlan(described([other('ACTIVE')]), 'T', DEFINITION), { action: 'create' }, 'another index, ACTIVE: no obstacle')
})

t.test('indexPlan: an index of the same name with other keys or projection is a TableSetupError saying what it found', async (t) => {
  const cases: Array<[string, TableDescription, RegExp]> = [
    ['keys swapped', described([{ ...ours('ACTIVE'), KeySchema: [{ AttributeName: 'Expire_Bucket', KeyType: 'HASH' }, { AttributeName: 'Expire_Shard', KeyType: 'RANGE' }] }]),
      /found Expire_Bucket \(HASH, N\), Expire_Shard \(RANGE, N\); KEYS_ONLY/],
    ['projection ALL', described([{ ...ours('ACTIVE'), Projection: { ProjectionType: 'ALL' } }]), /found .*; ALL$/],
    ['projection INCLUDE', described([{ ...ours('ACTIVE'), Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['Expire_Session'] } }]),
      /found .*; INCLUDE \[Expire_Session\]$/],
    ['a String bucket', described([ours('ACTIVE')], {
      AttributeDefinitions: [...ID_DEFINITION, { AttributeName: 'Expire_Shard', AttributeType: 'N' }, { AttributeName: 'Expire_Bucket', AttributeType: 'S' }]
    }), /found Expire_Shard \(HASH, N\), Expire_Bucket \(RANGE, S\)/],
    ['the bucket defined as a String by another index', described([{ ...other('ACTIVE'), KeySchema: [{ AttributeName: 'Expire_Bucket', KeyType: 'HASH' }] }], {
      AttributeDefinitions: [...ID_DEFINITION, { AttributeName: 'Expire_Bucket', AttributeType: 'S' }]
    }), /needs Expire_Bucket of type N, but the table defines it as S/]
  ]
  for (const [name, table, message] of cases) {
    const err = t.throws(() => indexPlan(table, 'T', DEFINITION), name) as { code?: string, message: string }
    t.equal(err.code, TABLE_SETUP, name)
    t.match(err.message, message, name)
  }
})

t.test('buildCreateIndexInput: one Create per call; ProvisionedThroughput on a provisioned table only', async (t) => {
  const create = { ...DEFINITION.index }
  t.strictSame(buildCreateIndexInput('T', DEFINITION, undefined), {
    TableName: 'T', AttributeDefinitions: DEFINITION.attributes, GlobalSecondaryIndexUpdates: [{ Create: create }]
  })
  t.strictSame(buildCreateIndexInput('T', DEFINITION, { ReadCapacityUnits: 4, WriteCapacityUnits: 9 }).GlobalSecondaryIndexUpdates, [{
    Create: { ...create, ProvisionedThroughput: { ReadCapacityUnits: 4, WriteCapacityUnits: 9 } }
  }])
  // The table's own definitions go along (moto replaces the table's with the call's); the index's win.
  const known = [...ID_DEFINITION, { AttributeName: 'Expire_Bucket', AttributeType: 'N' as const }]
  t.strictSame(buildCreateIndexInput('T', DEFINITION, undefined, known).AttributeDefinitions, [...ID_DEFINITION, ...DEFINITION.attributes])
})

t.test('the expiry index on an existing table', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  /** A table as the tutorial (or an older version) made it: no index; provisioned 5/5 unless on-demand. */
  async function tutorialTable (billing: 'provisioned' | 'on-demand' = 'provisioned'): Promise<string> {
    const TableName = unique('tutorial')
    await client.send(new CreateTableCommand({
      TableName,
      AttributeDefinitions: ID_DEFINITION,
      KeySchema: [{ AttributeName: DEFAULT_ID_ATTRIBUTE, KeyType: 'HASH' }],
      ...(billing === 'provisioned'
        ? { BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 } }
        : { BillingMode: 'PAY_PER_REQUEST' })
    }))
    await until(async () => (await client.send(new DescribeTableCommand({ TableName }))).Table?.TableStatus === 'ACTIVE', `${TableName} ACTIVE`)
    return TableName
  }
  const indexOf = async (tableName: string): Promise<NonNullable<TableDescription['GlobalSecondaryIndexes']>[number] | undefined> =>
    (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === KEYS.indexName)
  // One recorder for the client (middleware names are unique per client); each test resets it.
  const recorder = recordCommands(client)
  const updates = (recorder: ReturnType<typeof recordCommands>): unknown[] =>
    recorder.commands.filter((c) => c.name === 'UpdateTable').map((c) => c.input.GlobalSecondaryIndexUpdates)

  t.test('a populated table written by the plugin gets the index with UpdateTable; a Query on it then finds those rows', async (t) => {
    const tableName = await tutorialTable()
    const app = await buildApp(t, client, tableName)
    const ids: string[] = []
    for (let i = 0; i < 12; i++) ids.push((await app.inject({ method: 'POST', url: '/set', payload: { n: i } })).json().id as string)
    recorder.reset()
    const result = await ensureSessionTable(client, { tableName })
    t.match(result, { created: false, billing: 'provisioned', expiryIndex: CAN.indexCreationOnExistingTable ? /^(creating|active)$/ : 'creating' })
    t.match(result.messages.join('\n'), /index Expire_Bucket_Index: (creating|active)/)
    // One index per call, with the table's own throughput (provisioned); the owner index follows only where the
    // expiry index is ACTIVE at once (moto), in a call of its own.
    t.strictSame(updates(recorder)[0], [{ Create: { ...DEFINITION.index, ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 } } }])
    t.equal(updates(recorder).length, CAN.indexCreationOnExistingTable ? 2 : 1)
    if (!CAN.indexCreationOnExistingTable) {
      // This target accepts the call and creates nothing (test/helpers/target.ts).
      t.equal(await indexOf(tableName), undefined)
      return
    }
    await until(async () => (await indexOf(tableName))?.IndexStatus === 'ACTIVE', 'the index ACTIVE')
    const found: string[] = []
    for (let shard = 0; shard < 16; shard++) {
      const out = await client.send(new QueryCommand({
        TableName: tableName,
        IndexName: KEYS.indexName,
        KeyConditionExpression: '#s = :s AND #b > :zero',
        ExpressionAttributeNames: { '#s': KEYS.shardAttribute, '#b': KEYS.attribute },
        ExpressionAttributeValues: { ':s': { N: String(shard) }, ':zero': { N: '0' } }
      }))
      for (const item of out.Items ?? []) found.push(item[DEFAULT_ID_ATTRIBUTE]?.S ?? '?')
    }
    t.strictSame(found.sort(), [...ids].sort(), 'every row the plugin wrote is in the index')
    // Rerunning is safe: the index is found, nothing is sent.
    recorder.reset()
    t.match(await ensureSessionTable(client, { tableName }), { expiryIndex: /^(creating|active)$/ })
    t.strictSame(updates(recorder), [])
  })

  t.test('index capacity: given for a provisioned table; none sent for an on-demand one', async (t) => {
    const provisioned = await tutorialTable()
    recorder.reset()
    await ensureSessionTable(client, { tableName: provisioned, indexReadCapacity: 2, indexWriteCapacity: 7, ownerIndex: false })
    t.strictSame(updates(recorder), [[{ Create: { ...DEFINITION.index, ProvisionedThroughput: { ReadCapacityUnits: 2, WriteCapacityUnits: 7 } } }]])

    const onDemand = await tutorialTable('on-demand')
    recorder.reset()
    const result = await ensureSessionTable(client, { tableName: onDemand, indexWriteCapacity: 7, ownerIndex: false }).catch((err: { code?: string, cause?: { name?: string } }) => err)
    t.strictSame(updates(recorder), [[{ Create: { ...DEFINITION.index } }]], 'no ProvisionedThroughput on an on-demand table')
    if (CAN.onDemandIndexCreateAccepted) {
      t.match(result, { billing: 'on-demand', expiryIndex: /^(creating|active)$/ })
      t.match((result as { messages: string[] }).messages.join('\n'), 'index capacity ignored: the table is on-demand')
    } else {
      // This target refuses that (valid) form (test/helpers/target.ts): the coded error carries its answer.
      t.match(result, { code: TABLE_SETUP, cause: { name: 'ValidationException' } })
    }
  })

  t.test('a new provisioned table: the index gets the index capacity, else the table\'s', async (t) => {
    const tableName = unique('new_provisioned')
    const result = await ensureSessionTable(client, { tableName, billing: 'provisioned', readCapacity: 3, writeCapacity: 4, indexWriteCapacity: 6 })
    t.equal(result.expiryIndex, 'created-with-table')
    t.match((await indexOf(tableName))?.ProvisionedThroughput, { ReadCapacityUnits: 3, WriteCapacityUnits: 6 })
  })

  t.test('expiryIndex: false creates no index, on a new table or an existing one', async (t) => {
    recorder.reset()
    const fresh = unique('no_index')
    t.equal((await ensureSessionTable(client, { tableName: fresh, expiryIndex: false, ownerIndex: false })).expiryIndex, 'none')
    t.equal(await indexOf(fresh), undefined)
    const existing = await tutorialTable()
    t.equal((await ensureSessionTable(client, { tableName: existing, expiryIndex: false, ownerIndex: false })).expiryIndex, 'none')
    t.strictSame(updates(recorder), [])
  })

  t.test('the owner index on an existing table is added only once the expiry index is ACTIVE: one index at a time', async (t) => {
    const tableName = await tutorialTable()
    recorder.reset()
    const first = await ensureSessionTable(client, { tableName, indexReadCapacity: 2, indexWriteCapacity: 3 })
    const created = (recorder: ReturnType<typeof recordCommands>): unknown[] =>
      updates(recorder).map((u) => (u as Array<{ Create: { IndexName: string } }>)[0]!.Create.IndexName)
    if (!CAN.indexCreationOnExistingTable) {
      // This target builds nothing (the expiry index stays 'creating'): the owner index waits, and is not sent.
      t.match(first, { expiryIndex: 'creating', ownerIndex: 'waiting-for-other-index' })
      t.strictSame(created(recorder), ['Expire_Bucket_Index'])
      t.match(first.messages.join('\n'), /index Owner_Index: waiting for the expiry index/)
      return
    }
    t.match(first, { expiryIndex: 'active', ownerIndex: /^(creating|active)$/ })
    t.strictSame(created(recorder), ['Expire_Bucket_Index', 'Owner_Index'], 'the owner index after the expiry index, in a call of its own')
    const owner = updates(recorder)[1] as Array<{ Create: Record<string, unknown> }>
    t.strictSame(owner[0]!.Create, {
      IndexName: 'Owner_Index',
      KeySchema: [{ AttributeName: 'Owner_Id', KeyType: 'HASH' }],
      Projection: { ProjectionType: 'KEYS_ONLY' },
      ProvisionedThroughput: { ReadCapacityUnits: 2, WriteCapacityUnits: 3 }
    })
    await until(async () => (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.GlobalSecondaryIndexes
      ?.find((i) => i.IndexName === 'Owner_Index')?.IndexStatus === 'ACTIVE', 'the owner index ACTIVE')
    recorder.reset()
    t.match(await ensureSessionTable(client, { tableName }), { expiryIndex: 'active', ownerIndex: 'active' }, 'rerun: both found')
    t.strictSame(updates(recorder), [])
  })

  t.test('addIndexToExistingTable: false reports the missing index and changes nothing', async (t) => {
    const tableName = await tutorialTable()
    recorder.reset()
    const result = await ensureSessionTable(client, { tableName, addIndexToExistingTable: false })
    t.equal(result.expiryIndex, 'not-added')
    t.match(result.messages.join('\n'), /index Expire_Bucket_Index: missing; not added/)
    t.strictSame(updates(recorder), [])
    t.equal(await indexOf(tableName), undefined)
  })

  t.test('regression: createTable: true never adds the index to an existing table at startup; a new table gets it', async (t) => {
    const existing = await tutorialTable()
    recorder.reset()
    const app = await buildApp(t, client, existing, { createTable: true })
    t.equal((await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).statusCode, 200)
    t.strictSame(updates(recorder), [], 'no UpdateTable')
    t.equal(await indexOf(existing), undefined, 'the existing table stays without the index')
    const fresh = unique('plugin_new')
    await buildApp(t, client, fresh, { createTable: true })
    t.match(await indexOf(fresh), { IndexName: KEYS.indexName, Projection: { ProjectionType: 'KEYS_ONLY' } }, 'created with the new table')
  })

  t.test('an existing index with other keys is a TableSetupError; nothing is changed', async (t) => {
    const tableName = unique('wrong_index')
    await createRaw(client, {
      TableName: tableName,
      AttributeDefinitions: [...ID_DEFINITION, { AttributeName: 'Expire_Bucket', AttributeType: 'N' }],
      KeySchema: [{ AttributeName: DEFAULT_ID_ATTRIBUTE, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [{ IndexName: KEYS.indexName, KeySchema: [{ AttributeName: 'Expire_Bucket', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }]
    })
    recorder.reset()
    const err = await setupError(() => ensureSessionTable(client, { tableName }))
    t.equal(err.code, TABLE_SETUP)
    t.match(err.message, 'found Expire_Bucket (HASH, N); ALL')
    t.strictSame(updates(recorder), [])
  })

  t.test('another index being created: reported, nothing tried (as a function of DescribeTable\'s answer)', async (t) => {
    const tableName = await tutorialTable()
    const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table!
    const busy = { ...table, GlobalSecondaryIndexes: [other('CREATING', true)] }
    const calls = countCalls(client)
    const messages: string[] = []
    t.equal(await ensureGlobalIndex(client, busy, DEFINITION, { add: true, say: (m) => messages.push(m) }), 'waiting-for-other-index')
    t.equal(calls.count(), 0, 'no call at all')
    t.match(messages, [/index By_User is being created \(one at a time\); run again once it is ACTIVE/])
    const deleting = { ...table, GlobalSecondaryIndexes: [ours('DELETING')] }
    t.equal(await ensureGlobalIndex(client, deleting, DEFINITION, { add: true, say: () => {} }), 'deleting')
    t.equal(calls.count(), 0)
  })

  t.test('waitForIndex: waits for another index being created, then adds its own (one UpdateTable)', async (t) => {
    const tableName = await tutorialTable()
    const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table!
    // DescribeTable's first answer shows another index being created; the next ones are the table's (without it).
    const busy = { ...table, GlobalSecondaryIndexes: [other('CREATING', true)] }
    recorder.reset()
    const messages: string[] = []
    const waited = ensureGlobalIndex(client, busy, DEFINITION, { add: true, waitTimeoutMs: 2000, say: (m) => messages.push(m) })
    if (CAN.indexCreationOnExistingTable) {
      t.equal(await waited, 'active')
    } else {
      // The index never appears on this target: the wait ends with a coded error.
      t.equal((await setupError(() => waited)).code, TABLE_SETUP)
    }
    t.equal(updates(recorder).length, 1, 'created once, after the other index')
    t.match(messages[0], /index By_User is being created/)
    t.match(messages[1], /index Expire_Bucket_Index: (creating|active)/)
  })

  t.test('an UpdateTable that failed but was applied (its answer lost) is found: creating, not an error', async (t) => {
    const tableName = await tutorialTable()
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const lossy = makeClient(t, proxy.endpoint, { maxAttempts: 1 })
    proxy.inject({ kind: 'dropResponse' }, { operations: ['UpdateTable'], times: 1 })
    const result = await ensureSessionTable(lossy, { tableName }).catch((err: { code?: string }) => err)
    if (CAN.indexCreationOnExistingTable) t.match(result, { expiryIndex: /^(creating|active)$/ })
    // This target applied nothing: the lost answer is the error.
    else t.match(result, { code: TABLE_SETUP, message: /adding index Expire_Bucket_Index failed/ })
  })

  t.test('two setups of the same existing table at once: both succeed, the index is created once', async (t) => {
    const tableName = await tutorialTable()
    // The expiry index alone: moto replaces a table's attribute definitions with an UpdateTable's, so two setups racing
    // over two indexes there lose one's definition (DynamoDB merges them).
    const setup = { tableName, ownerIndex: false as const }
    const results = await Promise.all([ensureSessionTable(client, setup), ensureSessionTable(client, setup)])
    for (const result of results) t.match(result.expiryIndex, /^(creating|active)$/)
    if (CAN.indexCreationOnExistingTable) t.equal((await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.GlobalSecondaryIndexes?.length, 1)
  })

  t.test('regression: LimitExceededException on UpdateTable is reported as retry-later, not retried as throttling', async (t) => {
    const tableName = await tutorialTable()
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    // The SDK's default retries (3 attempts): it would send UpdateTable three times, with backoff, if it saw a throttle.
    const limited = makeClient(t, proxy.endpoint)
    proxy.inject({ kind: 'refuse', type: 'LimitExceededException' }, { operations: ['UpdateTable'] })
    const result = await ensureSessionTable(limited, { tableName })
    t.equal(result.expiryIndex, 'retry-later')
    t.match(result.messages.join('\n'), /try again later/)
    t.equal(proxy.seen.filter((op) => op === 'UpdateTable').length, 1, 'one UpdateTable, no retries')
    proxy.heal()
    t.equal((await ensureSessionTable(limited, { tableName })).expiryIndex, CAN.indexCreationOnExistingTable ? 'active' : 'creating', 'a rerun adds it')
  })

  t.test('UpdateTable refused: a table being updated is retry-later; any other refusal is a coded error with its cause', async (t) => {
    const tableName = await tutorialTable()
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const refused = makeClient(t, proxy.endpoint)
    proxy.inject({ kind: 'refuse', type: 'ResourceInUseException' }, { operations: ['UpdateTable'], times: 1 })
    t.equal((await ensureSessionTable(refused, { tableName })).expiryIndex, 'retry-later')
    proxy.inject({ kind: 'refuse', type: 'AccessDeniedException' }, { operations: ['UpdateTable'], times: 1 })
    const err = await setupError(() => ensureSessionTable(refused, { tableName }))
    t.equal(err.code, TABLE_SETUP)
    t.match(err, { message: /adding index Expire_Bucket_Index failed: AccessDeniedException/, cause: { name: 'AccessDeniedException' } })
  })

  t.test('waitForIndex: retries after LimitExceeded, then waits until ACTIVE, within its timeout', async (t) => {
    const tableName = await tutorialTable()
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const limited = makeClient(t, proxy.endpoint)
    proxy.inject({ kind: 'refuse', type: 'LimitExceededException' }, { operations: ['UpdateTable'], times: 1 })
    const waited = ensureSessionTable(limited, { tableName, waitForIndex: true, indexWaitTimeoutMs: 3000, ownerIndex: false })
    if (CAN.indexCreationOnExistingTable) {
      t.equal((await waited).expiryIndex, 'active')
      t.equal((await indexOf(tableName))?.IndexStatus, 'ACTIVE')
    } else {
      // The index never appears on this target: the wait ends with a coded error.
      const err = await setupError(() => waited)
      t.equal(err.code, TABLE_SETUP)
      t.match(err.message, /index Expire_Bucket_Index not ACTIVE after waiting \(creating\)/)
    }
    t.equal(proxy.seen.filter((op) => op === 'UpdateTable').length, 2, 'refused once, then sent once more, never again')
  })
})
