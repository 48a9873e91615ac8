import t from 'tap'
import { isDeepStrictEqual } from 'node:util'
import { Registry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { startDynalite, makeClient, createTable, getRow } from './helpers/dynamo.js'
import { startFaultProxy, type Fault } from './helpers/fault-proxy.js'
import { buildApp, cookieFrom, isClearingCookie } from './helpers/app.js'
import { TEST_REAPER_STRATEGY, fakeTime, makeReaper, reaperOptions, seedRows, sessionId, tableIds } from './helpers/reaper.js'
import { IMPATIENT_TIMEOUT_MS, impatientClient, metricValue, until, watchUnexpected } from './helpers/reliability.js'
import { createMetrics, METRIC_NAMES } from '../src/metrics.js'
import { ReaperCalls } from '../src/reaper/calls.js'
import { LEASE_ID, readLease } from '../src/reaper/lease.js'
import { MAX_THROTTLED_PAGE_RETRIES } from '../src/reaper/sweep.js'
import type { ReaperLogger } from '../src/reaper/pass.js'

// DynamoDB failing in every way the network and the service can fail, between the plugin and dynalite: each request
// gets the configured behaviour, each failure is counted, nothing crashes, and nothing written before a fault is lost.

const unexpected = watchUnexpected(t)
const ATTEMPTS = 2
const OP = METRIC_NAMES.storeOperationDurationSeconds

/**
 * The faults, and whether DynamoDB has applied the request when the client sees the failure (a write whose answer
 * is lost: the client cannot tell whether it happened).
 */
const FAULTS: ReadonlyArray<readonly [string, Fault, boolean]> = [
  ['a connection reset', { kind: 'reset' }, false],
  ['a stall past the timeout', { kind: 'stall' }, false],
  ['response headers, then a stalled body', { kind: 'stallBody' }, true],
  ['ProvisionedThroughputExceededException', { kind: 'throttle', type: 'ProvisionedThroughputExceededException' }, false],
  ['ThrottlingException', { kind: 'throttle', type: 'ThrottlingException' }, false],
  ['RequestLimitExceeded', { kind: 'throttle', type: 'RequestLimitExceeded' }, false],
  ['HTTP 500', { kind: 'error5xx', status: 500 }, false],
  ['HTTP 503', { kind: 'error5xx', status: 503 }, false]
]

interface Written { id: string, cookie: string, data: Record<string, unknown> }

function loginRoute (app: FastifyInstance): void {
  app.post('/login', async (request) => {
    request.session.set('role', 'admin')
    await request.session.regenerate()
    return { id: request.session.id }
  })
}

t.test('request path under faults', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const table = await createTable(admin)
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  const before: Written[] = []

  async function write (app: FastifyInstance, data: Record<string, unknown>): Promise<Written> {
    const res = await app.inject({ method: 'POST', url: '/set', payload: data })
    if (res.statusCode !== 200) throw new Error(`setup write failed: ${res.statusCode} ${res.body}`)
    return { id: res.json().id, cookie: cookieFrom(res.headers['set-cookie'])!, data }
  }

  /** Attempts the proxy saw for an operation since `mark`. */
  const attemptsSince = (mark: number, operation: string): number => proxy.seen.slice(mark).filter((o) => o === operation).length

  for (const [name, fault, applied] of FAULTS) {
    t.test(name, async (t) => {
      // A client per fault: the SDK's retry quota is per client and would otherwise run out over the whole file.
      const client = impatientClient(t, proxy.endpoint, ATTEMPTS)
      const registry = new Registry()
      const app = await buildApp(t, client, table, { metrics: { registry } }, { routes: loginRoute })
      const anonymous = await buildApp(t, client, table, { onStoreError: 'anonymous', metrics: false })
      const errors = async (operation: string): Promise<number> => await metricValue(registry, OP, { operation, result: 'error' })
      const alice = await write(app, { user: 'alice', visits: 3, prefs: { theme: 'dark' } })
      const bob = await write(app, { user: 'bob' })
      before.push(alice, bob)
      t.teardown(() => proxy.heal())

      t.test("load, onStoreError 'fail': 503 FST_DYNAMO_SESSION_STORE_UNAVAILABLE, cookie left alone, failure counted", async (t) => {
        const failed = await errors('GetItem')
        const mark = proxy.seen.length
        proxy.inject(fault, { operations: ['GetItem'] })
        const res = await app.inject({ method: 'GET', url: '/get', headers: { cookie: alice.cookie } })
        proxy.heal()
        t.equal(res.statusCode, 503)
        t.equal(res.json().code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE')
        t.equal(res.headers['set-cookie'], undefined, 'the cookie is neither cleared nor replaced')
        t.equal(attemptsSince(mark, 'GetItem'), ATTEMPTS, 'the client retried up to its attempts, then gave up')
        t.equal(await errors('GetItem') - failed, 1, 'one failed GetItem counted')
      })

      t.test("load, onStoreError 'anonymous': an empty session, never saved, cookie left alone", async (t) => {
        proxy.inject(fault, { operations: ['GetItem'] })
        const read = await anonymous.inject({ method: 'GET', url: '/get', headers: { cookie: alice.cookie } })
        const changed = await anonymous.inject({ method: 'POST', url: '/set', headers: { cookie: alice.cookie }, payload: { user: 'mallory' } })
        proxy.heal()
        t.equal(read.statusCode, 200)
        t.equal(read.json().isNew, true)
        t.strictSame(read.json().value, {}, 'none of the stored data')
        t.not(read.json().id, alice.id)
        t.equal(changed.statusCode, 200)
        t.equal(read.headers['set-cookie'], undefined)
        t.equal(changed.headers['set-cookie'], undefined, 'the anonymous change is not stored and sets no cookie')
        const again = await app.inject({ method: 'GET', url: '/get', headers: { cookie: alice.cookie } })
        t.strictSame(again.json(), { id: alice.id, isNew: false, value: alice.data }, 'the stored session is untouched')
      })

      t.test('create: 503 FST_DYNAMO_SESSION_SAVE_FAILED, no cookie for a session that was not stored', async (t) => {
        const failed = await errors('PutItem')
        const mark = proxy.seen.length
        proxy.inject(fault, { operations: ['PutItem'] })
        const res = await app.inject({ method: 'POST', url: '/set', payload: { user: 'carol' } })
        proxy.heal()
        t.equal(res.statusCode, 503)
        t.equal(res.json().code, 'FST_DYNAMO_SESSION_SAVE_FAILED')
        t.equal(res.headers['set-cookie'], undefined)
        t.equal(attemptsSince(mark, 'PutItem'), ATTEMPTS)
        t.equal(await errors('PutItem') - failed, 1)
      })

      t.test(`change: 503 FST_DYNAMO_SESSION_SAVE_FAILED, the stored session ${applied ? 'changed whole or not at all' : 'unchanged'} and still usable`, async (t) => {
        const failed = await errors('UpdateItem')
        const change = { user: 'eve', extra: 1 }
        proxy.inject(fault, { operations: ['UpdateItem'] })
        const res = await app.inject({ method: 'POST', url: '/set', headers: { cookie: bob.cookie }, payload: change })
        proxy.heal()
        t.equal(res.statusCode, 503)
        t.equal(res.json().code, 'FST_DYNAMO_SESSION_SAVE_FAILED')
        t.equal(res.headers['set-cookie'], undefined, 'the client keeps its cookie')
        t.equal(await errors('UpdateItem') - failed, 1)
        const again = (await app.inject({ method: 'GET', url: '/get', headers: { cookie: bob.cookie } })).json()
        t.match(again, { id: bob.id, isNew: false })
        if (applied) {
          t.ok(isDeepStrictEqual(again.value, bob.data) || isDeepStrictEqual(again.value, { ...bob.data, ...change }), 'before or after, never between')
          bob.data = again.value
        } else t.strictSame(again.value, bob.data)
      })

      t.test('expiry refresh: 503 FST_DYNAMO_SESSION_SAVE_FAILED, the session still usable', async (t) => {
        const failed = await errors('UpdateItem')
        proxy.inject(fault, { operations: ['UpdateItem'] })
        const res = await app.inject({ method: 'GET', url: '/touch', headers: { cookie: bob.cookie } })
        proxy.heal()
        t.equal(res.statusCode, 503)
        t.equal(res.json().code, 'FST_DYNAMO_SESSION_SAVE_FAILED')
        t.equal(res.headers['set-cookie'], undefined)
        t.equal(await errors('UpdateItem') - failed, 1)
        const again = await app.inject({ method: 'GET', url: '/get', headers: { cookie: bob.cookie } })
        t.strictSame(again.json(), { id: bob.id, isNew: false, value: bob.data })
      })

      t.test('destroy: 503 FST_DYNAMO_SESSION_SAVE_FAILED, the session is not half-destroyed; destroy after healing works', async (t) => {
        const dave = await write(app, { user: 'dave' })
        const failed = await errors('DeleteItem')
        proxy.inject(fault, { operations: ['DeleteItem'] })
        const res = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: dave.cookie } })
        proxy.heal()
        t.equal(res.statusCode, 503)
        t.equal(res.json().code, 'FST_DYNAMO_SESSION_SAVE_FAILED')
        t.equal(res.headers['set-cookie'], undefined, 'the cookie is not cleared for a session that still exists')
        t.equal(await errors('DeleteItem') - failed, 1)
        if (!applied) t.ok(await getRow(admin, table, dave.id), 'still stored: a logout that failed says so')
        const retry = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: dave.cookie } })
        t.equal(retry.statusCode, 200)
        t.ok(isClearingCookie(retry.headers['set-cookie']))
        t.equal(await getRow(admin, table, dave.id), undefined)
      })

      t.test('regenerate at login: 503 whichever write fails, and the old id never gets the new privileges', async (t) => {
        // Two PutItems: the new row, then the tombstone that replaces the old one.
        for (const [operation, after] of [['the new row', 0], ['the tombstone', 1]] as const) {
          const visitor = await write(app, { cart: [1, 2] })
          proxy.inject(fault, { operations: ['PutItem'], after })
          const res = await app.inject({ method: 'POST', url: '/login', headers: { cookie: visitor.cookie } })
          proxy.heal()
          t.equal(res.statusCode, 503, `${operation} failing: 503`)
          t.equal(res.json().code, 'FST_DYNAMO_SESSION_SAVE_FAILED')
          const old = (await app.inject({ method: 'GET', url: '/get', headers: { cookie: visitor.cookie } })).json()
          if (applied && after === 1 && old.isNew === true) {
            t.strictSame(old.value, {}, 'the tombstone went through: the old id is dead')
          } else t.strictSame(old, { id: visitor.id, isNew: false, value: { cart: [1, 2] } }, `${operation} failing: the old session is as it was`)
        }
      })
    })
  }

  t.test('latency past the timeout: a 503; a write that lands late lands whole', async (t) => {
    const client = impatientClient(t, proxy.endpoint, ATTEMPTS)
    const app = await buildApp(t, client, table)
    t.teardown(() => proxy.heal())
    const s = await write(app, { a: 1 })
    proxy.inject({ kind: 'delay', ms: 2 * IMPATIENT_TIMEOUT_MS }, { operations: ['GetItem'] })
    const read = await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })
    t.equal(read.statusCode, 503)
    t.equal(read.json().code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE')
    proxy.heal()
    proxy.inject({ kind: 'delay', ms: 2 * IMPATIENT_TIMEOUT_MS }, { operations: ['UpdateItem'] })
    const changed = await app.inject({ method: 'POST', url: '/set', headers: { cookie: s.cookie }, payload: { b: 2, c: 3 } })
    t.equal(changed.statusCode, 503)
    t.equal(changed.json().code, 'FST_DYNAMO_SESSION_SAVE_FAILED')
    proxy.heal()
    // Both delayed attempts reach DynamoDB eventually (polled: how late depends on the machine's load).
    const landed = { a: 1, b: 2, c: 3 }
    await until(async () => isDeepStrictEqual((await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })).json().value, landed), 'the late write to land')
    t.strictSame((await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })).json().value, landed)
    before.push({ ...s, data: { a: 1, b: 2, c: 3 } })
  })

  t.test('latency spikes within the timeout: every request succeeds', async (t) => {
    // Spikes of 20 to 170 ms, far inside the client's timeout even on a loaded machine.
    const client = impatientClient(t, proxy.endpoint, 1, 10_000)
    const app = await buildApp(t, client, table)
    proxy.inject({ kind: 'delay', ms: 20, jitter: 150 })
    t.teardown(() => proxy.heal())
    const s = await write(app, { n: 0 })
    for (let i = 1; i <= 10; i++) {
      const res = await app.inject({ method: 'POST', url: '/set', headers: { cookie: s.cookie }, payload: { n: i } })
      t.equal(res.statusCode, 200)
    }
    const read = await app.inject({ method: 'GET', url: '/get?key=n', headers: { cookie: s.cookie } })
    t.equal(read.json().value, 10)
    before.push({ ...s, data: { n: 10 } })
  })

  t.test('a lost response (applied by DynamoDB, then the connection reset) is retried safely', async (t) => {
    const client = impatientClient(t, proxy.endpoint, ATTEMPTS)
    const app = await buildApp(t, client, table, {}, { routes: loginRoute })
    t.teardown(() => proxy.heal())
    const s = await write(app, { a: 1 })

    proxy.inject({ kind: 'dropResponse' }, { operations: ['UpdateItem'], times: 1 })
    const changed = await app.inject({ method: 'POST', url: '/set', headers: { cookie: s.cookie }, payload: { b: 2 } })
    t.equal(changed.statusCode, 200, 'the retried conditional per-key update succeeds again')
    t.strictSame((await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })).json().value, { a: 1, b: 2 })

    proxy.inject({ kind: 'dropResponse' }, { operations: ['GetItem'], times: 1 })
    const read = await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })
    t.strictSame(read.json(), { id: s.id, isNew: false, value: { a: 1, b: 2 } })

    proxy.inject({ kind: 'dropResponse' }, { operations: ['DeleteItem'], times: 1 })
    const destroyed = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: s.cookie } })
    t.equal(destroyed.statusCode, 200, 'a delete retried is still a delete (its only condition, not a tombstone, holds for an absent row)')
    t.ok(isClearingCookie(destroyed.headers['set-cookie']))
    t.equal(await getRow(admin, table, s.id), undefined)

    // regenerate(): the old row's tombstone was written but its answer was lost; the retry finds a tombstone and
    // cannot tell that from a concurrent login, so it ends both sessions rather than keep two, and leaves the cookie
    // alone (a concurrent login's cookie must survive).
    const visitor = await write(app, { cart: [1] })
    const rowsBefore = await tableIds(admin, table)
    proxy.inject({ kind: 'dropResponse' }, { operations: ['PutItem'], times: 1, after: 1 })
    const login = await app.inject({ method: 'POST', url: '/login', headers: { cookie: visitor.cookie } })
    t.equal(login.statusCode, 409)
    t.equal(login.json().code, 'FST_DYNAMO_SESSION_GONE')
    t.equal(login.headers['set-cookie'], undefined, 'no cookie: neither the new id nor a clearing one')
    t.equal((await getRow(admin, table, visitor.id))?.Superseded_At === undefined, false, 'the old id is a tombstone')
    t.strictSame(await tableIds(admin, table), rowsBefore, 'and no new session was left behind')

    proxy.inject({ kind: 'dropResponse' }, { operations: ['PutItem'], times: 1 })
    const created = await app.inject({ method: 'POST', url: '/set', payload: { fresh: true } })
    t.equal(created.statusCode, 503, 'the retried create finds its own row: reported as a failed save, not as success')
    t.equal(created.json().code, 'FST_DYNAMO_SESSION_SAVE_FAILED')
    t.equal(created.headers['set-cookie'], undefined, 'no cookie: the orphan row is never named and expires')
  })

  t.test('after healing: every session written before the faults is there, whole', async (t) => {
    const client = makeClient(t, proxy.endpoint)
    const app = await buildApp(t, client, table)
    t.ok(before.length >= FAULTS.length * 2)
    for (const s of before) {
      const res = await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })
      t.strictSame(res.json(), { id: s.id, isNew: false, value: s.data }, `${s.id.slice(0, 6)}… intact`)
    }
  })

  t.test('the process kept serving: no unhandled rejection, no uncaught exception', async (t) => {
    t.strictSame(unexpected.events, [])
  })
})

function silentLog (): ReaperLogger & { errors: string[] } {
  const errors: string[] = []
  return { errors, debug () {}, info () {}, warn () {}, error (_obj, msg) { errors.push(msg) } }
}

t.test('the reaper under the same faults', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  const LEASE_MS = 30_000

  // Each phase of a pass, and the request that starts it: the lease is taken with an UpdateItem and released with
  // another one (after: 1 lets the first through). Expired rows are found with a Scan, or a Query per shard of the
  // expiry index (TEST_REAPER_STRATEGY).
  const index = TEST_REAPER_STRATEGY === 'index'
  const finding = index ? 'querying the index' : 'scanning'
  const PHASES = [
    { phase: 'taking the lease', operations: ['UpdateItem'], after: 0 },
    { phase: finding, operations: [index ? 'Query' : 'Scan'], after: 0 },
    { phase: 'deleting', operations: ['DeleteItem'], after: 0 },
    { phase: 'releasing the lease', operations: ['UpdateItem'], after: 1 }
  ] as const
  const REAPER_FAULTS = FAULTS.filter(([name]) => ['a connection reset', 'a stall past the timeout', 'ProvisionedThroughputExceededException', 'HTTP 500'].includes(name))

  for (const [name, fault] of REAPER_FAULTS) {
    for (const { phase, operations, after } of PHASES) {
      t.test(`${name} while ${phase}: counted, the lease held no longer than its expiry, the next pass completes`, async (t) => {
        const table = await createTable(admin)
        const time = fakeTime()
        const expired = Array.from({ length: 8 }, (_, i) => sessionId(i, 'dead'))
        const live = Array.from({ length: 4 }, (_, i) => sessionId(i, 'live'))
        await seedRows(admin, table, [
          ...expired.map((id) => ({ id, expiresAt: time.seconds - 30 })),
          ...live.map((id) => ({ id, expiresAt: time.seconds + 300 }))
        ])
        const registry = new Registry()
        const log = silentLog()
        const client = impatientClient(t, proxy.endpoint, ATTEMPTS)
        const reaper = { leaseSeconds: LEASE_MS / 1000, maxWriteUnitsPerSecond: 1000 }
        const a = makeReaper(t, client, table, reaper, { now: time.now, sleep: time.sleep, owner: 'a', observer: createMetrics(registry), log })
        const b = makeReaper(t, makeClient(t, dynamo.endpoint), table, reaper, { now: time.now, monotonic: time.now, sleep: time.sleep, owner: 'b' })
        const throttledBefore = proxy.faulted.throttle ?? 0

        proxy.inject(fault, { operations: [...operations], after })
        const first = await a.runOnce()
        proxy.heal()

        t.equal(await metricValue(registry, METRIC_NAMES.reaperRunsTotal, { result: first.result }), 1, `the ${first.result} is counted`)
        if (first.result === 'failure') t.ok(log.errors.length >= 1, 'and logged')
        if (phase === 'releasing the lease') t.equal(first.deleted, expired.length, 'the work was done before the release failed')
        else if (phase === 'deleting' && fault.kind === 'throttle') {
          // A throttled delete is left for a later pass; the pass itself goes on.
          t.equal(first.result, 'success')
          t.equal(await metricValue(registry, METRIC_NAMES.reapSkippedTotal, { reason: 'error' }), expired.length)
        } else t.equal(first.result, 'failure')
        if (fault.kind === 'throttle') {
          t.equal(await metricValue(registry, METRIC_NAMES.throttledRequestsTotal), (proxy.faulted.throttle ?? 0) - throttledBefore, 'every throttled attempt counted')
        }
        if (phase === finding && fault.kind === 'throttle') {
          const throttled = (proxy.faulted.throttle ?? 0) - throttledBefore
          const onePage = ATTEMPTS * (MAX_THROTTLED_PAGE_RETRIES + 1)
          if (!index) t.equal(throttled, onePage, 'the page was retried, backing off, before the pass gave up')
          else {
            // One Query per shard at once: the first shard to give up stops the others, wherever their retries are.
            const shards = reaperOptions(table).expiryIndex
            t.ok(throttled % ATTEMPTS === 0 && throttled >= onePage && shards !== false && throttled <= shards.shards * onePage,
              `a page was retried, backing off, before the pass gave up (${throttled} throttled attempts)`)
          }
        }

        const lease = await readLease(new ReaperCalls(admin, undefined), reaperOptions(table))
        if (lease !== undefined && lease.untilMs !== 0) {
          t.equal(lease.owner, 'a')
          t.equal((await b.runOnce()).result, 'skipped', 'another instance waits for a lease length unrenewed')
          time.advance(LEASE_MS)
        }
        const next = await b.runOnce()
        t.equal(next.result, 'success', 'the next pass completes')
        t.equal(next.conflicts, 0, 'no row deleted twice')
        t.equal(first.deleted + next.deleted, expired.length, 'every expired row deleted exactly once')
        t.strictSame(await tableIds(admin, table), [LEASE_ID, ...live].sort(), 'live rows kept')
        t.equal((await a.runOnce()).result, 'success', 'the instance that failed runs again')
      })
    }
  }

  t.test('no unhandled rejection, no uncaught exception', async (t) => {
    t.strictSame(unexpected.events, [])
  })
})
