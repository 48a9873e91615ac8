import t from 'tap'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { startDynalite, makeClient, createTable, freshTableName, getRow } from './helpers/dynamo.js'
import { startFaultProxy } from './helpers/fault-proxy.js'
import { buildApp, cookieFrom, signedCookie } from './helpers/app.js'
import { controlAwsEnv } from './helpers/aws-env.js'

// The default client (no `client` option) is configured from the environment, as the AWS SDK documents.
// This file changes process.env and restores it at teardown.

const resetEnv = controlAwsEnv(t)

const noClient = undefined as unknown as DynamoDBClient

t.test('the default client', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)

  t.test('honours AWS_ENDPOINT_URL_DYNAMODB and AWS_REGION', async (t) => {
    // Tables belong to a region (moto and AWS keep them apart; dynalite does not).
    const euAdmin = makeClient(t, dynamo.endpoint, { region: 'eu-west-1' })
    const table = await createTable(euAdmin)
    resetEnv({ AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_REGION: 'eu-west-1' })
    const app = await buildApp(t, noClient, table)
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.equal(res.statusCode, 200)
    t.strictSame((await getRow(euAdmin, table, res.json().id))?.Data, { M: { a: { N: '1' } } }, 'written to the endpoint from the environment')
    const read = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: cookieFrom(res.headers['set-cookie'])! } })
    t.equal(read.json().value, 1)
  })

  t.test('a missing region fails registration with FST_DYNAMO_SESSION_MISSING_REGION', async (t) => {
    // Not a loopback endpoint (nothing is sent to it: the region check comes first), so no local region either.
    resetEnv({ AWS_ENDPOINT_URL_DYNAMODB: 'http://192.0.2.1:8000' })
    await t.rejects(buildApp(t, noClient, 'ManejoSesion'), { code: 'FST_DYNAMO_SESSION_MISSING_REGION' })
  })

  t.test('regression: the default client on a loopback endpoint needs no AWS_REGION or credentials', async (t) => {
    // What `dynamo-session local` asks for: one variable, nothing else.
    resetEnv({ AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint })
    delete process.env.AWS_ACCESS_KEY_ID
    delete process.env.AWS_SECRET_ACCESS_KEY
    const table = await createTable(admin)
    const app = await buildApp(t, noClient, table, { createTable: undefined })
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.equal(res.statusCode, 200)
    t.strictSame((await getRow(admin, table, res.json().id))?.Data, { M: { a: { N: '1' } } }, 'written to the local endpoint')
  })

  t.test("regression: createTable defaults to 'auto': the default client creates a missing table on a loopback endpoint", async (t) => {
    resetEnv({ AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_REGION: 'us-east-1' })
    const table = freshTableName('auto')
    const app = await buildApp(t, noClient, table, { createTable: undefined }) // the plugin's default
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.equal(res.statusCode, 200)
    t.ok(await getRow(admin, table, res.json().id), 'the table was created at startup and holds the session')
  })

  t.test('a stalled DynamoDB cannot hang a request: requestTimeoutMs, then a 503', async (t) => {
    const table = await createTable(admin)
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    resetEnv({ AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint, AWS_REGION: 'us-east-1', AWS_MAX_ATTEMPTS: '1' })
    const app = await buildApp(t, noClient, table, { requestTimeoutMs: 200 })
    proxy.inject({ kind: 'stall' }, { operations: ['GetItem'] })
    const res = await app.inject({ method: 'GET', url: '/get', headers: { cookie: signedCookie('N'.repeat(32)) } })
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE')
    t.strictSame(proxy.seen, ['GetItem'], 'AWS_MAX_ATTEMPTS=1: one attempt')
  })

  t.test('without AWS_MAX_ATTEMPTS the default client makes 3 attempts', async (t) => {
    const table = await createTable(admin)
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    resetEnv({ AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint, AWS_REGION: 'us-east-1' })
    const app = await buildApp(t, noClient, table)
    proxy.inject({ kind: 'error5xx' }, { operations: ['GetItem'] })
    const res = await app.inject({ method: 'GET', url: '/get', headers: { cookie: signedCookie('O'.repeat(32)) } })
    t.equal(res.statusCode, 503)
    t.strictSame(proxy.seen, ['GetItem', 'GetItem', 'GetItem'])
  })
})
