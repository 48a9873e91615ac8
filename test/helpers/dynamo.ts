import { DynamoDBClient, GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb'
import { randomBytes } from 'node:crypto'
import { startEmbeddedDynamo } from '../../src/embedded.js'
import { ensureSessionTable, type EnsureTableOptions } from '../../src/store/table.js'
import { TARGET } from './target.js'

interface Teardown { teardown (fn: () => unknown): void }

/** The DynamoDB endpoint a test talks to. */
export interface TestDynamo {
  readonly endpoint: string
  readonly port: number
  /** Stops the server this test started; nothing for a shared server (moto, AWS). Outages go through the fault proxy. */
  close (): Promise<void>
}

/**
 * The DynamoDB of this test run (see ./target.ts): a fresh dynalite server, closed at teardown, or the shared
 * server of the run (moto, AWS), which tests keep apart by table name (createTable).
 */
export async function startDynalite (t: Teardown): Promise<TestDynamo> {
  if (TARGET.endpoint !== undefined) {
    const url = new URL(TARGET.endpoint)
    const port = Number(url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port)
    return { endpoint: TARGET.endpoint, port, close: async () => {} }
  }
  const dynamo = await startEmbeddedDynamo()
  t.teardown(() => dynamo.close())
  return dynamo
}

/**
 * A client for the test endpoint (static test credentials, us-east-1), destroyed at teardown. On the AWS target it
 * uses the SDK's default credentials and region instead.
 */
export function makeClient (t: Teardown, endpoint: string, extra: Partial<ConstructorParameters<typeof DynamoDBClient>[0]> = {}): DynamoDBClient {
  const client = new DynamoDBClient({
    endpoint,
    ...(TARGET.name === 'aws' ? {} : { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
    ...extra
  })
  t.teardown(() => client.destroy())
  return client
}

/** Counts the commands a client sends, by name (e.g. GetItem), through SDK middleware. */
export function countCalls (client: DynamoDBClient): { readonly calls: string[], reset (): void, count (name?: string): number } {
  const calls: string[] = []
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName).replace(/Command$/, ''))
      return await next(args)
    },
    { step: 'initialize', name: 'countCalls' }
  )
  return {
    calls,
    reset: () => { calls.length = 0 },
    count: (name?: string) => name === undefined ? calls.length : calls.filter((c) => c === name).length
  }
}

let tableCounter = 0
const FILE_TOKEN = `${process.pid}_${randomBytes(4).toString('hex')}`
/**
 * A table name no other test file of any run uses (test files share one server on moto and AWS), starting with the
 * run's table prefix (DYNAMO_SESSION_TEST_TABLE_PREFIX).
 */
export function freshTableName (prefix = 'sessions'): string {
  return `${TARGET.tablePrefix}${prefix}_${FILE_TOKEN}_${++tableCounter}`
}

/**
 * A fresh session table with a unique name, default key schema, expiry index and owner index unless given
 * (`expiryIndex: false`, `ownerIndex: false`: none).
 */
export async function createTable (
  client: DynamoDBClient,
  prefix = 'sessions',
  options: Pick<EnsureTableOptions, 'idAttribute' | 'expiresAttribute' | 'expiryIndex' | 'ownerIndex'> = {}
): Promise<string> {
  const tableName = freshTableName(prefix)
  await ensureSessionTable(client, { tableName, ...options })
  return tableName
}

export async function getRow (client: DynamoDBClient, tableName: string, id: string, idAttribute = 'Sesion_Id'): Promise<Record<string, AttributeValue> | undefined> {
  const out = await client.send(new GetItemCommand({ TableName: tableName, Key: { [idAttribute]: { S: id } }, ConsistentRead: true }))
  return out.Item
}

export async function putRow (client: DynamoDBClient, tableName: string, item: Record<string, AttributeValue>): Promise<void> {
  await client.send(new PutItemCommand({ TableName: tableName, Item: item }))
}
