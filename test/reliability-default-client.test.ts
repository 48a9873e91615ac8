import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { LightMyRequestResponse } from 'fastify'
import { startDynalite, makeClient, createTable } from './helpers/dynamo.js'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js'
import { buildApp, cookieFrom } from './helpers/app.js'
import { controlAwsEnv, type AwsVar } from './helpers/aws-env.js'
import { IMPATIENT_TIMEOUT_MS, impatientClient, watchUnexpected } from './helpers/reliability.js'
import { DEFAULT_MAX_ATTEMPTS } from '../src/options.js'
import { buildClient } from '../src/client.js'

// The client the plugin builds when none is passed, under a stalled DynamoDB: its own timeouts cut every stall, it
// retries as documented, and AWS_MAX_ATTEMPTS / AWS_RETRY_MODE win when set. This file changes process.env and
// restores it at teardown.

const resetEnv = controlAwsEnv(t)
function useEnv (endpoint: string, vars: Partial<Record<AwsVar, string>> = {}): void {
  resetEnv({ AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_REGION: 'us-east-1', ...vars })
}

const noClient = undefined as unknown as DynamoDBClient
const unexpected = watchUnexpected(t)

/** The request, or a failure instead of waiting for tap's own timeout when the request hangs. */
async function answered (request: Promise<LightMyRequestResponse>, limitMs = 60_000): Promise<LightMyRequestResponse> {
  const limit = sleep(limitMs, undefined, { ref: false }).then(() => { throw new Error(`no answer within ${limitMs} ms: the request hangs`) })
  return await Promise.race([request, limit])
}

/** `attempt=N; max=M` from the SDK's amz-sdk-request header of each attempt the proxy saw for `operation`. */
function attemptHeaders (proxy: FaultProxy, operation: string): string[] {
  return proxy.seen.flatMap((op, i) => op === operation ? [String(proxy.headers[i]?.['amz-sdk-request'] ?? '')] : [])
}

t.test('the default client under a stalled DynamoDB', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)

  t.test('a stall is cut off by the library\'s own timeout, after the default number of attempts', async (t) => {
    const table = await createTable(admin)
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    useEnv(proxy.endpoint)
    const app = await buildApp(t, noClient, table, { requestTimeoutMs: IMPATIENT_TIMEOUT_MS })
    const s = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const cookie = cookieFrom(s.headers['set-cookie'])!
    proxy.inject({ kind: 'stall' })
    const mark = proxy.seen.length
    const res = await answered(app.inject({ method: 'GET', url: '/get', headers: { cookie } }))
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE')
    t.strictSame(proxy.seen.slice(mark), Array(DEFAULT_MAX_ATTEMPTS).fill('GetItem'), `${DEFAULT_MAX_ATTEMPTS} attempts, each cut by the timeout`)
    t.strictSame(attemptHeaders(proxy, 'GetItem').slice(-DEFAULT_MAX_ATTEMPTS), Array.from({ length: DEFAULT_MAX_ATTEMPTS }, (_, i) => `attempt=${i + 1}; max=${DEFAULT_MAX_ATTEMPTS}`))
    proxy.heal()
    const healed = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })
    t.equal(healed.json().value, 1, 'the session written before the stall is there')
  })

  t.test('regression: a response whose body stalled after its headers hung the default client', async (t) => {
    const table = await createTable(admin)
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    useEnv(proxy.endpoint, { AWS_MAX_ATTEMPTS: '2' })
    const app = await buildApp(t, noClient, table, { requestTimeoutMs: IMPATIENT_TIMEOUT_MS })
    const created = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    proxy.inject({ kind: 'stallBody' }, { operations: ['GetItem'] })
    const res = await answered(app.inject({ method: 'GET', url: '/get', headers: { cookie: cookieFrom(created.headers['set-cookie'])! } }))
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE')
    t.strictSame(proxy.seen.filter((o) => o === 'GetItem'), ['GetItem', 'GetItem'], 'both attempts cut, then given up')
  })

  t.test('regression: the CLI and demo client hung the same way on a body stalled after its headers', async (t) => {
    const table = await createTable(admin)
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const { client } = buildClient({ endpoint: proxy.endpoint, requestTimeoutMs: IMPATIENT_TIMEOUT_MS, env: { AWS_MAX_ATTEMPTS: '2' } })
    t.teardown(() => client.destroy())
    proxy.inject({ kind: 'stallBody' })
    const limit = sleep(60_000, undefined, { ref: false }).then(() => 'hung')
    const outcome = await Promise.race([client.send(new GetItemCommand({ TableName: table, Key: { Sesion_Id: { S: 'x'.repeat(32) } } })).then(() => 'answered', (err: Error) => err.name), limit])
    t.equal(outcome, 'TimeoutError')
    t.strictSame(proxy.seen, ['GetItem', 'GetItem'])
  })

  t.test('AWS_MAX_ATTEMPTS is honoured, for stalls and for 5xx', async (t) => {
    const table = await createTable(admin)
    for (const [attempts, fault] of [['1', { kind: 'stall' }], ['2', { kind: 'stall' }], ['5', { kind: 'error5xx' }]] as const) {
      const proxy = await startFaultProxy(t, dynamo.endpoint)
      useEnv(proxy.endpoint, { AWS_MAX_ATTEMPTS: attempts })
      const app = await buildApp(t, noClient, table, { requestTimeoutMs: IMPATIENT_TIMEOUT_MS })
      proxy.inject(fault, { operations: ['PutItem'] })
      const res = await answered(app.inject({ method: 'POST', url: '/set', payload: { a: 1 } }))
      t.equal(res.statusCode, 503, `AWS_MAX_ATTEMPTS=${attempts}: 503`)
      t.equal(res.json().code, 'FST_DYNAMO_SESSION_SAVE_FAILED')
      t.equal(proxy.seen.filter((o) => o === 'PutItem').length, Number(attempts), `AWS_MAX_ATTEMPTS=${attempts}: that many attempts`)
      t.match(attemptHeaders(proxy, 'PutItem')[0], `max=${attempts}`)
      await app.close()
    }
  })

  t.test('AWS_RETRY_MODE is honoured', async (t) => {
    const table = await createTable(admin)
    // The SDK reports its retry mode in the user agent's feature list: E standard, F adaptive.
    for (const [mode, feature] of [['standard', 'E'], ['adaptive', 'F']] as const) {
      const proxy = await startFaultProxy(t, dynamo.endpoint)
      useEnv(proxy.endpoint, { AWS_RETRY_MODE: mode })
      // The mode shows in the SDK middleware's user agent: sdk transport (the fast one takes the same client.config.retryStrategy()).
      const app = await buildApp(t, noClient, table, { transport: 'sdk' })
      await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
      const features = /(?:^| )m\/([A-Za-z0-9,+/=-]+)/.exec(String(proxy.headers[0]?.['user-agent'] ?? ''))?.[1]?.split(',') ?? []
      t.ok(features.includes(feature), `${mode}: the SDK runs in that mode (features ${features.join(',')})`)
      t.notOk(features.includes(feature === 'E' ? 'F' : 'E'))
      await app.close()
    }
  })

  t.test('a passed client is used as configured: its timeout and attempts, not the environment\'s or requestTimeoutMs', async (t) => {
    const table = await createTable(admin)
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    useEnv(proxy.endpoint, { AWS_MAX_ATTEMPTS: '5' })
    const app = await buildApp(t, impatientClient(t, proxy.endpoint, 1, 100), table, { requestTimeoutMs: 60_000 })
    proxy.inject({ kind: 'stall' })
    const res = await answered(app.inject({ method: 'POST', url: '/set', payload: { a: 1 } }))
    t.equal(res.statusCode, 503)
    t.strictSame(proxy.seen, ['PutItem'], 'one attempt, cut at the passed client\'s 100 ms rather than a minute')
  })

  t.test('no unhandled rejection, no uncaught exception', async (t) => {
    t.strictSame(unexpected.events, [])
  })
})
