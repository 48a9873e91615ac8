import t from 'tap'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startDynalite, makeClient, createTable } from './helpers/dynamo.js'
import { startFaultProxy } from './helpers/fault-proxy.js'
import { buildApp, cookieFrom, fakeClock, isClearingCookie, signedCookie, SECRET, OLD_SECRET } from './helpers/app.js'
import { seedRows } from './helpers/reaper.js'
import { impatientClient, logCapture, watchUnexpected } from './helpers/reliability.js'
import { dynamoSession } from '../src/index.js'
import {
  BUDGET_KINDS, COMPONENTS, LOAD_RESULTS, OPERATION_RESULTS, REAPER_RESULTS, REAPER_STRATEGIES, STORE_OPERATIONS, REAPER_OPERATIONS,
  REAP_SKIP_REASONS, TABLE_FIGURE_SOURCES, THROTTLE_REASON_LABELS, TRANSPORTS
} from '../src/instrumentation.js'

// The security defaults: what the cookie carries on every response that sets or clears it, and what never leaves
// the process: secrets and session ids stay out of logs (at trace level, through errors and failures) and out of
// the metrics.

const unexpected = watchUnexpected(t)

function setCookies (res: LightMyRequestResponse): string[] {
  const header = res.headers['set-cookie']
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}

function attributes (setCookie: string): Map<string, string> {
  return new Map(setCookie.split(';').slice(1).map((a) => a.trim()).map((a) => {
    const eq = a.indexOf('=')
    return eq < 0 ? [a.toLowerCase(), ''] : [a.slice(0, eq).toLowerCase(), a.slice(eq + 1)]
  }))
}

t.test('every Set-Cookie the plugin sends: HttpOnly, SameSite=Lax, Path=/, Secure exactly when https, Max-Age tracking the expiry', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = await createTable(client)
  const clock = fakeClock()
  const ttlSeconds = 600
  const app = await buildApp(t, client, table, { secret: [SECRET, OLD_SECRET], now: clock.now, ttlSeconds, touchAfterSeconds: 60 }, {
    fastify: { logger: false, trustProxy: '127.0.0.1' }
  })

  for (const https of [false, true]) {
    const proto = https ? { 'x-forwarded-proto': 'https' } : {}
    const seen: Array<{ step: string, res: LightMyRequestResponse, live: boolean }> = []
    const step = async (name: string, live: boolean, opts: { method?: 'GET' | 'POST', url: string, cookie?: string, payload?: object }): Promise<LightMyRequestResponse> => {
      const res = await app.inject({ method: opts.method ?? 'GET', url: opts.url, payload: opts.payload, headers: { ...proto, ...(opts.cookie === undefined ? {} : { cookie: opts.cookie }) } })
      seen.push({ step: name, res, live })
      return res
    }
    const name = https ? '__Host-sessionId' : 'sessionId'
    const created = await step('create', true, { method: 'POST', url: '/set', payload: { a: 1 } })
    const cookie = cookieFrom(created.headers['set-cookie'], name)!
    clock.advance(30)
    await step('change', true, { method: 'POST', url: '/set', cookie, payload: { b: 2 } })
    clock.advance(90)
    await step('refresh after touchAfterSeconds', true, { url: '/get', cookie })
    await step('explicit touch', true, { url: '/touch', cookie })
    const id = (await app.inject({ url: '/get', headers: { ...proto, cookie } })).json().id as string
    await step('re-signed after rotation', true, { url: '/get', cookie: signedCookie(id, OLD_SECRET, name) })
    const regenerated = await step('regenerate', true, { method: 'POST', url: '/regenerate', cookie })
    // Once the old id's tombstone has expired (within tombstoneSeconds no cookie is sent at all).
    clock.advance(61)
    await step('stale cookie', false, { url: '/get', cookie })
    await step('destroy', false, { method: 'POST', url: '/destroy', cookie: cookieFrom(regenerated.headers['set-cookie'], name)! })

    for (const { step: stepName, res, live } of seen) {
      const list = setCookies(res)
      const label = `${https ? 'https' : 'http'}, ${stepName}`
      t.equal(list.length, 1, `${label}: one Set-Cookie`)
      t.ok(list[0]!.startsWith(name + '='), `${label}: named ${name}`)
      const attrs = attributes(list[0]!)
      t.ok(attrs.has('httponly'), `${label}: HttpOnly`)
      t.equal(attrs.get('samesite'), 'Lax', `${label}: SameSite=Lax`)
      t.equal(attrs.get('path'), '/', `${label}: Path=/`)
      t.equal(attrs.has('secure'), https, `${label}: Secure ${https ? 'over https' : 'not over plain http'}`)
      t.notOk(attrs.has('domain'), `${label}: host-only`)
      if (live) {
        t.equal(Number(attrs.get('max-age')), ttlSeconds, `${label}: Max-Age is the time left until the expiry just written`)
      } else {
        t.ok(isClearingCookie(list[0], name), `${label}: cleared`)
      }
    }
  }
})

t.test('secrets and session ids never reach the logs or the metrics', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const table = await createTable(admin)
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  const logs = logCapture()
  const registry = new Registry()
  const routes = (app: FastifyInstance): void => {
    app.post('/too-large', async (request) => { request.session.set('big', 'x'.repeat(500 * 1024)); return {} })
    app.post('/not-json', async (request) => { request.session.set('f', (() => 1) as never); return {} })
  }
  const options = { secret: [SECRET, OLD_SECRET], metrics: { registry }, reaper: { schedule: false as const } }
  const app = await buildApp(t, impatientClient(t, proxy.endpoint), table, options, { fastify: { logger: { level: 'trace', stream: logs.stream } }, routes })
  const anonymous = await buildApp(t, impatientClient(t, proxy.endpoint), table, { ...options, onStoreError: 'anonymous', metrics: false },
    { fastify: { logger: { level: 'trace', stream: logs.stream } } })

  const issued = new Set<string>()
  const cookies = new Set<string>()
  const track = (res: LightMyRequestResponse): LightMyRequestResponse => {
    const body = String(res.headers['content-type'] ?? '').includes('json') ? res.json() : {}
    for (const id of [body.id, body.before, body.after]) if (typeof id === 'string') issued.add(id)
    const c = cookieFrom(res.headers['set-cookie'])
    if (c !== undefined && c !== 'sessionId=') cookies.add(c.slice('sessionId='.length))
    return res
  }
  interface Req { method?: 'GET' | 'POST', url: string, headers?: Record<string, string>, payload?: object }
  const inject = async (opts: Req, on = app): Promise<LightMyRequestResponse> => track(await on.inject(opts))

  // The ordinary life of sessions.
  const a = await inject({ method: 'POST', url: '/set', payload: { user: 'alice' } })
  const cookieA = cookieFrom(a.headers['set-cookie'])!
  const b = await inject({ method: 'POST', url: '/set', payload: { user: 'bob' } })
  const cookieB = cookieFrom(b.headers['set-cookie'])!
  await inject({ url: '/get', headers: { cookie: cookieA } })
  await inject({ url: '/get', headers: { cookie: signedCookie(a.json().id, OLD_SECRET) } })
  await inject({ url: '/get', headers: { cookie: `sessionId=${a.json().id}` } })
  await inject({ url: '/get', headers: { cookie: signedCookie(b.json().id, 'f'.repeat(40)) } })
  const regenerated = await inject({ method: 'POST', url: '/regenerate', headers: { cookie: cookieB } })
  await inject({ url: '/get', headers: { cookie: cookieB } })
  await inject({ method: 'POST', url: '/too-large', headers: { cookie: cookieA } })
  await inject({ method: 'POST', url: '/not-json', headers: { cookie: cookieA } })

  // Failures: the store unavailable at load (both policies), at save, at destroy; a change to a destroyed session.
  proxy.inject({ kind: 'error5xx' }, { operations: ['GetItem'] })
  t.equal((await inject({ url: '/get', headers: { cookie: cookieA } })).statusCode, 503)
  t.equal((await inject({ url: '/get', headers: { cookie: cookieA } }, anonymous)).statusCode, 200)
  proxy.heal()
  proxy.inject({ kind: 'stall' }, { operations: ['UpdateItem'] })
  t.equal((await inject({ method: 'POST', url: '/set', headers: { cookie: cookieA }, payload: { x: 1 } })).statusCode, 503)
  proxy.heal()
  proxy.inject({ kind: 'throttle' }, { operations: ['DeleteItem'] })
  t.equal((await inject({ method: 'POST', url: '/destroy', headers: { cookie: cookieA } })).statusCode, 503)
  proxy.heal()
  await inject({ method: 'POST', url: '/destroy', headers: { cookie: cookieFrom(regenerated.headers['set-cookie'])! } })
  await inject({ method: 'POST', url: '/set', headers: { cookie: cookieFrom(regenerated.headers['set-cookie'])! }, payload: { y: 1 } })

  // The reaper: a failed pass and a successful one, over rows it deletes.
  await seedRows(admin, table, [{ id: 'expired-row-0000000000000001', expiresAt: 1000 }])
  issued.add('expired-row-0000000000000001')
  proxy.inject({ kind: 'reset' }, { operations: ['Scan'] })
  t.equal((await app.sessionReaper!.runOnce()).result, 'failure')
  proxy.heal()
  t.equal((await app.sessionReaper!.runOnce()).result, 'success')

  // A registration refused for its secret.
  const weak = 'w'.repeat(31)
  const refused = Fastify({ logger: { level: 'trace', stream: logs.stream } })
  const error = await refused.register(dynamoSession, { secret: [SECRET, weak], client: admin, tableName: table }).ready().then(() => undefined, (err: Error) => err)
  t.equal((error as { code?: string } | undefined)?.code, 'FST_DYNAMO_SESSION_INVALID_SECRET')
  t.notOk(String(error?.message).includes(weak), 'the refusal does not echo the secret')
  await refused.close()

  const metrics = await (await app.inject({ url: '/metrics' })).body
  const logText = logs.text()
  t.ok(issued.size >= 5 && cookies.size >= 4, `${issued.size} ids and ${cookies.size} signed cookies issued`)
  t.ok(logText.split('\n').length > 30, 'the logs were captured')
  t.match(logText, /session store unavailable/, 'including the failures')
  t.match(logText, /reaper pass failed/)
  for (const secret of [SECRET, OLD_SECRET, weak]) {
    t.notOk(logText.includes(secret), 'no secret in the logs')
    t.notOk(metrics.includes(secret), 'no secret in the metrics')
  }
  for (const id of issued) {
    t.notOk(logText.includes(id), `id ${id.slice(0, 4)}… not in the logs`)
    t.notOk(metrics.includes(id), `id ${id.slice(0, 4)}… not in the metrics`)
  }
  for (const signed of cookies) {
    const signature = signed.slice(signed.lastIndexOf('.') + 1)
    t.notOk(logText.includes(signature), 'no cookie signature in the logs')
  }

  // Every label value is one of a known, bounded set.
  const allowed = new Set<string>([...LOAD_RESULTS, ...STORE_OPERATIONS, ...OPERATION_RESULTS, ...REAPER_RESULTS, ...REAPER_OPERATIONS,
    ...REAP_SKIP_REASONS, ...COMPONENTS, ...THROTTLE_REASON_LABELS, ...REAPER_STRATEGIES, ...BUDGET_KINDS, ...TABLE_FIGURE_SOURCES, ...TRANSPORTS])
  const labels = [...metrics.matchAll(/(\w+)="([^"]*)"/g)].filter(([, name]) => name !== 'le')
  t.ok(labels.length > 20)
  for (const [, name, value] of labels) t.ok(allowed.has(value!), `label ${name}="${value}" is from a fixed set`)
  t.strictSame(unexpected.events, [])
})

t.test('cookie tossing: the default name over https is __Host-sessionId', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = await createTable(client)
  const fastify = { logger: false, trustProxy: '127.0.0.1' }
  const https = { 'x-forwarded-proto': 'https' }
  const app = await buildApp(t, client, table, {}, { fastify })

  t.test('https: __Host-sessionId; http: sessionId', async (t) => {
    const secure = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 }, headers: https })
    t.strictSame(setCookies(secure).map((c) => c.slice(0, c.indexOf('='))), ['__Host-sessionId'])
    const cookie = cookieFrom(secure.headers['set-cookie'], '__Host-sessionId')!
    t.equal((await app.inject({ url: '/get?key=a', headers: { ...https, cookie } })).json().value, 1, 'read back over https')
    const plain = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.strictSame(setCookies(plain).map((c) => c.slice(0, c.indexOf('='))), ['sessionId'])
  })

  t.test('a domain or a path keeps sessionId over https', async (t) => {
    for (const cookie of [{ domain: 'example.com' }, { path: '/app' }]) {
      const other = await buildApp(t, client, table, { cookie }, { fastify, routes: (a) => a.post('/app/set', async (request) => { request.session.set('a', 1); return {} }) })
      const res = await other.inject({ method: 'POST', url: cookie.path === undefined ? '/set' : '/app/set', payload: { a: 1 }, headers: https })
      t.strictSame(setCookies(res).map((c) => c.slice(0, c.indexOf('='))), ['sessionId'], JSON.stringify(cookie))
    }
  })

  t.test('regression: a planted sessionId cookie neither swaps nor clears the session over https', async (t) => {
    const victim = await app.inject({ method: 'POST', url: '/set', payload: { user: 'victim' }, headers: https })
    const victimCookie = cookieFrom(victim.headers['set-cookie'], '__Host-sessionId')!
    // The attacker's own live session, and a dead one, signed by the server, planted by a sibling subdomain ahead of ours.
    const attacker = await app.inject({ method: 'POST', url: '/set', payload: { user: 'attacker' } })
    const attackerCookie = cookieFrom(attacker.headers['set-cookie'], 'sessionId')!
    const dead = signedCookie('d'.repeat(32))
    for (const planted of [attackerCookie, dead]) {
      const res = await app.inject({ url: '/get?key=user', headers: { ...https, cookie: `${planted}; ${victimCookie}` } })
      t.equal(res.json().value, 'victim', 'the victim keeps its own session')
      t.equal(res.headers['set-cookie'], undefined, 'and its cookie')
    }
    const alone = await app.inject({ method: 'POST', url: '/set', payload: { x: 1 }, headers: { ...https, cookie: attackerCookie } })
    t.not(alone.json().id, attacker.json().id, 'a planted cookie alone is not adopted either')
  })

  t.test('legacyName: a session under the old name is re-issued under the new one, until the end date', async (t) => {
    const clock = fakeClock(Date.parse('2027-06-29T00:00:00Z'))
    // Sessions outlive the end date here, so only the end date can make the old name unreadable.
    const migrating = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 7 * 24 * 3600, cookie: { legacyName: { name: 'sessionId', until: '2027-06-30' } } }, { fastify })
    const before = await migrating.inject({ method: 'POST', url: '/set', payload: { user: 'old' } })
    const oldCookie = cookieFrom(before.headers['set-cookie'], 'sessionId')!

    const moved = await migrating.inject({ url: '/get?key=user', headers: { ...https, cookie: oldCookie } })
    t.equal(moved.json().value, 'old', 'read under the old name')
    t.equal(moved.json().id, before.json().id, 'the same session')
    t.strictSame(setCookies(moved).map((c) => c.slice(0, c.indexOf('='))), ['__Host-sessionId', 'sessionId'], 'two Set-Cookie headers')
    t.ok(isClearingCookie(moved.headers['set-cookie'], 'sessionId'), 'the old cookie is cleared')
    const newCookie = cookieFrom(moved.headers['set-cookie'], '__Host-sessionId')!
    const again = await migrating.inject({ url: '/get?key=user', headers: { ...https, cookie: `${oldCookie}; ${newCookie}` } })
    t.equal(again.json().value, 'old', 'the new cookie serves the session')
    t.equal(again.headers['set-cookie'], undefined, 'with the new cookie present the old one is not read')

    const deadOld = await migrating.inject({ url: '/get', headers: { ...https, cookie: signedCookie('d'.repeat(32)) } })
    t.ok(isClearingCookie(deadOld.headers['set-cookie'], 'sessionId'), 'a dead old cookie is cleared')

    clock.advance(24 * 3600)
    const late = await migrating.inject({ url: '/get?key=user', headers: { ...https, cookie: oldCookie } })
    t.equal(late.json().value, null, 'from the end date on the old name is ignored')
    t.not(late.json().id, before.json().id)
    t.equal(late.headers['set-cookie'], undefined)
    t.equal((await migrating.inject({ url: '/get?key=user', headers: { ...https, cookie: newCookie } })).json().value, 'old', 'the session itself is still live')
  })
})
