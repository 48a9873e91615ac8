import t from 'tap'
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb'
import { Registry } from 'prom-client'
import { createTable, countCalls } from '../helpers/dynamo.js'
import { buildApp, cookieFrom } from '../helpers/app.js'
import { seedRows, sessionId } from '../helpers/reaper.js'
import { watchUnexpected } from '../helpers/reliability.js'
import { startVerifyingMoto } from '../helpers/verifying-moto.js'
import { FastTransport } from '../../src/transport/fast-transport.js'
import { METRIC_NAMES } from '../../src/metrics.js'
import { metricValue } from '../helpers/reliability.js'

// dynalite accepts any signature: moto started with INITIAL_NO_AUTH_ACTION_COUNT checks every request's SigV4
// signature against the key it issued in its unauthenticated setup calls. This file starts its own moto (python3's
// moto, as the moto suite uses) whatever the suite's target.

const FAST_OPERATIONS = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan']

t.test('moto verifying signatures accepts every request of a session on the fast transport', async (t) => {
  const unexpected = watchUnexpected(t)
  const moto = await startVerifyingMoto(t)
  const client = new DynamoDBClient({
    endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey }
  })
  t.teardown(() => client.destroy())
  const table = await createTable(client, 'signed')
  const nowSec = Math.floor(Date.now() / 1000)
  // Expired two days ago (their index bucket has long passed): the reaper's Query and Scan pages find them.
  await seedRows(client, table, [1, 2, 3, 4].map((i) => ({ id: sessionId(i), expiresAt: nowSec - 2 * 86_400 })))
  const calls = countCalls(client)
  const registry = new Registry()
  const app = await buildApp(t, client, table, { transport: 'fast', metrics: { registry }, reaper: { schedule: false, graceSeconds: 0 } })
  t.equal(await metricValue(registry, METRIC_NAMES.transport, { transport: 'fast' }), 1)

  const created = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
  t.equal(created.statusCode, 200, 'create: PutItem')
  const cookie = cookieFrom(created.headers['set-cookie'])!
  t.equal((await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })).json().value, 1, 'load: GetItem')
  t.equal((await app.inject({ method: 'POST', url: '/set', payload: { a: 2 }, headers: { cookie } })).statusCode, 200, 'update: UpdateItem')
  t.equal((await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })).json().value, 2, 'the update landed')
  t.equal((await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } })).statusCode, 200, 'delete: DeleteItem')
  t.equal((await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })).json().value, null, 'gone')

  const viaIndex = await app.sessionReaper!.runOnce({ strategy: 'index' })
  t.match(viaIndex, { result: 'success', strategy: 'index', deleted: 2 + 2 }, 'Query pages of the expiry index, conditional deletes')
  await seedRows(client, table, [5, 6].map((i) => ({ id: sessionId(i), expiresAt: nowSec - 2 * 86_400 })))
  const viaScan = await app.sessionReaper!.runOnce({ strategy: 'scan' })
  t.match(viaScan, { result: 'success', strategy: 'scan', deleted: 2 }, 'Scan pages, conditional deletes')
  t.strictSame(calls.calls.filter((name) => FAST_OPERATIONS.includes(name)), [], 'none of them through client.send()')
  t.strictSame(unexpected.events, [])
})

t.test('moto verifying signatures rejects a wrong secret alike on both transports', async (t) => {
  const moto = await startVerifyingMoto(t)
  const client = new DynamoDBClient({
    endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: `${moto.secretAccessKey}x` }
  })
  const transport = new FastTransport(client)
  t.teardown(async () => { await transport.close(); client.destroy() })
  const input = { TableName: 'any', Key: { Sesion_Id: { S: 'a' } } }
  const shape = (err: unknown): Record<string, unknown> => {
    const e = err as Error & { $fault?: string, $metadata?: { httpStatusCode?: number, attempts?: number } }
    return { name: e.name, fault: e.$fault, status: e.$metadata?.httpStatusCode, attempts: e.$metadata?.attempts }
  }
  const viaSdk = await client.send(new GetItemCommand(input)).then(() => 'accepted', shape)
  const viaFast = await transport.send('GetItem', input).then(() => 'accepted', shape)
  // moto answers 403 with an XML body where DynamoDB sends JSON: the SDK's deserializer then fails (SyntaxError),
  // the fast transport reports an `Unknown` client fault. Both refuse, with the same status, and do not retry.
  const { name: _sdkName, fault: _sdkFault, ...sdk } = viaSdk as Record<string, unknown>
  const { name: _fastName, fault: _fastFault, ...fast } = viaFast as Record<string, unknown>
  t.strictSame(fast, sdk, 'the same status and attempts as the SDK\'s')
  t.strictSame(fast, { status: 403, attempts: 1 }, 'refused, not retried')
})
