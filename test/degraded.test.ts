import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startDynalite, makeClient, createTable, getRow } from './helpers/dynamo.js'
import { startFaultProxy, type Fault } from './helpers/fault-proxy.js'
import { buildApp, cookieFrom, isClearingCookie } from './helpers/app.js'
import { impatientClient, watchUnexpected } from './helpers/reliability.js'

// onStoreError 'anonymous' during a real outage (dynalite behind the fault proxy, GetItem failing): the request gets a
// degraded stand-in session, and nothing done to it may look like a logout, a login or a save that worked.

const unexpected = watchUnexpected(t)
// The faults here fail at once (resets, 5xx): a generous timeout keeps the calls that pass from timing out on a loaded machine.
const PATIENT_MS = 5000

const OUTAGES: ReadonlyArray<readonly [string, Fault]> = [
  ['connection resets', { kind: 'reset' }],
  ['HTTP 500', { kind: 'error5xx', status: 500 }]
]

function routes (app: FastifyInstance): void {
  app.get('/state', async (request) => ({ degraded: request.session.degraded, isNew: request.session.isNew }))
  app.post<{ Body: Record<string, unknown> }>('/save', async (request) => {
    for (const [k, v] of Object.entries(request.body ?? {})) request.session.set(k, v as never)
    await request.session.save()
    return { ok: true }
  })
}

t.test('a degraded session during an outage', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const table = await createTable(admin)
  const proxy = await startFaultProxy(t, dynamo.endpoint)

  for (const [name, fault] of OUTAGES) {
    t.test(name, async (t) => {
      const app = await buildApp(t, impatientClient(t, proxy.endpoint, 2, PATIENT_MS), table, { onStoreError: 'anonymous', metrics: false }, { routes })
      t.teardown(() => proxy.heal())
      const login = await app.inject({ method: 'POST', url: '/set', payload: { user: 'alice' } })
      const cookie = cookieFrom(login.headers['set-cookie'])!
      const id = login.json().id as string
      const state = async (): Promise<unknown> => (await app.inject({ url: '/state', headers: { cookie } })).json()
      t.strictSame(await state(), { degraded: false, isNew: false }, 'a loaded session is not degraded')
      t.strictSame((await app.inject({ url: '/state' })).json(), { degraded: false, isNew: true }, 'nor is a new one')

      t.test('regression: logout during an outage answers 503 FST_DYNAMO_SESSION_STORE_UNAVAILABLE, not 200', async (t) => {
        proxy.inject(fault, { operations: ['GetItem'] })
        const mark = proxy.seen.length
        t.strictSame(await state(), { degraded: true, isNew: true }, 'the stand-in says so')
        const logout = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } })
        const relogin = await app.inject({ method: 'POST', url: '/regenerate', headers: { cookie } })
        const saved = await app.inject({ method: 'POST', url: '/save', headers: { cookie }, payload: { user: 'mallory' } })
        const autosaved = await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { user: 'mallory' } })
        proxy.heal()
        for (const [what, res] of [['destroy()', logout], ['regenerate()', relogin], ['save()', saved]] as const) {
          t.equal(res.statusCode, 503, `${what}: 503`)
          t.equal(res.json().code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE', `${what}: the store-unavailable code`)
          t.equal(res.headers['set-cookie'], undefined, `${what}: the cookie is left alone`)
        }
        t.equal(autosaved.statusCode, 200, 'changes without save() are dropped, as documented')
        t.equal(autosaved.headers['set-cookie'], undefined)
        t.strictSame([...new Set(proxy.seen.slice(mark))], ['GetItem'], 'no write was attempted')

        const after = await app.inject({ url: '/get', headers: { cookie } })
        t.strictSame(after.json(), { id, isNew: false, value: { user: 'alice' } }, 'once DynamoDB is back the session is as it was')
        const retry = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } })
        t.equal(retry.statusCode, 200, 'after healing a logout works')
        t.ok(isClearingCookie(retry.headers['set-cookie']))
        t.equal(await getRow(admin, table, id), undefined)
        t.equal((await app.inject({ url: '/get', headers: { cookie } })).json().isNew, true, 'the old cookie is logged out')
      })
    })
  }

  t.test('no unhandled rejection, no uncaught exception', async (t) => {
    t.strictSame(unexpected.events, [])
  })
})
