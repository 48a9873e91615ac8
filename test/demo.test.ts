import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fastifyCookie from '@fastify/cookie'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import { escapeHtml, startDemo, type Demo, type DemoOptions } from '../src/demo.js'
import { getRow, makeClient, startDynalite } from './helpers/dynamo.js'

const SECRET = 'a-demo-secret-that-is-long-enough-0123456789'

interface Page { status: number, body: string, setCookie: string[], location: string | null }

async function demoFor (t: { teardown (fn: () => unknown): void }, options: DemoOptions = {}): Promise<Demo> {
  const demo = await startDemo({ port: 0, metricsPort: 0, env: {}, ...options })
  t.teardown(() => demo.close())
  return demo
}

async function request (demo: Demo, method: 'GET' | 'POST', path: string, cookie?: string, form?: Record<string, string>): Promise<Page> {
  const headers: Record<string, string> = {}
  if (cookie !== undefined) headers.cookie = cookie
  if (form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded'
  const response = await fetch(demo.url + path, {
    method,
    headers,
    redirect: 'manual',
    ...(form !== undefined ? { body: new URLSearchParams(form).toString() } : {})
  })
  return { status: response.status, body: await response.text(), setCookie: response.headers.getSetCookie(), location: response.headers.get('location') }
}

/** The `sessionId=value` pair of the response's Set-Cookie, if any. */
function cookieOf (page: Page): string | undefined {
  return page.setCookie.find((c) => c.startsWith('sessionId='))?.split(';')[0]
}

function idOf (cookie: string): string {
  return decodeURIComponent(cookie.slice('sessionId='.length)).split('.')[0]!
}

function visits (page: Page): number {
  return Number(/id="visits">(\d+)</.exec(page.body)?.[1])
}

function user (page: Page): string | undefined {
  return /id="user">([^<]*)</.exec(page.body)?.[1]
}

t.test('demo on its own embedded dynalite', async (t) => {
  const demo = await demoFor(t)
  t.ok(demo.embedded)
  t.ok(demo.randomSecret)
  t.equal(demo.tableName, 'ManejoSesion')
  t.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const client = makeClient(t, demo.endpoint)
  t.equal((await client.send(new DescribeTableCommand({ TableName: demo.tableName }))).Table?.TableStatus, 'ACTIVE', 'the table was created')
  const row = async (cookie: string): Promise<Record<string, unknown> | undefined> => await getRow(client, demo.tableName, idOf(cookie))

  t.test('GET / counts visits in the session across requests', async (t) => {
    const first = await request(demo, 'GET', '/')
    t.equal(first.status, 200)
    t.match(first.body, 'Not logged in')
    t.equal(visits(first), 1)
    const cookie = cookieOf(first)!
    t.ok(cookie, 'a session cookie is set')
    t.equal(visits(await request(demo, 'GET', '/', cookie)), 2)
    t.equal(visits(await request(demo, 'GET', '/', cookie)), 3)
    t.match(await row(cookie), { Data: { M: { visits: { N: '3' } } } }, 'the counter lives in the DynamoDB row')
    t.equal(visits(await request(demo, 'GET', '/')), 1, 'another client has its own session')
    const icon = await request(demo, 'GET', '/favicon.ico')
    t.equal(icon.status, 204)
    t.strictSame(icon.setCookie, [], 'no session for the favicon')
  })

  t.test('regression: the demo serves its metrics on a loopback port of their own, not on the app\'s port', async (t) => {
    const metrics = new URL(demo.metricsUrl)
    t.equal(metrics.hostname, '127.0.0.1')
    t.equal(metrics.pathname, '/metrics')
    t.not(metrics.port, new URL(demo.url).port, 'another port than the app\'s')
    const response = await fetch(demo.metricsUrl)
    t.equal(response.status, 200)
    t.match(await response.text(), /^dynamo_session_/m)
    const onApp = await request(demo, 'GET', '/metrics')
    t.equal(onApp.status, 404, 'the app\'s port does not serve them')
    t.strictSame(onApp.setCookie, [], 'and answers without a session')
  })

  t.test('POST /login regenerates the session id, keeps the data, sets the user', async (t) => {
    const start = await request(demo, 'GET', '/')
    const before = cookieOf(start)!
    const login = await request(demo, 'POST', '/login', before, { username: 'alice' })
    t.equal(login.status, 303)
    t.equal(login.location, '/')
    const after = cookieOf(login)!
    t.ok(after)
    t.not(idOf(after), idOf(before), 'a new session id')
    t.equal((await row(before))?.Data, undefined, 'the old row holds no session any more')
    t.ok((await row(before))?.Superseded_At, 'it is a tombstone')
    t.match(await row(after), { Data: { M: { user: { S: 'alice' }, visits: { N: '1' } } } })

    const home = await request(demo, 'GET', '/', after)
    t.equal(user(home), 'alice')
    t.equal(visits(home), 2, 'the counter survived the new id')

    const stale = await request(demo, 'GET', '/', before)
    t.equal(user(stale), undefined, 'the old id is dead')
    t.equal(visits(stale), 1)
    t.equal(cookieOf(stale), undefined, 'and its answer leaves the login cookie alone')
  })

  t.test('POST /login without a usable name is a 400 that changes nothing', async (t) => {
    const start = await request(demo, 'GET', '/')
    const cookie = cookieOf(start)!
    const forms: Array<Record<string, string>> = [{}, { username: '   ' }, { username: 'x'.repeat(65) }]
    for (const form of forms) {
      const r = await request(demo, 'POST', '/login', cookie, form)
      t.equal(r.status, 400, JSON.stringify(form))
      t.equal(cookieOf(r), undefined, 'no new id')
      t.match(r.body, 'Enter a user name')
    }
    t.match(await row(cookie), { Data: { M: { visits: { N: '1' } } } })
    t.notMatch(await row(cookie), { Data: { M: { user: {} } } })
  })

  t.test('POST /logout deletes the row and clears the cookie', async (t) => {
    const login = await request(demo, 'POST', '/login', undefined, { username: 'bob' })
    const cookie = cookieOf(login)!
    t.ok(await row(cookie))
    const logout = await request(demo, 'POST', '/logout', cookie)
    t.equal(logout.status, 303)
    t.equal(logout.location, '/')
    const cleared = logout.setCookie.find((c) => c.startsWith('sessionId='))
    t.match(cleared, /^sessionId=;/)
    t.match(cleared, /Max-Age=0/i)
    t.equal(await row(cookie), undefined, 'the row is gone')
    const home = await request(demo, 'GET', '/', cookie)
    t.equal(user(home), undefined)
    t.equal(visits(home), 1)
  })

  t.test('the user name is HTML-escaped', async (t) => {
    const name = '<script>alert("x")</script>&\''
    const login = await request(demo, 'POST', '/login', undefined, { username: name })
    const home = await request(demo, 'GET', '/', cookieOf(login))
    t.equal(user(home), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;')
    t.notMatch(home.body, '<script>')
  })
})

t.test('escapeHtml', async (t) => {
  t.equal(escapeHtml(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&#39;f')
  t.equal(escapeHtml('plain'), 'plain')
})

t.test('AWS_ENDPOINT_URL_DYNAMODB and SESSION_SECRET: two demos on one DynamoDB share sessions', async (t) => {
  const dynamo = await startDynalite(t)
  const env = { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, SESSION_SECRET: SECRET }
  const a = await demoFor(t, { env, tableName: 'demo_shared' })
  const b = await demoFor(t, { env, tableName: 'demo_shared' })
  t.equal(a.endpoint, dynamo.endpoint)
  t.notOk(a.embedded, 'no embedded dynalite when an endpoint is set')
  t.notOk(a.randomSecret)
  t.equal(b.table.created, false, 'the second demo found the table')
  const first = await request(a, 'GET', '/')
  const cookie = cookieOf(first)!
  const signed = decodeURIComponent(cookie.slice('sessionId='.length))
  t.ok(new fastifyCookie.Signer(SECRET).unsign(signed).valid, 'the cookie is signed with SESSION_SECRET')
  t.equal(visits(await request(b, 'GET', '/', cookie)), 2)
  t.ok(await getRow(makeClient(t, dynamo.endpoint), 'demo_shared', idOf(cookie)))
})

t.test('--data-dir persists sessions across restarts', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dynamo-session-demo-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { SESSION_SECRET: SECRET }
  const first = await startDemo({ port: 0, metricsPort: 0, env, dataDir })
  let cookie: string
  try {
    cookie = cookieOf(await request(first, 'POST', '/login', undefined, { username: 'carol' }))!
  } finally {
    await first.close()
  }
  const second = await demoFor(t, { env, dataDir })
  t.equal(second.table.created, false)
  const home = await request(second, 'GET', '/', cookie)
  t.equal(user(home), 'carol')
})

t.test('a weak SESSION_SECRET is rejected with the coded error', async (t) => {
  await t.rejects(startDemo({ port: 0, metricsPort: 0, env: { SESSION_SECRET: 'too-short' } }), { code: 'FST_DYNAMO_SESSION_INVALID_SECRET' })
})

t.test('a busy port fails startup and releases what was started', async (t) => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const port = (blocker.address() as { port: number }).port
  const dataDir = mkdtempSync(join(tmpdir(), 'dynamo-session-demo-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  await t.rejects(startDemo({ port, metricsPort: 0, env: {}, dataDir }), { code: 'EADDRINUSE' })
  await t.rejects(startDemo({ port: 0, metricsPort: port, env: {}, dataDir }), { code: 'EADDRINUSE' }, 'the metrics port too')
  // LevelDB locks its directory while open: a second start on it only works if the first dynalite was closed.
  const demo = await demoFor(t, { dataDir })
  t.ok(demo.embedded)
})
