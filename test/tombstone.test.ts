import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { startDynalite, makeClient, createTable, getRow, countCalls } from './helpers/dynamo.js'
import { buildApp, cookieFrom, fakeClock, isClearingCookie } from './helpers/app.js'
import { reaperOptions } from './helpers/reaper.js'
import { startFaultProxy } from './helpers/fault-proxy.js'
import { gate, impatientClient } from './helpers/reliability.js'
import { collectStats } from '../src/reaper/stats.js'
import { METRIC_NAMES } from '../src/metrics.js'

// Login (regenerate()) leaves a tombstone under the old id: requests still carrying the pre-login cookie, answered
// after the login, must not touch the client's cookie, which may already be the login's new one.

t.test('tombstones', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const counter = countCalls(client)

  async function login (app: FastifyInstance, cookie: string): Promise<{ before: string, after: string, cookie: string }> {
    const res = await app.inject({ method: 'POST', url: '/regenerate', headers: { cookie } })
    t.equal(res.statusCode, 200)
    return { ...res.json() as { before: string, after: string }, cookie: cookieFrom(res.headers['set-cookie'])! }
  }
  async function withSession (app: FastifyInstance): Promise<{ id: string, cookie: string }> {
    const res = await app.inject({ method: 'POST', url: '/set', payload: { user: 'ana' } })
    return { id: res.json().id as string, cookie: cookieFrom(res.headers['set-cookie'])! }
  }

  t.test('regression: a request with the pre-login cookie answered after the login sends no Set-Cookie', async (t) => {
    const table = await createTable(client)
    const registry = new Registry()
    const app = await buildApp(t, client, table, { metrics: { registry } }, {
      routes: (app) => {
        app.post('/save', async (request) => {
          request.session.set('x', 1)
          await request.session.save()
          return { ok: true }
        })
      }
    })
    const { id, cookie } = await withSession(app)
    const loggedIn = await login(app, cookie)
    const tombstone = await getRow(client, table, id)

    const read = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(read.json(), { id: read.json().id, isNew: true, value: {} }, 'an empty session')
    t.not(read.json().id, id)
    t.equal(read.headers['set-cookie'], undefined, 'no Set-Cookie: the login cookie survives')

    counter.reset()
    const write = await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { stale: true } })
    t.equal(write.statusCode, 200, 'a route that writes to it still runs')
    t.equal(write.headers['set-cookie'], undefined, 'never saved, no cookie')
    t.strictSame(counter.calls, ['GetItem'], 'nothing written')
    const touch = await app.inject({ method: 'GET', url: '/touch', headers: { cookie } })
    t.equal(touch.headers['set-cookie'], undefined)

    for (const url of ['/save', '/destroy', '/regenerate']) {
      const res = await app.inject({ method: 'POST', url, headers: { cookie } })
      t.equal(res.statusCode, 409, `${url} fails`)
      t.equal(res.json().code, 'FST_DYNAMO_SESSION_GONE')
      t.equal(res.headers['set-cookie'], undefined, `${url} sends no cookie`)
    }
    t.strictSame(await getRow(client, table, id), tombstone, 'the tombstone is untouched')

    const current = await app.inject({ method: 'GET', url: '/get?key=user', headers: { cookie: loggedIn.cookie } })
    t.strictSame(current.json(), { id: loggedIn.after, isNew: false, value: 'ana' }, 'still logged in')
    const metrics = await registry.getSingleMetricAsString(METRIC_NAMES.loadsTotal)
    t.match(metrics, /^dynamo_session_loads_total\{result="superseded"\} 6$/m, 'counted as superseded loads')
  })

  for (const kind of ['refresh', 'change'] as const) {
    t.test(`regression: a stale ${kind} after login fails and leaves the tombstone untouched`, async (t) => {
      const table = await createTable(client)
      const clock = fakeClock()
      const held = gate()
      const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 300, touchAfterSeconds: 0 }, {
        routes: (app) => {
          // The session is loaded (onRequest) before the route waits: the login happens in between.
          app.post('/stale', async (request) => {
            await held.wait()
            if (kind === 'change') request.session.set('role', 'stale')
            else request.session.touch()
            return { ok: true }
          })
        }
      })
      const { id, cookie } = await withSession(app)
      const stale = app.inject({ method: 'POST', url: '/stale', headers: { cookie } })
      await held.reached
      clock.advance(5)
      const loggedIn = await login(app, cookie)
      const tombstone = await getRow(client, table, id)
      t.strictSame(Object.keys(tombstone!).sort(), ['Expire_Session', 'Sesion_Id', 'Superseded_At'])
      clock.advance(1)
      held.release()
      const res = await stale
      if (kind === 'change') {
        t.equal(res.statusCode, 409, 'a lost change is an error')
        t.equal(res.json().code, 'FST_DYNAMO_SESSION_GONE')
      } else {
        t.equal(res.statusCode, 200, 'a lost refresh is not')
      }
      t.equal(res.headers['set-cookie'], undefined, 'no Set-Cookie: the login cookie survives')
      t.strictSame(await getRow(client, table, id), tombstone, 'same attributes: not extended, no data put in it')
      const current = await app.inject({ method: 'GET', url: '/get', headers: { cookie: loggedIn.cookie } })
      t.strictSame(current.json().value, { user: 'ana' }, 'the new session is intact')
    })
  }

  t.test('a stale logout after login fails, and leaves the new session logged in', async (t) => {
    const table = await createTable(client)
    const held = gate()
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/stale-destroy', async (request) => {
          await held.wait()
          await request.session.destroy()
          return { ok: true }
        })
      }
    })
    const { id, cookie } = await withSession(app)
    const stale = app.inject({ method: 'POST', url: '/stale-destroy', headers: { cookie } })
    await held.reached
    const loggedIn = await login(app, cookie)
    const tombstone = await getRow(client, table, id)
    held.release()
    const res = await stale
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_GONE')
    t.equal(res.headers['set-cookie'], undefined)
    t.strictSame(await getRow(client, table, id), tombstone, 'the tombstone stays')
    const current = await app.inject({ method: 'GET', url: '/get?key=user', headers: { cookie: loggedIn.cookie } })
    t.equal(current.json().value, 'ana')

    const logout = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: loggedIn.cookie } })
    t.ok(isClearingCookie(logout.headers['set-cookie']), 'a logout with the current cookie still clears it')
  })

  t.test('a failed write whose row cannot be read afterwards leaves the cookie alone (it may be a login\'s)', async (t) => {
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const proxied = impatientClient(t, proxy.endpoint)
    const table = await createTable(client)
    const held = gate()
    const app = await buildApp(t, proxied, table, {}, {
      routes: (app) => {
        app.post('/stale', async (request) => {
          await held.wait()
          request.session.set('late', true)
          return { ok: true }
        })
      }
    })
    const { id, cookie } = await withSession(app)
    const stale = app.inject({ method: 'POST', url: '/stale', headers: { cookie } })
    await held.reached
    await app.sessionStore.destroy(id)
    proxy.inject({ kind: 'error5xx', status: 500 }, { operations: ['GetItem'] })
    t.teardown(() => proxy.heal())
    held.release()
    const res = await stale
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_GONE')
    t.equal(res.headers['set-cookie'], undefined, 'not cleared: a dead cookie is cleared by the next request instead')
  })

  t.test('concurrent logins from one session: one wins, the other gets 409 and leaves the cookie alone', async (t) => {
    const table = await createTable(client)
    const both = [gate(), gate()]
    let n = 0
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/login', async (request) => {
          await both[n++]!.wait()
          await request.session.regenerate()
          request.session.set('user', 'ana')
          return { id: request.session.id }
        })
      }
    })
    const { id, cookie } = await withSession(app)
    const first = app.inject({ method: 'POST', url: '/login', headers: { cookie } })
    await both[0]!.reached
    const second = app.inject({ method: 'POST', url: '/login', headers: { cookie } })
    await both[1]!.reached
    both[0]!.release()
    const winner = await first
    both[1]!.release()
    const loser = await second
    t.equal(winner.statusCode, 200)
    t.equal(loser.statusCode, 409)
    t.equal(loser.json().code, 'FST_DYNAMO_SESSION_GONE')
    t.equal(loser.headers['set-cookie'], undefined, 'the winner\'s cookie survives the loser\'s answer')
    const rows = [await getRow(client, table, id), await getRow(client, table, winner.json().id)]
    t.equal(rows[0]?.Superseded_At !== undefined, true, 'the old id is a tombstone')
    t.equal(rows[1]?.Data?.M?.user?.S, 'ana')
  })

  t.test('the old id never loads a session again; once the tombstone has expired it is simply dead', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 300, tombstoneSeconds: 30 })
    const { id, cookie } = await withSession(app)
    await login(app, cookie)
    t.equal(await app.sessionStore.get(id), undefined, 'sessionStore.get() of a tombstone')
    await app.sessionStore.destroy(id)
    t.equal((await getRow(client, table, id))?.Superseded_At !== undefined, true, 'sessionStore.destroy() leaves it')
    for (const seconds of [0, 29]) {
      clock.advance(seconds)
      const res = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
      t.equal(res.json().isNew, true)
      t.equal(res.headers['set-cookie'], undefined, 'within tombstoneSeconds: no cookie')
    }
    clock.advance(1)
    t.equal(Number((await getRow(client, table, id))?.Expire_Session?.N), clock.seconds, 'the tombstone expires now')
    const dead = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.equal(dead.json().isNew, true, 'no access')
    t.ok(isClearingCookie(dead.headers['set-cookie']), 'then a dead id, cleared once')
  })

  t.test('the reaper and stats never count a tombstone; the reaper deletes expired ones', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const registry = new Registry()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 300, tombstoneSeconds: 60, metrics: { registry } })
    const { id, cookie } = await withSession(app)
    const { after } = await login(app, cookie)

    const live = await app.sessionReaper!.runOnce()
    t.match(live, { result: 'success', scanned: 1, active: 1, expired: 0, invalid: 0, deleted: 0 })
    const stats = await collectStats(client, reaperOptions(table), { segments: 1, graceSeconds: 0, maxReadUnitsPerSecond: 100, now: clock.now })
    t.match(stats, { scanned: 1, active: 1, expired: 0, invalid: 0 })

    // Past the tombstone's 60 s and the reaper's default grace of 60 s; the session (300 s) is still live.
    clock.advance(200)
    const expired = await app.sessionReaper!.runOnce()
    t.match(expired, { result: 'success', scanned: 1, active: 1, expired: 0, invalid: 0, deleted: 0, conflicts: 0 })
    t.equal(await getRow(client, table, id), undefined, 'the expired tombstone was deleted')
    t.ok(await getRow(client, table, after), 'the session was not')
    const text = await registry.metrics()
    t.match(text, /^dynamo_session_active_sessions 1$/m)
    t.match(text, /^dynamo_session_expired_found_sessions 0$/m)
    t.match(text, /^dynamo_session_expired_backlog_sessions 0$/m)
    t.match(text, /^dynamo_session_reaped_total 0$/m, 'a tombstone is not a reaped session')
    t.match(text, /^dynamo_session_ttl_lag_seconds_count 0$/m)
  })
})
