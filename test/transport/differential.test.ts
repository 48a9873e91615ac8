import t from 'tap'
import fc from 'fast-check'
import {
  DeleteItemCommand, DescribeTableCommand, DynamoDBServiceException, GetItemCommand, PutItemCommand, QueryCommand,
  ScanCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import { FastTransport } from '../../src/transport/fast-transport.js'
import type { FastOperation, OperationInputs } from '../../src/transport/operations.js'
import { createTable, makeClient, startDynalite } from '../helpers/dynamo.js'
import { assertProperty } from '../helpers/property.js'
import { startSigV4Proxy } from '../helpers/sigv4-proxy.js'

const COMMANDS = {
  GetItem: GetItemCommand,
  PutItem: PutItemCommand,
  UpdateItem: UpdateItemCommand,
  DeleteItem: DeleteItemCommand,
  Query: QueryCommand,
  Scan: ScanCommand
} as const

type Call = { [Op in FastOperation]: { operation: Op, input: Omit<OperationInputs[Op], 'TableName'> } }[FastOperation]

type Outcome = { ok: true, output: unknown } | { ok: false, error: Record<string, unknown> }

async function viaSdk (client: DynamoDBClient, call: Call, tableName: string): Promise<Outcome> {
  const Command = COMMANDS[call.operation] as unknown as new (input: object) => Parameters<DynamoDBClient['send']>[0]
  try {
    return { ok: true, output: await client.send(new Command({ ...call.input, TableName: tableName })) }
  } catch (err) {
    return { ok: false, error: errorShape(err) }
  }
}

async function viaFast (transport: FastTransport, call: Call, tableName: string): Promise<Outcome> {
  try {
    return { ok: true, output: await transport.send(call.operation, { ...call.input, TableName: tableName } as never) }
  } catch (err) {
    return { ok: false, error: errorShape(err) }
  }
}

/** What callers may read of an error: class, name, fault, message, status, attempts and body members. */
function errorShape (err: unknown): Record<string, unknown> {
  const e = err as DynamoDBServiceException & Record<string, unknown>
  const members: Record<string, unknown> = {}
  for (const key of ['Item', 'ThrottlingReasons', 'CancellationReasons']) if (e[key] !== undefined) members[key] = e[key]
  return {
    class: Object.getPrototypeOf(e)?.constructor?.name,
    isServiceException: e instanceof DynamoDBServiceException,
    name: e.name,
    $fault: e.$fault,
    $retryable: e.$retryable,
    message: e.message,
    status: e.$metadata?.httpStatusCode,
    attempts: e.$metadata?.attempts,
    members
  }
}

/** An outcome without request ids, with the table name made neutral (the two transports write to twin tables). */
function normalize (outcome: Outcome, tableName: string): unknown {
  const text = JSON.stringify(outcome, (key, value: unknown) => {
    if (key === 'requestId' || key === 'extendedRequestId' || key === 'cfId') return undefined
    if (value instanceof Uint8Array) return { binary: Buffer.from(value).toString('base64') }
    if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer') return value
    return value === tableName ? '<table>' : value
  })
  return JSON.parse(text)
}

const key = fc.constantFrom('s1', 's2', 's3')
const scalar: fc.Arbitrary<AttributeValue> = fc.oneof(
  fc.string({ maxLength: 8 }).map((S) => ({ S })),
  fc.integer({ min: -1000, max: 1000 }).map((n) => ({ N: String(n) })),
  fc.uint8Array({ minLength: 1, maxLength: 6 }).map((B) => ({ B })),
  fc.boolean().map((BOOL) => ({ BOOL })),
  fc.constant({ NULL: true })
)
const value: fc.Arbitrary<AttributeValue> = fc.oneof(
  { weight: 3, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }).map((L) => ({ L })) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('a', 'b', 'c'), scalar, { maxKeys: 3 }).map((M) => ({ M })) },
  { weight: 1, arbitrary: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }).map((SS) => ({ SS })) }
)
const expiry = fc.integer({ min: 90, max: 110 })
const data = fc.dictionary(fc.constantFrom('x', 'y', 'z'), value, { maxKeys: 3 })
const returnOnFailure = fc.constantFrom<'ALL_OLD' | 'NONE' | undefined>('ALL_OLD', 'NONE', undefined)

function rowKey (id: string): Record<string, AttributeValue> {
  return { Sesion_Id: { S: id } }
}

/** The expiry index's attributes of a row (shard from the id, bucket = expiry), so index Queries find rows. */
function indexEntry (id: string, exp: number): Record<string, AttributeValue> {
  return { Expire_Shard: { N: String(Number(id.slice(1)) % 4) }, Expire_Bucket: { N: String(exp) } }
}

interface PutSpec { id: string, exp: number, fields: Record<string, AttributeValue>, onlyNew: boolean, onFailure: 'ALL_OLD' | 'NONE' | undefined }
interface UpdateSpec { id: string, exp: number, now: number, field: AttributeValue, returns: 'NONE' | 'ALL_NEW' | 'UPDATED_OLD' }

const get = (id: string, consistent: boolean): Call =>
  ({ operation: 'GetItem', input: { Key: rowKey(id), ConsistentRead: consistent, ReturnConsumedCapacity: 'TOTAL' } })
const malformedGet = (id: string): Call => ({ operation: 'GetItem', input: { Key: { ...rowKey(id), Extra: { S: 'x' } } } })
const put = (r: PutSpec): Call => ({
  operation: 'PutItem',
  input: {
    Item: { ...rowKey(r.id), Expire_Session: { N: String(r.exp) }, ...indexEntry(r.id, r.exp), Data: { M: r.fields } },
    ...(r.onlyNew ? { ConditionExpression: 'attribute_not_exists(Sesion_Id)' } : {}),
    ...(r.onFailure === undefined ? {} : { ReturnValuesOnConditionCheckFailure: r.onFailure }),
    ReturnConsumedCapacity: 'TOTAL'
  }
})
const update = (r: UpdateSpec): Call => ({
  operation: 'UpdateItem',
  input: {
    Key: rowKey(r.id),
    UpdateExpression: 'SET #exp = :exp, #f = :f',
    ConditionExpression: '#exp > :now',
    ExpressionAttributeNames: { '#exp': 'Expire_Session', '#f': 'Field' },
    ExpressionAttributeValues: { ':exp': { N: String(r.exp) }, ':now': { N: String(r.now) }, ':f': r.field },
    ReturnValues: r.returns,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD'
  }
})
const conditionalDelete = (id: string, cutoff: number, onFailure: 'ALL_OLD' | 'NONE' | undefined): Call => ({
  operation: 'DeleteItem',
  input: {
    Key: rowKey(id),
    ConditionExpression: '#exp < :cutoff',
    ExpressionAttributeNames: { '#exp': 'Expire_Session' },
    ExpressionAttributeValues: { ':cutoff': { N: String(cutoff) } },
    ...(onFailure === undefined ? {} : { ReturnValuesOnConditionCheckFailure: onFailure }),
    ReturnConsumedCapacity: 'INDEXES'
  }
})
const scan = (cutoff: number, limit: number): Call => ({
  operation: 'Scan',
  input: {
    FilterExpression: '#exp < :cutoff',
    ExpressionAttributeNames: { '#exp': 'Expire_Session' },
    ExpressionAttributeValues: { ':cutoff': { N: String(cutoff) } },
    Limit: limit,
    ReturnConsumedCapacity: 'TOTAL'
  }
})
const indexPage = (indexName: string, shard: number, cutoff: number): Call =>
  ({ operation: 'Query', input: { IndexName: indexName, ...indexQuery(shard, cutoff), ReturnConsumedCapacity: 'INDEXES' } })

function calls (indexName: string): fc.Arbitrary<Call> {
  return fc.oneof(
    fc.record({ id: key, consistent: fc.boolean() }).map(({ id, consistent }) => get(id, consistent)),
    fc.record({ id: key, exp: expiry, fields: data, onlyNew: fc.boolean(), onFailure: returnOnFailure }).map(put),
    fc.record({ id: key, exp: expiry, now: expiry, field: value, returns: fc.constantFrom('NONE', 'ALL_NEW', 'UPDATED_OLD' as const) }).map(update),
    fc.record({ id: key, cutoff: expiry, onFailure: returnOnFailure }).map((r) => conditionalDelete(r.id, r.cutoff, r.onFailure)),
    fc.record({ cutoff: expiry, limit: fc.integer({ min: 1, max: 4 }) }).map((r) => scan(r.cutoff, r.limit)),
    fc.record({ shard: fc.integer({ min: 0, max: 3 }), cutoff: expiry }).map((r) => indexPage(indexName, r.shard, r.cutoff)),
    // A malformed call: both transports must report DynamoDB's ValidationException alike.
    key.map(malformedGet)
  )
}

/** A sequence that always runs first, so that every outcome kind below is compared whatever the seed. */
function everyKind (indexName: string): Call[] {
  const fields = { x: { B: new Uint8Array([1, 2]) }, y: { M: { a: { SS: ['p', 'q'] } } } }
  return [
    put({ id: 's1', exp: 105, fields, onlyNew: true, onFailure: 'ALL_OLD' }),
    put({ id: 's1', exp: 106, fields: {}, onlyNew: true, onFailure: 'ALL_OLD' }),
    update({ id: 's1', exp: 107, now: 100, field: { N: '1' }, returns: 'ALL_NEW' }),
    update({ id: 's2', exp: 107, now: 100, field: { N: '1' }, returns: 'ALL_NEW' }),
    get('s1', true),
    malformedGet('s1'),
    indexPage(indexName, 1, 110),
    scan(110, 3),
    conditionalDelete('s1', 100, 'ALL_OLD'),
    conditionalDelete('s1', 110, undefined)
  ]
}

function outcomeKind (outcome: Outcome): string {
  if (!outcome.ok) return `${String(outcome.error.name)}${(outcome.error.members as { Item?: unknown }).Item === undefined ? '' : '+Item'}`
  const output = outcome.output as { Item?: unknown, Items?: unknown[] }
  return output.Item !== undefined ? 'ok+Item' : (output.Items?.length ?? 0) > 0 ? 'ok+Items' : 'ok'
}

/** The index's key schema, read from the table (the Query pages the expiry index finder sends look like this). */
let indexQuery: (shard: number, cutoff: number) => Pick<OperationInputs['Query'], 'KeyConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>

t.test('the fast transport and client.send give the same outputs and errors for the same commands', async (t) => {
  const dynamo = await startDynalite(t)
  // Every request of either transport goes through the signature check.
  const proxy = await startSigV4Proxy(t, dynamo.endpoint)
  const client = makeClient(t, proxy.endpoint)
  const transport = new FastTransport(client)
  t.teardown(() => transport.close())
  const sdkTable = await createTable(client, 'diff_sdk')
  const fastTable = await createTable(client, 'diff_fast')
  const described = await client.send(new DescribeTableCommand({ TableName: sdkTable }))
  const index = described.Table?.GlobalSecondaryIndexes?.[0]
  t.ok(index, 'the test table has the expiry index')
  const [hash, range] = [index?.KeySchema?.[0]?.AttributeName ?? '', index?.KeySchema?.[1]?.AttributeName ?? '']
  const hashType = described.Table?.AttributeDefinitions?.find((a) => a.AttributeName === hash)?.AttributeType ?? 'S'
  indexQuery = (shard, cutoff) => ({
    KeyConditionExpression: '#h = :h AND #r < :c',
    ExpressionAttributeNames: { '#h': hash, '#r': range },
    ExpressionAttributeValues: { ':h': hashType === 'N' ? { N: String(shard) } : { S: String(shard) }, ':c': { N: String(cutoff) } }
  })
  const seen = new Map<string, number>()
  await assertProperty(fc.asyncProperty(fc.array(calls(index?.IndexName ?? ''), { minLength: 1, maxLength: 12 }), async (sequence) => {
    for (const call of sequence) {
      const expected = await viaSdk(client, call, sdkTable)
      const actual = await viaFast(transport, call, fastTable)
      t.strictSame(normalize(actual, fastTable), normalize(expected, sdkTable))
      const kind = `${call.operation} ${outcomeKind(expected)}`
      seen.set(kind, (seen.get(kind) ?? 0) + 1)
    }
  }), { numRuns: 25, examples: [[everyKind(index?.IndexName ?? '')]] })
  // The runs covered what matters: conflicts, malformed calls, rows found by the index. (dynalite returns no `Item`
  // with a conflict: test/transport/protocol.test.ts covers that member.)
  for (const kind of ['PutItem ok', 'PutItem ConditionalCheckFailedException', 'UpdateItem ok', 'UpdateItem ConditionalCheckFailedException',
    'DeleteItem ok', 'DeleteItem ConditionalCheckFailedException', 'GetItem ok+Item', 'GetItem ValidationException', 'Query ok+Items', 'Scan ok+Items']) {
    t.ok((seen.get(kind) ?? 0) > 0, `compared ${kind}: ${seen.get(kind) ?? 0}`)
  }
  t.strictSame(proxy.rejected, { signature: 0, unknownKey: 0, expired: 0, malformed: 0 }, 'every request was signed right')
  t.ok(proxy.keyIds.length > 100, `${proxy.keyIds.length} signatures checked`)
})
