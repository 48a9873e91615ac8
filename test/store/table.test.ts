import t from 'tap'
import {
  CreateTableCommand, DescribeTableCommand, PutItemCommand, type CreateTableCommandInput, type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import dynalite from 'dynalite'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildCreateTableInput, ensureSessionTable } from '../../src/store/table.js'
import { DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_ID_ATTRIBUTE, DEFAULT_TABLE_NAME } from '../../src/options.js'
import { countCalls, freshTableName, makeClient, startDynalite } from '../helpers/dynamo.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { until } from '../helpers/reliability.js'
import { CAN, NEW_TABLE_TTL } from '../helpers/target.js'

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
      ttlAttribute: NEW_TABLE_TTL.attribute(DEFAULT_EXPIRES_ATTRIBUTE)
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
      { AttributeName: 'Expire_Bucket', AttributeType: 'N' }
    ])
    const index = table.GlobalSecondaryIndexes?.[0]
    t.equal(table.GlobalSecondaryIndexes?.length, 1, 'the expiry index is created with the table')
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
    t.match(second, { tableName, created: false, tableStatus: 'ACTIVE', billing: 'on-demand', ttl: CAN.ttl ? 'already-enabled' : 'unsupported' })
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
    t.equal((await ensureSessionTable(client, { tableName: otherName, idAttribute: 'id' })).created, false)
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
    const results = await Promise.all([ensureSessionTable(client, { tableName }), ensureSessionTable(client, { tableName })])
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
