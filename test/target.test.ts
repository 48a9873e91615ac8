import t from 'tap'
import {
  CreateTableCommand, DeleteItemCommand, DescribeTableCommand, DescribeTimeToLiveCommand, GetItemCommand, PutItemCommand,
  ScanCommand, UpdateItemCommand, UpdateTableCommand, UpdateTimeToLiveCommand, type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import { freshTableName, makeClient, startDynalite } from './helpers/dynamo.js'
import { CAN, CAPABILITIES, TARGET, parseTarget, unitsFor } from './helpers/target.js'
import { until } from './helpers/reliability.js'

// The capability table (test/helpers/target.ts) is itself checked against the target of the run: each entry is
// probed here, so a test that reads it asserts what this DynamoDB really does.

const errorName = async (promise: Promise<unknown>): Promise<string | undefined> => await promise.then(() => undefined, (err: Error) => err.name)

async function plainTable (client: DynamoDBClient, extra: Partial<ConstructorParameters<typeof CreateTableCommand>[0]> = {}): Promise<string> {
  const TableName = freshTableName('probe')
  await client.send(new CreateTableCommand({
    TableName,
    AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
    ...extra
  }))
  await until(async () => (await client.send(new DescribeTableCommand({ TableName }))).Table?.TableStatus === 'ACTIVE', `${TableName} ACTIVE`)
  return TableName
}

t.test('DYNAMO_SESSION_TEST_TARGET: one variable names the target and its endpoint', async (t) => {
  t.strictSame(parseTarget(undefined), { name: 'dynalite', endpoint: undefined, capabilities: CAPABILITIES.dynalite, tablePrefix: '' })
  t.strictSame(parseTarget('dynalite'), parseTarget(''))
  t.strictSame(parseTarget('moto=http://127.0.0.1:5000/', 'ci_'), { name: 'moto', endpoint: 'http://127.0.0.1:5000', capabilities: CAPABILITIES.moto, tablePrefix: 'ci_' })
  t.equal(parseTarget('aws=https://dynamodb.eu-west-1.amazonaws.com').name, 'aws')
  for (const bad of ['moto', 'moto=', 'moto=127.0.0.1:5000', 'local=http://127.0.0.1:1', 'aws=https://x/path']) {
    t.throws(() => parseTarget(bad), /DYNAMO_SESSION_TEST_TARGET: expected/, bad)
  }
})

t.test(`the capability table describes this target (${TARGET.name})`, async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint, { maxAttempts: 1 })
  const table = await plainTable(client)

  t.test('ttl: UpdateTimeToLive and DescribeTimeToLive', async (t) => {
    const failure = await errorName(client.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { Enabled: true, AttributeName: 'e' } })))
    const described = (await client.send(new DescribeTimeToLiveCommand({ TableName: table }))).TimeToLiveDescription
    if (CAN.ttl) {
      t.equal(failure, undefined)
      t.match(described?.TimeToLiveStatus, /^(ENABLING|ENABLED)$/)
    } else {
      t.equal(failure, 'UnknownOperationException')
      t.equal(described?.TimeToLiveStatus, 'DISABLED')
    }
  })

  t.test('capacity: AWS\'s arithmetic (real) or a fixed figure per operation (constant)', async (t) => {
    const R = { TableName: table, ReturnConsumedCapacity: 'TOTAL' } as const
    // A 9 KB item: 9 write units, 3 read units strongly consistent (4 KB each).
    const item = { k: { S: 'c' }, d: { S: 'x'.repeat(9000) } }
    const put = await client.send(new PutItemCommand({ ...R, Item: item }))
    t.equal(put.ConsumedCapacity?.CapacityUnits, unitsFor('PutItem', 9))
    const get = await client.send(new GetItemCommand({ ...R, Key: { k: item.k }, ConsistentRead: true }))
    t.equal(get.ConsumedCapacity?.CapacityUnits, unitsFor('GetItem', 3))
    const update = await client.send(new UpdateItemCommand({ ...R, Key: { k: item.k }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { N: '1' } } }))
    t.equal(update.ConsumedCapacity?.CapacityUnits, unitsFor('UpdateItem', 9))
    const deleted = await client.send(new DeleteItemCommand({ ...R, Key: { k: item.k } }))
    t.equal(deleted.ConsumedCapacity?.CapacityUnits, unitsFor('DeleteItem', 9))
  })

  t.test('itemSizeLimit: the largest item PutItem accepts', async (t) => {
    // Key "k"="s" (2 bytes) and attribute "d" (1 byte for its name): the rest is the value.
    const put = async (bytes: number): Promise<string | undefined> =>
      await errorName(client.send(new PutItemCommand({ TableName: table, Item: { k: { S: 's' }, d: { S: 'x'.repeat(bytes - 3) } } })))
    t.equal(await put(CAN.itemSizeLimit), undefined, `${CAN.itemSizeLimit} bytes accepted`)
    t.equal(await put(CAN.itemSizeLimit + 1), 'ValidationException', 'one byte more refused')
  })

  t.test('numberSizeAsAws: a number counts about one byte per two digits, not its text', async (t) => {
    // 1,000 numbers of 17 significant digits and a large exponent: about 11 bytes each in DynamoDB, 24 as text.
    const numbers = Array.from({ length: 1000 }, () => ({ N: '-1.2345678901234567e+100' }))
    const padding = CAN.itemSizeLimit - 3 - 1 - 1 - 15_000
    const failure = await errorName(client.send(new PutItemCommand({ TableName: table, Item: { k: { S: 'n' }, d: { S: 'x'.repeat(padding) }, l: { L: numbers } } })))
    t.equal(failure, CAN.numberSizeAsAws ? undefined : 'ValidationException')
  })

  t.test('mapUpdateSizeChecked: an update inside a map cannot grow the item past the limit', async (t) => {
    await client.send(new PutItemCommand({ TableName: table, Item: { k: { S: 'u' }, d: { M: { x: { S: 'x'.repeat(CAN.itemSizeLimit - 1000) } } } } }))
    const failure = await errorName(client.send(new UpdateItemCommand({
      TableName: table,
      Key: { k: { S: 'u' } },
      UpdateExpression: 'SET d.m = :m',
      ExpressionAttributeValues: { ':m': { S: 'm'.repeat(2000) } }
    })))
    t.equal(failure, CAN.mapUpdateSizeChecked ? 'ValidationException' : undefined)
  })

  t.test('returnValuesOnConditionCheckFailure: the failed condition returns the item', async (t) => {
    await client.send(new PutItemCommand({ TableName: table, Item: { k: { S: 'r' }, v: { N: '1' } } }))
    const err = await client.send(new DeleteItemCommand({
      TableName: table, Key: { k: { S: 'r' } }, ConditionExpression: 'attribute_not_exists(k)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD'
    })).then(() => undefined, (e: Error & { Item?: unknown }) => e)
    t.equal(err?.name, 'ConditionalCheckFailedException')
    t.strictSame(err?.Item, CAN.returnValuesOnConditionCheckFailure ? { k: { S: 'r' }, v: { N: '1' } } : undefined)
  })

  t.test('scanStartKeySegmentChecked: a parallel Scan refuses a start key of another segment', async (t) => {
    const table = await plainTable(client)
    for (let i = 0; i < 20; i++) await client.send(new PutItemCommand({ TableName: table, Item: { k: { S: `row-${i}` } } }))
    const other = await client.send(new ScanCommand({ TableName: table, Segment: 1, TotalSegments: 2, Limit: 1 }))
    const key = other.Items?.[0]?.k
    t.ok(key !== undefined, 'segment 1 holds a row')
    const failure = await client.send(new ScanCommand({ TableName: table, Segment: 0, TotalSegments: 2, ExclusiveStartKey: { k: key! } }))
      .then(() => undefined, (err: Error) => err.name)
    t.equal(failure, CAN.scanStartKeySegmentChecked ? 'ValidationException' : undefined)
  })

  t.test('comparesAcrossTypes: a String compared with a Number is false, not a failed request', async (t) => {
    const table = await plainTable(client)
    await client.send(new PutItemCommand({ TableName: table, Item: { k: { S: 'typed' }, e: { S: '100' } } }))
    const scanned = await client.send(new ScanCommand({
      TableName: table, FilterExpression: '#e > :n', ExpressionAttributeNames: { '#e': 'e' }, ExpressionAttributeValues: { ':n': { N: '1' } }
    })).then((out) => out.Items?.length, (err: Error) => err.name)
    if (CAN.comparesAcrossTypes) t.equal(scanned, 0, 'no row selected')
    else t.type(scanned, 'string', `the request fails (${String(scanned)})`)
  })

  t.test('indexUnitsOnWrite: a write reports the units spent on an index', async (t) => {
    const indexed = await plainTable(client, {
      AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }],
      GlobalSecondaryIndexes: [{ IndexName: 'by_g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }]
    })
    const put = await client.send(new PutItemCommand({ TableName: indexed, Item: { k: { S: 'i' }, g: { S: 'x' } }, ReturnConsumedCapacity: 'INDEXES' }))
    t.equal(put.ConsumedCapacity?.GlobalSecondaryIndexes?.by_g?.CapacityUnits !== undefined, CAN.indexUnitsOnWrite)
  })

  t.test('indexCreationOnExistingTable: UpdateTable adds an index', async (t) => {
    const existing = await plainTable(client)
    await client.send(new UpdateTableCommand({
      TableName: existing,
      AttributeDefinitions: [{ AttributeName: 'g', AttributeType: 'S' }],
      GlobalSecondaryIndexUpdates: [{
        Create: {
          IndexName: 'by_g',
          KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
          // dynalite wants it even on an on-demand table; the others accept it there.
          ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 }
        }
      }]
    })).catch((err: Error) => t.comment(`UpdateTable: ${err.name}`))
    const indexes = (await client.send(new DescribeTableCommand({ TableName: existing }))).Table?.GlobalSecondaryIndexes ?? []
    t.equal(indexes.some((i) => i.IndexName === 'by_g'), CAN.indexCreationOnExistingTable)
  })

  t.test('onDemandIndexCreateAccepted: UpdateTable adds an index to an on-demand table without ProvisionedThroughput', async (t) => {
    const existing = await plainTable(client)
    const failure = await errorName(client.send(new UpdateTableCommand({
      TableName: existing,
      AttributeDefinitions: [{ AttributeName: 'g', AttributeType: 'S' }],
      GlobalSecondaryIndexUpdates: [{
        Create: { IndexName: 'by_g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }
      }]
    })))
    t.equal(failure, CAN.onDemandIndexCreateAccepted ? undefined : 'ValidationException')
  })

  t.test('validatesInput: a one-character table name and a capacity of 0 are refused', async (t) => {
    const refused = CAN.validatesInput ? 'ValidationException' : undefined
    t.equal(await errorName(client.send(new DescribeTableCommand({ TableName: 'x' }))), refused ?? 'ResourceNotFoundException')
    t.equal(await errorName(client.send(new CreateTableCommand({
      TableName: freshTableName('zero'),
      AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
      BillingMode: 'PROVISIONED',
      ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 1 }
    }))), refused)
  })

  t.test('signatureChecked: a request signed with a wrong secret key is refused', async (t) => {
    const forger = makeClient(t, dynamo.endpoint, { maxAttempts: 1, credentials: { accessKeyId: 'test', secretAccessKey: 'not-the-secret' } })
    const failure = await errorName(forger.send(new DescribeTableCommand({ TableName: table })))
    if (CAN.signatureChecked) t.match(failure, /^(InvalidSignatureException|UnrecognizedClientException)$/)
    else t.equal(failure, undefined)
  })
})
