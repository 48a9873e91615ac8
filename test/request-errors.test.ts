import t from 'tap'
import { startDynalite, makeClient, createTable } from './helpers/dynamo.js'
import { startFaultProxy } from './helpers/fault-proxy.js'
import { buildApp, closedEndpoint, cookieFrom, signedCookie, SECRET } from './helpers/app.js'
import { logCapture, until } from './helpers/reliability.js'
import { errorLabel } from '../src/aws-errors.js'

// Store errors at request time: the 503 a client sees names the error only (AWS messages can carry the account id,
// the role and table ARNs), the log line says what DynamoDB said, and the coded error keeps DynamoDB's as its cause.

const ACCOUNT = '123456789012'
const DENIED = `User: arn:aws:sts::${ACCOUNT}:assumed-role/app-role/i-0abc is not authorized to perform: ` +
  `dynamodb:%s on resource: arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/sessions because no identity-based policy allows it`
const QUICK = { maxAttempts: 1, requestHandler: { requestTimeout: 5000, connectionTimeout: 1000, throwOnRequestTimeout: true } }

t.test('an AccessDeniedException at request time', async (t) => {
  const dynamo = await startDynalite(t)
  const table = await createTable(makeClient(t, dynamo.endpoint))
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  const logs = logCapture()
  const causes: unknown[] = []
  const app = await buildApp(t, makeClient(t, proxy.endpoint, QUICK), table, { metrics: false }, {
    fastify: { logger: { level: 'info', stream: logs.stream } },
    routes: (app) => {
      app.addHook('onError', async (_request, _reply, err) => { causes.push(err.cause) })
    }
  })
  const login = await app.inject({ method: 'POST', url: '/set', payload: { user: 'alice' } })
  const cookie = cookieFrom(login.headers['set-cookie'])!
  const id = login.json().id as string

  for (const [operation, url, method, code] of [
    ['GetItem', '/get', 'GET', 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE'],
    ['UpdateItem', '/set', 'POST', 'FST_DYNAMO_SESSION_SAVE_FAILED']
  ] as const) {
    t.test(`${operation}: the 503 body has no ARN or account id, the log line has DynamoDB's message`, async (t) => {
      t.teardown(() => proxy.heal())
      proxy.inject({ kind: 'refuse', type: 'AccessDeniedException', message: DENIED.replace('%s', operation) }, { operations: [operation] })
      const before = logs.text().length
      const res = await app.inject({ method, url, headers: { cookie }, ...(method === 'POST' ? { payload: { user: 'bob' } } : {}) })
      t.equal(res.statusCode, 503)
      t.equal(res.json().code, code)
      t.ok(res.body.includes('AccessDeniedException'), 'the body names the error')
      t.notOk(res.body.includes(ACCOUNT), 'no account id in the body')
      t.notOk(res.body.includes('arn:'), 'no ARN in the body')
      const logged = logs.text().slice(before)
      t.ok(logged.includes('AccessDeniedException'), 'the log names the error')
      t.ok(logged.includes(`arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/sessions`), "the log has DynamoDB's message")
      t.notOk(logged.includes(id), 'no session id in the log')
      t.notOk(logged.includes(SECRET), 'no secret in the log')
      t.equal((causes.at(-1) as Error | undefined)?.name, 'AccessDeniedException', "DynamoDB's error is the cause")
    })
  }
})

t.test('regression: a save after reply.hijack() that DynamoDB refuses is logged with what DynamoDB said', async (t) => {
  const dynamo = await startDynalite(t)
  const table = await createTable(makeClient(t, dynamo.endpoint))
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  const logs = logCapture()
  const app = await buildApp(t, makeClient(t, proxy.endpoint, QUICK), table, { metrics: false }, {
    fastify: { logger: { level: 'info', stream: logs.stream } },
    routes: (app) => {
      app.post('/hijack/set', async (request, reply) => {
        request.session.set('user', 'carol')
        reply.hijack()
        reply.raw.end('ok')
      })
    }
  })
  const login = await app.inject({ method: 'POST', url: '/set', payload: { user: 'alice' } })
  const cookie = cookieFrom(login.headers['set-cookie'])!
  proxy.inject({ kind: 'refuse', type: 'AccessDeniedException', message: DENIED.replace('%s', 'UpdateItem') }, { operations: ['UpdateItem'] })
  t.teardown(() => proxy.heal())
  const res = await app.inject({ method: 'POST', url: '/hijack/set', headers: { cookie } })
  t.equal(res.body, 'ok')
  await until(() => logs.text().includes('reply.hijack()'), 'the log line of the failed save')
  const line = logs.text().split('\n').find((l) => l.includes('reply.hijack()'))
  t.ok(line?.includes(`arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/sessions`), "the log line has DynamoDB's message")
  t.ok(line?.includes('FST_DYNAMO_SESSION_SAVE_FAILED'), 'and the coded error')
})

t.test('regression: a refused connection reads ECONNREFUSED in the 503, not Error', async (t) => {
  const app = await buildApp(t, makeClient(t, await closedEndpoint(), QUICK), 'ManejoSesion', { metrics: false })
  const res = await app.inject({ url: '/get', headers: { cookie: signedCookie('A'.repeat(32)) } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE')
  t.equal(res.json().message, 'The session store is unavailable: ECONNREFUSED')
})

t.test('errorLabel', async (t) => {
  const named = new Error('m')
  named.name = 'ThrottlingException'
  t.equal(errorLabel(named), 'ThrottlingException')
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })
  t.equal(errorLabel(refused), 'ECONNREFUSED')
  t.equal(errorLabel(new AggregateError([refused], '')), 'ECONNREFUSED', 'the first of a message-less AggregateError')
  t.equal(errorLabel(new Error('plain')), 'Error')
  t.equal(errorLabel('a string'), 'unknown error')
})

t.test('regression: an error in the reply after a session write reaches Fastify\'s error handling (no hang, no unhandled rejection)', async (t) => {
  const dynamo = await startDynalite(t)
  const table = await createTable(makeClient(t, dynamo.endpoint))
  const rejected = new Promise<string>((resolve) => {
    const onRejection = (err: unknown): void => { resolve(`unhandled rejection: ${String(err)}`) }
    process.once('unhandledRejection', onRejection)
    t.teardown(() => { process.off('unhandledRejection', onRejection) })
  })
  const app = await buildApp(t, makeClient(t, dynamo.endpoint), table, { metrics: false }, {
    routes: (app) => {
      // A body Fastify refuses only when it writes the reply, after every onSend hook (the plugin's is the last).
      app.get('/consumed', async (request) => {
        request.session.set('k', 1)
        const response = new Response('x')
        await response.text()
        return response
      })
    }
  })
  const outcome = await Promise.race([app.inject({ url: '/consumed' }).then((res) => res.statusCode), rejected])
  t.equal(outcome, 500)
})

t.test('regression: a request.session the app replaced is reported once; the error reply and later onResponse hooks still run', async (t) => {
  const dynamo = await startDynalite(t)
  const table = await createTable(makeClient(t, dynamo.endpoint))
  const seen: string[] = []
  const app = await buildApp(t, makeClient(t, dynamo.endpoint), table, { metrics: false }, {
    routes: (app) => {
      app.setErrorHandler(async (err, _request, reply) => await reply.code(418).send({ handled: (err as Error).name }))
      app.addHook('onResponse', (_request, _reply, done) => { seen.push('onResponse'); done() })
      app.get('/foreign', async (request) => {
        (request as unknown as { session: unknown }).session = { fake: true }
        return 'x'
      })
    }
  })
  const res = await app.inject({ url: '/foreign' })
  t.equal(res.statusCode, 418)
  t.strictSame(res.json(), { handled: 'TypeError' })
  t.strictSame(seen, ['onResponse'])
})
