import t from 'tap'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { Writable } from 'node:stream'
import { chooseTransport } from '../../src/transport/select.js'
import { buildApp } from '../helpers/app.js'
import { countCalls, createTable, makeClient, startDynalite } from '../helpers/dynamo.js'
import { startSigV4Proxy } from '../helpers/sigv4-proxy.js'

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' }

function client (t: { teardown (fn: () => unknown): void }, extra: ConstructorParameters<typeof DynamoDBClient>[0] = {}): DynamoDBClient {
  const c = new DynamoDBClient({ region: 'us-east-1', credentials: CREDENTIALS, ...extra })
  t.teardown(() => c.destroy())
  return c
}

t.test('auto picks the fast transport for stock clients only, and says why not', async (t) => {
  t.strictSame(await chooseTransport(client(t), 'auto'), { transport: 'fast', reason: 'a stock client' })
  t.strictSame(await chooseTransport(client(t, { requestHandler: { requestTimeout: 1000, connectionTimeout: 500 }, maxAttempts: 3 }), 'auto'),
    { transport: 'fast', reason: 'a stock client' }, 'handler settings and attempts keep a client stock')

  const withMiddleware = client(t)
  withMiddleware.middlewareStack.add((next) => async (args) => await next(args), { step: 'initialize', name: 'tracing' })
  t.equal((await chooseTransport(withMiddleware, 'auto')).transport, 'sdk', 'added middleware (X-Ray)')

  const wrapped = client(t)
  const original = wrapped.send.bind(wrapped)
  wrapped.send = (async (...args: Parameters<typeof original>) => await original(...args)) as typeof wrapped.send
  t.equal((await chooseTransport(wrapped, 'auto')).transport, 'sdk', 'a wrapped send (instrumentation)')

  const customHandler = client(t, { requestHandler: { handle: async () => { throw new Error('unused') } } as never })
  t.equal((await chooseTransport(customHandler, 'auto')).transport, 'sdk', 'a custom request handler')

  const legacy = client(t, { retryStrategy: { mode: 'legacy', retry: async (next: (a: unknown) => unknown, args: unknown) => await next(args) } as never })
  t.strictSame(await chooseTransport(legacy, 'auto'), { transport: 'sdk', reason: 'a legacy retry strategy' })
  t.equal((await chooseTransport(legacy, 'fast')).transport, 'sdk', 'fast cannot drive a legacy retry strategy')

  t.equal((await chooseTransport(withMiddleware, 'fast')).transport, 'fast', 'fast is taken at its word')
  t.equal((await chooseTransport(client(t), 'sdk')).transport, 'sdk')
})

async function sessionRoundTrip (t: { teardown (fn: () => unknown): void }, transport: 'fast' | 'sdk') {
  const dynamo = await startDynalite(t)
  const tableName = await createTable(makeClient(t, dynamo.endpoint), 'transport')
  const proxy = await startSigV4Proxy(t, dynamo.endpoint)
  const appClient = makeClient(t, proxy.endpoint)
  const calls = countCalls(appClient)
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _encoding, done) { lines.push(chunk.toString()); done() } })
  const app = await buildApp(t, appClient, tableName, { transport, reaper: false }, { fastify: { logger: { level: 'info', stream } } })
  calls.reset()
  const set = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
  const cookie = String(set.headers['set-cookie']).split(';')[0] ?? ''
  const got = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })
  await app.inject({ method: 'POST', url: '/set', payload: { a: 2 }, headers: { cookie } })
  await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } })
  const log = lines.map((line) => JSON.parse(line) as { msg?: string, transport?: string }).find((entry) => entry.transport !== undefined)
  return { set, got, calls, proxy, log }
}

t.test('transport: fast serves sessions without a single client.send, every request signed right', async (t) => {
  const { set, got, calls, proxy, log } = await sessionRoundTrip(t, 'fast')
  t.equal(set.statusCode, 200)
  t.equal(got.json().value, 1)
  t.equal(calls.count(), 0, 'no client.send call')
  t.ok(proxy.keyIds.length >= 4, `${proxy.keyIds.length} signed calls went through the proxy`)
  t.strictSame(proxy.rejected, { signature: 0, unknownKey: 0, expired: 0, malformed: 0 })
  t.equal(log?.transport, 'fast')
  t.match(log?.msg, /fast transport/)
})

t.test('transport: sdk sends the same calls through client.send', async (t) => {
  const { got, calls, log } = await sessionRoundTrip(t, 'sdk')
  t.equal(got.json().value, 1)
  t.ok(calls.count('GetItem') > 0 && calls.count('UpdateItem') + calls.count('PutItem') > 0, calls.calls.join(','))
  t.equal(log?.transport, 'sdk')
})
