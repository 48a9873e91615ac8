import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb'
import { FastTransport } from '../../src/transport/fast-transport.js'
import { createTable, makeClient, startDynalite } from '../helpers/dynamo.js'
import { startFaultProxy, type Fault } from '../helpers/fault-proxy.js'
import { impatientClient, until, watchUnexpected } from '../helpers/reliability.js'

const ATTEMPTS = 3

/** What the rest of the code reads of a failed call. */
function shape (err: unknown): Record<string, unknown> {
  const e = err as Error & { code?: string, $fault?: string, $metadata?: { attempts?: number, httpStatusCode?: number }, ThrottlingReasons?: unknown }
  return {
    name: e.name,
    code: e.code,
    fault: e.$fault,
    status: e.$metadata?.httpStatusCode,
    attempts: e.$metadata?.attempts,
    reasons: e.ThrottlingReasons
  }
}

const FAULTS: Array<[string, Fault]> = [
  ['connection reset', { kind: 'reset' }],
  ['stall past the request timeout', { kind: 'stall' }],
  ['body stalled after the headers', { kind: 'stallBody' }],
  ['throttling with reasons', { kind: 'throttle', reasons: [{ reason: 'TableReadProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:us-east-1:1:table/t' }] }],
  ['HTTP 503', { kind: 'error5xx', status: 503 }],
  ['HTTP 500', { kind: 'error5xx', status: 500 }],
  ['a client error (not retried)', { kind: 'refuse', type: 'ValidationException' }]
]

t.test('every fault ends a call alike on both transports: same error shape, same attempts', async (t) => {
  const unexpected = watchUnexpected(t)
  const dynamo = await startDynalite(t)
  const tableName = await createTable(makeClient(t, dynamo.endpoint), 'faults')
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  const input = { TableName: tableName, Key: { Sesion_Id: { S: 'a' } } }
  for (const [name, fault] of FAULTS) {
    t.test(name, async (t) => {
      proxy.inject(fault, { times: ATTEMPTS })
      const sdk = await impatientClient(t, proxy.endpoint, ATTEMPTS).send(new GetItemCommand(input)).then(() => undefined, shape)
      proxy.heal()
      proxy.inject(fault, { times: ATTEMPTS })
      const client = impatientClient(t, proxy.endpoint, ATTEMPTS)
      const transport = new FastTransport(client)
      t.teardown(() => transport.close())
      const seen: string[] = []
      const fast = await transport.send('GetItem', input, { onAttemptError: (err) => seen.push((err as Error).name) })
        .then(() => undefined, shape)
      proxy.heal()
      t.strictSame(fast, sdk)
      t.equal(seen.length, fast?.attempts, 'onAttemptError saw every attempt')
      // Healed: the same transport works again.
      const after = await transport.send('GetItem', input)
      t.equal(after.$metadata.httpStatusCode, 200)
    })
  }
  t.test('nothing is lost: a write whose response was dropped is retried and lands', async (t) => {
    const client = impatientClient(t, proxy.endpoint, ATTEMPTS)
    const transport = new FastTransport(client)
    t.teardown(() => transport.close())
    proxy.inject({ kind: 'dropResponse' }, { times: 1, operations: ['PutItem'] })
    const out = await transport.send('PutItem', { TableName: tableName, Item: { Sesion_Id: { S: 'w' }, Expire_Session: { N: '5' } } })
    proxy.heal()
    t.equal(out.$metadata.attempts, 2)
    const row = await makeClient(t, dynamo.endpoint).send(new GetItemCommand({ TableName: tableName, Key: { Sesion_Id: { S: 'w' } }, ConsistentRead: true }))
    t.strictSame(row.Item, { Sesion_Id: { S: 'w' }, Expire_Session: { N: '5' } })
  })
  t.test('the SDK\'s standard retry strategy drives the fast transport alike (its back-off, its quota)', async (t) => {
    const fault: Fault = { kind: 'error5xx', status: 502 }
    proxy.inject(fault, { times: 2 })
    const sdkOut = await makeClient(t, proxy.endpoint, { maxAttempts: ATTEMPTS }).send(new PutItemCommand({ TableName: tableName, Item: { Sesion_Id: { S: 's' } } }))
    proxy.inject(fault, { times: 2 })
    const client = makeClient(t, proxy.endpoint, { maxAttempts: ATTEMPTS })
    const transport = new FastTransport(client)
    t.teardown(() => transport.close())
    const fastOut = await transport.send('PutItem', { TableName: tableName, Item: { Sesion_Id: { S: 's' } } })
    proxy.heal()
    t.equal(fastOut.$metadata.attempts, sdkOut.$metadata.attempts)
    t.equal(fastOut.$metadata.attempts, 3)
    t.ok((fastOut.$metadata.totalRetryDelay ?? 0) > 0, 'it backed off between attempts')
  })
  t.test('an AbortSignal ends a stalled call at once with AbortError, and nothing else follows', async (t) => {
    const client = impatientClient(t, proxy.endpoint, ATTEMPTS)
    const transport = new FastTransport(client)
    t.teardown(() => transport.close())
    proxy.inject({ kind: 'stall' })
    const mark = proxy.seen.length
    const controller = new AbortController()
    const call = transport.send('GetItem', input, { abortSignal: controller.signal }).then(() => undefined, shape)
    await until(() => proxy.seen.length > mark, 'the stalled request reached the proxy')
    controller.abort()
    const err = await call
    proxy.heal()
    t.equal(err?.name, 'AbortError')
    t.equal(err?.attempts, 1)
    t.equal(proxy.seen.length, mark + 1, 'no retry after the abort')
  })
  t.test('regression: the request timeout runs from the attempt\'s start, a wait for a connection included, as the SDK\'s', async (t) => {
    // One connection, held by a call whose body stalls (a long body timeout): the next call waits for it. The SDK's
    // request timeout counts that wait; undici's headers timeout only starts on a connection, so it waited on.
    const client = impatientClient(t, proxy.endpoint, 1)
    const transport = new FastTransport(client, { connectionTimeoutMs: 1000, requestTimeoutMs: 1000, bodyTimeoutMs: 600_000 }, 1)
    const holder = new AbortController()
    t.teardown(async () => { holder.abort(); await transport.close() })
    proxy.inject({ kind: 'stallBody' }, { times: 1 })
    const mark = proxy.seen.length
    const held = transport.send('GetItem', input, { abortSignal: holder.signal }).then(() => undefined, shape)
    await until(() => proxy.seen.length > mark, 'the first call holds the connection')
    proxy.heal()
    const limit = sleep(60_000, undefined, { ref: false }).then(() => 'still waiting after 60 s')
    const waiting = await Promise.race([transport.send('GetItem', input).then(() => 'answered', shape), limit])
    t.strictSame(waiting, { name: 'TimeoutError', code: 'ETIMEDOUT', fault: undefined, status: undefined, attempts: 1, reasons: undefined })
    t.equal(proxy.seen.length, mark + 1, 'it never got the connection')
    holder.abort()
    t.equal((await held)?.name, 'AbortError')
    // The connection is free again: a request still queued for it would go out now, ahead of this one.
    t.strictSame(await transport.send('GetItem', input).then(() => 'answered', shape), 'answered')
    t.equal(proxy.seen.length, mark + 2, 'the abandoned request was dropped when the connection came free')
  })
  t.test('no unhandled rejection or uncaught exception', async (t) => {
    t.strictSame(unexpected.events, [])
  })
})

t.test('a closed transport fails calls as a reset connection, without hanging', async (t) => {
  const dynamo = await startDynalite(t)
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 })
  t.teardown(() => client.destroy())
  const transport = new FastTransport(client)
  await transport.close()
  const err = await transport.send('GetItem', { TableName: 'x', Key: { k: { S: 'a' } } }).then(() => undefined, shape)
  t.equal(err?.code, 'ECONNRESET')
  t.equal(err?.attempts, 1)
})

t.test('regression: no call succeeds after close(), even when close() came while a first call waited for the handler\'s timeouts', async (t) => {
  const dynamo = await startDynalite(t)
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 })
  t.teardown(() => client.destroy())
  const tableName = await createTable(client, 'closing')
  // The handler's settings stay pending until released: a first call parks at the wait for them, before its pool exists.
  let release = (): void => {}
  const handler = client.config.requestHandler as unknown as { configProvider?: Promise<unknown> }
  handler.configProvider = new Promise((resolve) => { release = () => { resolve({}) } })
  const transport = new FastTransport(client)
  const input = { TableName: tableName, Key: { Sesion_Id: { S: 'a' } } }
  const first = transport.send('GetItem', input).then(() => 'answered', shape)
  // Every other step of the call is settled: after the pending microtasks it waits on the settings alone.
  await new Promise((resolve) => setImmediate(resolve))
  await transport.close()
  release()
  t.equal(((await first) as { code?: unknown }).code, 'ECONNRESET', 'the parked call fails')
  const later = await transport.send('GetItem', input).then(() => 'answered', shape)
  t.equal((later as { code?: unknown }).code, 'ECONNRESET', 'and so does every later one: no pool was made after close()')
})
