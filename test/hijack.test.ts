import t from 'tap'
import { Registry } from 'prom-client'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { startDynalite, makeClient, createTable, countCalls, getRow } from './helpers/dynamo.js'
import { startFaultProxy } from './helpers/fault-proxy.js'
import { buildApp, cookieFrom } from './helpers/app.js'
import { impatientClient, logCapture, metricValue, watchUnexpected } from './helpers/reliability.js'
import { METRIC_NAMES } from '../src/metrics.js'
import { isTombstoneItem } from '../src/store/tombstone.js'

// Routes that answer through reply.raw after reply.hijack(): Fastify runs no onSend for them, so the session is saved
// in onResponse, and whatever needs a Set-Cookie goes through session.cookieHeader() or fails with a code.

const unexpected = watchUnexpected(t)
// The faults here fail at once (resets, 5xx): a generous timeout keeps the calls that pass from timing out on a loaded machine.
const PATIENT_MS = 5000

/**
 * `next(url)` resolves once the onResponse hooks of the next request to `url` have run: `register` adds a hook after
 * the plugin's, so the plugin's save after a hijacked reply has ended by then.
 */
function responses (): { register: (app: FastifyInstance) => void, next: (url: string) => Promise<void> } {
  const waiting = new Map<string, () => void>()
  return {
    register: (app) => app.addHook('onResponse', async (request) => {
      waiting.get(request.url)?.()
      waiting.delete(request.url)
    }),
    next: async (url) => await new Promise<void>((resolve) => { waiting.set(url, resolve) })
  }
}

/** Runs `work` after reply.hijack() and answers through reply.raw with 'ok' or the error's code. */
function hijacked (work: (request: FastifyRequest, reply: FastifyReply) => Promise<void>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.hijack()
    let body = 'ok'
    try {
      await work(request, reply)
    } catch (err) {
      body = String((err as { code?: string }).code)
    }
    if (!reply.raw.headersSent) reply.raw.writeHead(200, { 'content-type': 'text/plain' })
    reply.raw.end(body)
  }
}

function routes (app: FastifyInstance, latch: ReturnType<typeof responses>): void {
  latch.register(app)
  app.post<{ Body: Record<string, unknown> }>('/hijack/set', hijacked(async (request) => {
    for (const [k, v] of Object.entries(request.body ?? {})) request.session.set(k, v as never)
  }))
  app.post<{ Body: Record<string, unknown> }>('/hijack/save', hijacked(async (request) => {
    for (const [k, v] of Object.entries(request.body ?? {})) request.session.set(k, v as never)
    await request.session.save()
  }))
  app.post('/hijack/regenerate', hijacked(async (request) => { await request.session.regenerate() }))
  app.post('/hijack/destroy', hijacked(async (request) => { await request.session.destroy() }))
  app.post('/hijack/streaming-login', hijacked(async (request, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'text/plain' })
    request.session.set('user', 'late')
    await request.session.cookieHeader()
  }))
  app.post<{ Body: Record<string, unknown> }>('/hijack/login', hijacked(async (request, reply) => {
    for (const [k, v] of Object.entries(request.body ?? {})) request.session.set(k, v as never)
    const setCookie = await request.session.cookieHeader()
    if (setCookie !== undefined) reply.raw.setHeader('set-cookie', setCookie)
  }))
  app.post('/login-then-hijack', async (request, reply) => {
    request.session.set('role', 'admin')
    await request.session.regenerate()
    reply.hijack()
    const setCookie = await request.session.cookieHeader()
    reply.raw.writeHead(200, { 'content-type': 'text/plain', ...(setCookie === undefined ? {} : { 'set-cookie': setCookie }) })
    reply.raw.end(request.session.id)
  })
  app.post('/hijack/cookie-then-regenerate', hijacked(async (request, reply) => {
    await request.session.cookieHeader()
    await request.session.regenerate()
    reply.raw.setHeader('set-cookie', (await request.session.cookieHeader())!)
  }))
  app.post('/logout-then-hijack', async (request, reply) => {
    await request.session.destroy()
    reply.hijack()
    const setCookie = await request.session.cookieHeader()
    reply.raw.writeHead(200, { 'content-type': 'text/plain', ...(setCookie === undefined ? {} : { 'set-cookie': setCookie }) })
    reply.raw.end('bye')
  })
}

t.test('reply.hijack()', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const table = await createTable(admin)
  const client = makeClient(t, dynamo.endpoint)
  const calls = countCalls(client)
  const logs = logCapture()
  const latch = responses()
  const app = await buildApp(t, client, table, { metrics: false }, { routes: (app) => routes(app, latch), fastify: { logger: { level: 'error', stream: logs.stream } } })
  const responded = latch.next

  async function session (data: Record<string, unknown>): Promise<{ id: string, cookie: string }> {
    const res = await app.inject({ method: 'POST', url: '/set', payload: data })
    return { id: res.json().id, cookie: cookieFrom(res.headers['set-cookie'])! }
  }
  const read = async (cookie: string): Promise<unknown> => (await app.inject({ url: '/get', headers: { cookie } })).json()

  t.test('regression: a change made after reply.hijack() to an existing session is saved, once', async (t) => {
    const s = await session({ a: 1 })
    calls.reset()
    const done = responded('/hijack/set')
    const res = await app.inject({ method: 'POST', url: '/hijack/set', headers: { cookie: s.cookie }, payload: { b: 2 } })
    await done
    t.equal(res.body, 'ok')
    t.strictSame(calls.calls, ['GetItem', 'UpdateItem'], 'one load, one write')
    t.strictSame(await read(s.cookie), { id: s.id, isNew: false, value: { a: 1, b: 2 } }, 'the next request sees the change')

    calls.reset()
    const saved = responded('/hijack/save')
    t.equal((await app.inject({ method: 'POST', url: '/hijack/save', headers: { cookie: s.cookie }, payload: { c: 3 } })).body, 'ok')
    await saved
    t.strictSame(calls.calls, ['GetItem', 'UpdateItem'], 'save() in the route, nothing left for onResponse: still one write')
    t.strictSame(await read(s.cookie), { id: s.id, isNew: false, value: { a: 1, b: 2, c: 3 } })
  })

  t.test('regression: after reply.hijack(), a new session, regenerate() and destroy() throw FST_DYNAMO_SESSION_HIJACKED', async (t) => {
    const s = await session({ user: 'alice' })
    calls.reset()
    for (const url of ['/hijack/regenerate', '/hijack/destroy']) {
      const done = responded(url)
      const res = await app.inject({ method: 'POST', url, headers: { cookie: s.cookie } })
      await done
      t.equal(res.body, 'FST_DYNAMO_SESSION_HIJACKED', url)
      t.equal(res.headers['set-cookie'], undefined, `${url}: no cookie`)
    }
    t.strictSame(calls.calls, ['GetItem', 'GetItem'], 'nothing was written or deleted')
    t.strictSame(await read(s.cookie), { id: s.id, isNew: false, value: { user: 'alice' } }, 'the session is as it was')

    calls.reset()
    const saved = responded('/hijack/save')
    const res = await app.inject({ method: 'POST', url: '/hijack/save', payload: { user: 'bob' } })
    await saved
    t.equal(res.body, 'FST_DYNAMO_SESSION_HIJACKED', 'save() of a new session')
    t.equal(res.headers['set-cookie'], undefined)

    const before = logs.text().length
    const unsaved = responded('/hijack/set')
    t.equal((await app.inject({ method: 'POST', url: '/hijack/set', payload: { user: 'carol' } })).body, 'ok')
    await unsaved
    t.strictSame(calls.calls, [], 'no new session was stored: no cookie could name it')
    const logged = logs.text().slice(before).trim().split('\n').map((line) => JSON.parse(line))
    t.strictSame(logged.map((l) => [l.level, l.err?.code]), [[50, 'FST_DYNAMO_SESSION_HIJACKED']], 'the lost new session is logged as an error')

    const late = responded('/hijack/streaming-login')
    t.equal((await app.inject({ method: 'POST', url: '/hijack/streaming-login' })).body, 'FST_DYNAMO_SESSION_HIJACKED', 'cookieHeader() after the headers went out')
    await late
  })

  t.test('regression: with session.cookieHeader() before the headers, a new session on a hijacked route works end to end', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/hijack/login', payload: { user: 'dave' } })
    t.equal(res.body, 'ok')
    const cookie = cookieFrom(res.headers['set-cookie'])
    t.ok(cookie, 'the app set the cookie')
    const seen = await read(cookie!) as { id: string, isNew: boolean, value: unknown }
    t.strictSame(seen.value, { user: 'dave' })
    t.equal(seen.isNew, false)
    t.ok(await getRow(admin, table, seen.id))

    const visitor = await session({ cart: [1] })
    const login = await app.inject({ method: 'POST', url: '/login-then-hijack', headers: { cookie: visitor.cookie } })
    const fresh = cookieFrom(login.headers['set-cookie'])
    t.not(fresh, visitor.cookie, 'regenerate() before the hijack, cookie delivered by the app')
    t.strictSame(await read(fresh!), { id: login.body, isNew: false, value: { cart: [1], role: 'admin' } })
    t.ok(isTombstoneItem((await getRow(admin, table, visitor.id))!), 'the old id is a tombstone')

    const again = await app.inject({ method: 'POST', url: '/hijack/cookie-then-regenerate', headers: { cookie: fresh! } })
    t.equal(again.body, 'ok', 'after cookieHeader(), regenerate() is allowed while the headers are unsent')
    const third = cookieFrom(again.headers['set-cookie'])!
    const moved = await read(third) as { id: string, value: unknown }
    t.strictSame(moved.value, { cart: [1], role: 'admin' })
    t.not(moved.id, login.body)
    t.ok(isTombstoneItem((await getRow(admin, table, login.body))!), 'the previous id is a tombstone')

    const logout = await app.inject({ method: 'POST', url: '/logout-then-hijack', headers: { cookie: third } })
    t.match(String(logout.headers['set-cookie']), /^sessionId=; .*Max-Age=0/, 'destroy() before the hijack, clearing cookie delivered by the app')
    t.equal(await getRow(admin, table, moved.id), undefined)
  })

  t.test('no unhandled rejection, no uncaught exception', async (t) => {
    t.strictSame(unexpected.events, [])
  })
})

t.test('a save after reply.hijack() that DynamoDB fails is logged without the session id, and counted', async (t) => {
  const dynamo = await startDynalite(t)
  const table = await createTable(makeClient(t, dynamo.endpoint))
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  const registry = new Registry()
  const logs = logCapture()
  const latch = responses()
  const app = await buildApp(t, impatientClient(t, proxy.endpoint, 2, PATIENT_MS), table, { metrics: { registry } }, { routes: (app) => routes(app, latch), fastify: { logger: { level: 'error', stream: logs.stream } } })
  const responded = latch.next
  const created = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
  const cookie = cookieFrom(created.headers['set-cookie'])!
  const errors = async (): Promise<number> => await metricValue(registry, METRIC_NAMES.storeOperationDurationSeconds, { operation: 'UpdateItem', result: 'error' })
  const failedBefore = await errors()

  proxy.inject({ kind: 'error5xx' }, { operations: ['UpdateItem'] })
  t.teardown(() => proxy.heal())
  const done = responded('/hijack/set')
  t.equal((await app.inject({ method: 'POST', url: '/hijack/set', headers: { cookie }, payload: { b: 2 } })).body, 'ok')
  await done
  proxy.heal()

  t.equal(await errors() - failedBefore, 1, 'the failed write is counted')
  const logged = logs.text().trim().split('\n').map((line) => JSON.parse(line))
  t.strictSame(logged.map((l) => [l.level, l.err?.code]), [[50, 'FST_DYNAMO_SESSION_SAVE_FAILED']])
  t.notOk(logs.text().includes(created.json().id), 'the log never holds the session id')
  t.strictSame((await app.inject({ url: '/get', headers: { cookie } })).json().value, { a: 1 }, 'the session is unchanged')
})
