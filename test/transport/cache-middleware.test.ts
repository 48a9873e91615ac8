import t from 'tap'
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { Registry } from 'prom-client'
import { createTable, makeClient, startDynalite } from '../helpers/dynamo.js'
import { startFaultProxy, type Fault } from '../helpers/fault-proxy.js'
import { buildApp, cookieFrom } from '../helpers/app.js'
import { controlAwsEnv } from '../helpers/aws-env.js'
import { metricValue, watchUnexpected } from '../helpers/reliability.js'
import { buildClient, defaultClient } from '../../src/client.js'
import { SdkSender } from '../../src/transport/sender.js'
import { METRIC_NAMES } from '../../src/metrics.js'

// The clients the library builds reuse each command's resolved middleware (cacheMiddleware); the sdk transport's
// per-attempt observer must still see every attempt. This file changes process.env and restores it at teardown.

const resetEnv = controlAwsEnv(t)
const noClient = undefined as unknown as DynamoDBClient
const THROTTLE: Fault = { kind: 'throttle', reasons: [{ reason: 'TableReadProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:us-east-1:1:table/t' }] }

/** The SDK's handler cache of a client with cacheMiddleware (internal: read here only to prove it is in use). */
function cachedHandlers (client: DynamoDBClient): WeakMap<object, unknown> | undefined {
  return (client as unknown as { handlers?: WeakMap<object, unknown> }).handlers
}

t.test('the clients the plugin and the CLI build set cacheMiddleware', async (t) => {
  resetEnv({ AWS_REGION: 'us-east-1' })
  const plugin = defaultClient(1000)
  const cli = buildClient({ endpoint: 'http://127.0.0.1:1', requestTimeoutMs: 1000, env: {} }).client
  t.teardown(() => { plugin.destroy(); cli.destroy() })
  t.equal(plugin.config.cacheMiddleware, true)
  t.equal(cli.config.cacheMiddleware, true)
})

t.test('sdk transport on a client the library built: cached handlers, and every attempt of every call observed', async (t) => {
  const unexpected = watchUnexpected(t)
  const dynamo = await startDynalite(t)
  const table = await createTable(makeClient(t, dynamo.endpoint), 'cache')
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  const client = buildClient({ endpoint: proxy.endpoint, requestTimeoutMs: 5000, env: { AWS_MAX_ATTEMPTS: '2' } }).client
  t.teardown(() => client.destroy())
  const sender = new SdkSender(client)
  const input = { TableName: table, Key: { Sesion_Id: { S: 'a' } } }
  await sender.send('GetItem', input)
  t.ok(cachedHandlers(client)?.has(GetItemCommand) === true, 'the SDK reuses the handler it resolved for GetItem')
  proxy.inject(THROTTLE, { operations: ['GetItem'] })
  for (const call of [1, 2, 3]) {
    const seen: string[] = []
    const err = await sender.send('GetItem', input, { onAttemptError: (e) => seen.push((e as Error).name) }).catch((e: unknown) => e)
    t.equal((err as Error).name, 'ProvisionedThroughputExceededException', `call ${call} fails throttled`)
    t.strictSame(seen, ['ProvisionedThroughputExceededException', 'ProvisionedThroughputExceededException'], `call ${call}: both attempts observed`)
  }
  t.ok(cachedHandlers(client)?.has(GetItemCommand) === true, 'still from the cache')
  t.strictSame(unexpected.events, [])
})

t.test('a plugin-built client on the sdk transport counts every throttled attempt of every request', async (t) => {
  const unexpected = watchUnexpected(t)
  const dynamo = await startDynalite(t)
  const table = await createTable(makeClient(t, dynamo.endpoint), 'cache')
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  resetEnv({ AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint, AWS_REGION: 'us-east-1', AWS_MAX_ATTEMPTS: '2' })
  const registry = new Registry()
  const app = await buildApp(t, noClient, table, { transport: 'sdk', metrics: { registry }, reaper: false })
  const created = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
  const cookie = cookieFrom(created.headers['set-cookie'])!
  t.equal((await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })).json().value, 1, 'a first GetItem, unthrottled')
  proxy.inject(THROTTLE, { operations: ['GetItem'] })
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ method: 'GET', url: '/get', headers: { cookie } })).statusCode, 503)
  const throttled = await metricValue(registry, METRIC_NAMES.throttledRequestsTotal,
    { component: 'request', operation: 'GetItem', reason: 'TableReadProvisionedThroughputExceeded' })
  t.equal(throttled, 6, '3 requests, 2 attempts each')
  t.equal(await metricValue(registry, METRIC_NAMES.transport, { transport: 'sdk' }), 1)
  t.strictSame(unexpected.events, [])
})
