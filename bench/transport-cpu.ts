// The app CPU of one DynamoDB call, client.send() against the fast transport: GetItem of a ~250-byte row on dynalite
// (in a child process, so its CPU is not counted), 10 concurrent callers. `npm run bench:transport`.
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb'
import { FastTransport } from '../src/transport/fast-transport.js'
import { benchFile, killAllChildren, startChild } from './children.js'
import type { DynamoInfo } from './dynamo-server.js'

const CALLS = 4000
const CONCURRENCY = 10
const WARMUP_CALLS = 500
const ROUNDS = 4
const TABLE = 'transport_cpu'

async function cpuPerCall (call: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP_CALLS; i++) await call()
  let started = 0
  const before = process.cpuUsage()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (started++ < CALLS) await call()
  }))
  const used = process.cpuUsage(before)
  return (used.user + used.system) / CALLS
}

async function main (): Promise<void> {
  const dynamo = await startChild<DynamoInfo>(benchFile('dynamo-server'))
  const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' }
  const client = new DynamoDBClient({ endpoint: dynamo.info.direct, region: 'us-east-1', credentials })
  await client.send(new CreateTableCommand({
    TableName: TABLE,
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST'
  }))
  await client.send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: 'k' }, data: { M: { a: { S: 'x'.repeat(200) } } } } }))
  const fast = new FastTransport(client)
  const input = { TableName: TABLE, Key: { id: { S: 'k' } } }
  const rows: string[] = ['| round | client.send µs/call | fast µs/call | ratio |', '| ---: | ---: | ---: | ---: |']
  for (let round = 1; round <= ROUNDS; round++) {
    const sdk = await cpuPerCall(async () => await client.send(new GetItemCommand(input)))
    const lean = await cpuPerCall(async () => await fast.send('GetItem', input))
    rows.push(`| ${round} | ${sdk.toFixed(0)} | ${lean.toFixed(0)} | ${(lean / sdk).toFixed(2)} |`)
  }
  console.log(rows.join('\n'))
  await fast.close()
  client.destroy()
  await dynamo.stop()
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
}).finally(killAllChildren)
