import { DynamoDBClient, GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb'
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../src/embedded.js'
import { ensureSessionTable } from '../../src/store/table.js'

interface Teardown { teardown (fn: () => unknown): void }

/** A dynalite server for this test file, closed at teardown. */
export async function startDynalite (t: Teardown): Promise<EmbeddedDynamo> {
  const dynamo = await startEmbeddedDynamo()
  t.teardown(() => dynamo.close())
  return dynamo
}

/** A client for a loopback endpoint, destroyed at teardown. */
export function makeClient (t: Teardown, endpoint: string, extra: Partial<ConstructorParameters<typeof DynamoDBClient>[0]> = {}): DynamoDBClient {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
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
/** A fresh session table with a unique name, default key schema unless given. */
export async function createTable (client: DynamoDBClient, prefix = 'sessions', options: { idAttribute?: string, expiresAttribute?: string } = {}): Promise<string> {
  const tableName = `${prefix}_${process.pid}_${++tableCounter}`
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
