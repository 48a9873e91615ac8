import t from 'tap'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { startDynalite, makeClient, createTable, freshTableName } from '../helpers/dynamo.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { buildApp, closedEndpoint } from '../helpers/app.js'
import { logCapture } from '../helpers/reliability.js'
import { configuredIndexes, initCommand } from '../../src/store/verify.js'
import { resolveTableShape } from '../../src/options.js'
import type { DynamoSessionOptions } from '../../src/index.js'

// The startup check (verifyTable): one DescribeTable at registration, against dynalite (directly, or behind the fault
// proxy for DynamoDB's refusals and an unreachable endpoint).

const QUICK = { maxAttempts: 1, requestHandler: { requestTimeout: 2000, connectionTimeout: 500, throwOnRequestTimeout: true } }

interface LogLine { level: number, msg: string, err?: { name?: string, message?: string } }

function lines (text: string): LogLine[] {
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as LogLine)
}

const WARN = 40

async function start (
  t: { teardown (fn: () => unknown): void }, client: DynamoDBClient, table: string, options: Partial<DynamoSessionOptions> = {}
): Promise<{ error: (Error & { code?: string }) | undefined, logs: () => LogLine[] }> {
  const logs = logCapture()
  const error = await buildApp(t, client, table, { verifyTable: true, metrics: false, ...options }, {
    fastify: { logger: { level: 'info', stream: logs.stream } }
  }).then(() => undefined, (err: Error & { code?: string }) => err)
  return { error, logs: () => lines(logs.text()) }
}

t.test('verifyTable', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const table = await createTable(admin)

  t.test('a table with its indexes: the app starts, nothing is logged', async (t) => {
    const { error, logs } = await start(t, makeClient(t, dynamo.endpoint), table)
    t.equal(error, undefined)
    t.strictSame(logs().filter((line) => line.level >= WARN), [])
  })

  t.test('regression: a missing table fails startup with FST_DYNAMO_SESSION_TABLE_MISSING, not a 503 at the first request', async (t) => {
    const missing = freshTableName('missing')
    const { error } = await start(t, makeClient(t, dynamo.endpoint), missing)
    t.equal(error?.code, 'FST_DYNAMO_SESSION_TABLE_MISSING')
    // What to do, in the message: the table, where it was looked for, and the command that creates it.
    t.ok(error?.message.includes(missing), 'names the table')
    t.ok(error?.message.includes(dynamo.endpoint), 'names the endpoint')
    t.ok(error?.message.includes('us-east-1'), 'names the region')
    t.ok(error?.message.includes(`npx dynamo-session init --table ${missing} --endpoint ${dynamo.endpoint}`), 'gives the command')
    t.equal((error?.cause as Error | undefined)?.name, 'ResourceNotFoundException', 'DynamoDB\'s error is the cause')
  })

  t.test('verifyTable: false starts without the check', async (t) => {
    const { error } = await start(t, makeClient(t, dynamo.endpoint), freshTableName('missing'), { verifyTable: false })
    t.equal(error, undefined)
  })

  t.test('regression: missing credentials fail startup with FST_DYNAMO_SESSION_MISSING_CREDENTIALS', async (t) => {
    const noCredentials = async (): Promise<never> => {
      const err = new Error('Could not load credentials from any providers')
      err.name = 'CredentialsProviderError'
      throw err
    }
    const { error } = await start(t, makeClient(t, dynamo.endpoint, { ...QUICK, credentials: noCredentials }), table)
    t.equal(error?.code, 'FST_DYNAMO_SESSION_MISSING_CREDENTIALS')
    t.ok(error?.message.includes(table), 'names the table')
  })

  t.test('an unknown access key (UnrecognizedClientException) fails startup the same way', async (t) => {
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    proxy.inject({ kind: 'refuse', type: 'UnrecognizedClientException' }, { operations: ['DescribeTable'] })
    const { error } = await start(t, makeClient(t, proxy.endpoint, QUICK), table)
    t.equal(error?.code, 'FST_DYNAMO_SESSION_MISSING_CREDENTIALS')
  })

  t.test('a role without dynamodb:DescribeTable: one warning, and the app starts', async (t) => {
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    proxy.inject({ kind: 'refuse', type: 'AccessDeniedException' }, { operations: ['DescribeTable'] })
    const { error, logs } = await start(t, makeClient(t, proxy.endpoint, QUICK), table)
    t.equal(error, undefined)
    const warnings = logs().filter((line) => line.level >= WARN)
    t.equal(warnings.length, 1, 'one warning')
    t.equal(warnings[0]?.err?.name, 'AccessDeniedException')
    t.equal(proxy.seen.filter((op) => op === 'DescribeTable').length, 1, 'one DescribeTable')
  })

  t.test("an unreachable DynamoDB fails startup with onStoreError 'fail'", async (t) => {
    const endpoint = await closedEndpoint()
    const { error } = await start(t, makeClient(t, endpoint, QUICK), table)
    t.equal(error?.code, 'FST_DYNAMO_SESSION_STORE_UNREACHABLE')
    t.ok(error?.message.includes(endpoint), 'names the endpoint')
  })

  t.test("an unreachable DynamoDB is only logged with onStoreError 'anonymous'", async (t) => {
    const { error, logs } = await start(t, makeClient(t, await closedEndpoint(), QUICK), table, { onStoreError: 'anonymous' })
    t.equal(error, undefined)
    t.equal(logs().filter((line) => line.level >= WARN).length, 1, 'one warning')
  })

  t.test('DynamoDB failing with 5xx counts as unreachable', async (t) => {
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    proxy.inject({ kind: 'error5xx', status: 500 }, { operations: ['DescribeTable'] })
    const { error } = await start(t, makeClient(t, proxy.endpoint, QUICK), table)
    t.equal(error?.code, 'FST_DYNAMO_SESSION_STORE_UNREACHABLE')
  })

  t.test('a configured expiry index that is missing is reported, and the app starts', async (t) => {
    const bare = await createTable(admin, 'bare', { expiryIndex: false })
    const { error, logs } = await start(t, makeClient(t, dynamo.endpoint), bare)
    t.equal(error, undefined)
    const warnings = logs().filter((line) => line.level >= WARN)
    t.equal(warnings.length, 1)
    t.ok(warnings[0]?.msg.includes('Expire_Bucket_Index'), 'names the index')
    t.ok(warnings[0]?.msg.includes(`npx dynamo-session init --table ${bare}`), 'gives the command that adds it')
    const { logs: without } = await start(t, makeClient(t, dynamo.endpoint), bare, { expiryIndex: false })
    t.strictSame(without().filter((line) => line.level >= WARN), [], 'nothing to report with expiryIndex: false')
  })

  t.test('regression: a table without the owner index (an upgrade that never uses owners) starts without a warning', async (t) => {
    const noOwner = await createTable(admin, 'no-owner', { ownerIndex: false })
    const { error, logs } = await start(t, makeClient(t, dynamo.endpoint), noOwner)
    t.equal(error, undefined)
    t.strictSame(logs().filter((line) => line.level >= WARN), [], 'no warning')
    const said = logs().filter((line) => line.msg.includes('Owner_Index'))
    t.equal(said.length, 1, 'said once, at info level')
    t.ok(said[0]?.msg.includes(`npx dynamo-session init --table ${noOwner}`), 'with the command that adds it')
  })

  t.test('a table with another key schema fails startup with FST_DYNAMO_SESSION_TABLE_SETUP', async (t) => {
    const { error } = await start(t, makeClient(t, dynamo.endpoint), table, { idAttribute: 'id' })
    t.equal(error?.code, 'FST_DYNAMO_SESSION_TABLE_SETUP')
  })
})

t.test('configuredIndexes and initCommand', async (t) => {
  t.strictSame(configuredIndexes(resolveTableShape({})), [
    { option: 'expiryIndex', indexName: 'Expire_Bucket_Index' },
    { option: 'ownerIndex', indexName: 'Owner_Index' }
  ])
  t.strictSame(configuredIndexes(resolveTableShape({ expiryIndex: false })), [{ option: 'ownerIndex', indexName: 'Owner_Index' }])
  t.strictSame(configuredIndexes(resolveTableShape({ expiryIndex: false, ownerIndex: false })), [])
  const target = { tableName: 'Sessions', endpoint: 'https://dynamodb.eu-west-1.amazonaws.com', region: 'eu-west-1' }
  t.equal(initCommand(resolveTableShape({ tableName: 'Sessions' }), target, false), 'npx dynamo-session init --table Sessions --region eu-west-1')
  const custom = resolveTableShape({ tableName: 'Sessions', idAttribute: 'id', expiresAttribute: 'exp', expiryIndex: { indexName: 'ByBucket' } })
  t.equal(
    initCommand(custom, { ...target, endpoint: 'http://127.0.0.1:8000' }, true),
    'npx dynamo-session init --table Sessions --id-attribute id --expires-attribute exp --expiry-index-name ByBucket --endpoint http://127.0.0.1:8000'
  )
  t.equal(initCommand(resolveTableShape({ tableName: 'Sessions', expiryIndex: false }), target, false),
    'npx dynamo-session init --table Sessions --no-expiry-index --region eu-west-1')
  t.equal(initCommand(resolveTableShape({ tableName: 'Sessions', ownerIndex: false }), target, false),
    'npx dynamo-session init --table Sessions --no-owner-index --region eu-west-1')
})
