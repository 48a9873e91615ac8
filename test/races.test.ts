import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { startDynalite, makeClient, createTable, getRow, putRow } from './helpers/dynamo.js'
import { startFaultProxy } from './helpers/fault-proxy.js'
import { SECRET, buildApp, cookieFrom, cookieMaxAge, fakeClock, isClearingCookie, signedCookie } from './helpers/app.js'
import { resolveOptions } from '../src/options.js'
import { fakeTime, makeReaper, seedRows, sessionId, tableIds } from './helpers/reaper.js'
import { barrier, watchUnexpected } from './helpers/reliability.js'
import { LEASE_ID } from '../src/reaper/lease.js'

// Concurrent requests and reaper passes on the same sessions, with random network delays (a proxy adding jitter)
// to shuffle the order in which DynamoDB sees them, repeated: no lost key, no resurrected session, no half-state,
// no refreshed session reaped, no overlapping passes, no row deleted twice.

const unexpected = watchUnexpected(t)

interface Issued { id: string, cookie: string }

async function create (app: FastifyInstance, data: Record<string, unknown>): Promise<Issued> {
  const res = await app.inject({ method: 'POST', url: '/set', payload: data })
  if (res.statusCode !== 200) throw new Error(`setup failed: ${res.statusCode} ${res.body}`)
  return { id: res.json().id, cookie: cookieFrom(res.headers['set-cookie'])! }
}

/** A random pause of up to `ms`, so that concurrent requests start in a random order. */
const stagger = async (ms: number): Promise<void> => { await sleep(Math.random() * ms) }

/** More changed keys than one UpdateItem carries (an UpdateExpression is capped at 4 KB). */
const MANY_KEYS = 400

t.test('races on one session', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  proxy.inject({ kind: 'delay', ms: 0, jitter: 15 })
  const client = makeClient(t, proxy.endpoint)
  const table = await createTable(admin)
  const allLoaded = { wait: async () => {} }
  const app = await buildApp(t, client, table, {}, {
    routes: (app) => {
      app.post<{ Body: Record<string, number> }>('/set-after-all-loaded', async (request) => {
        await allLoaded.wait()
        for (const [k, v] of Object.entries(request.body)) request.session.set(k, v)
        return { ok: true }
      })
      app.post<{ Querystring: { key: string } }>('/delete-after-all-loaded', async (request) => {
        await allLoaded.wait()
        request.session.delete(request.query.key)
        return { ok: true }
      })
      app.post('/set-many', async (request) => {
        for (let i = 0; i < MANY_KEYS; i++) request.session.set(`n${i}`, i)
        return { ok: true }
      })
      app.post('/login', async (request) => {
        request.session.set('role', 'admin')
        await request.session.regenerate()
        return { id: request.session.id }
      })
    }
  })

  t.test('50 concurrent requests each setting a different key: all 50 keys are there afterwards', async (t) => {
    for (let round = 0; round < 3; round++) {
      const s = await create(app, { base: round })
      // Every request has read the session before any of them writes: the widest race.
      allLoaded.wait = barrier(50)
      const results = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
        await app.inject({ method: 'POST', url: '/set-after-all-loaded', headers: { cookie: s.cookie }, payload: { [`k${i}`]: i } })))
      t.strictSame(results.map((r) => r.statusCode), Array(50).fill(200), `round ${round}: every request saved`)
      const expected: Record<string, number> = { base: round }
      for (let i = 0; i < 50; i++) expected[`k${i}`] = i
      const read = await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })
      t.strictSame(read.json().value, expected, `round ${round}: all 50 keys`)
    }
  })

  t.test('25 sets and 25 deletes of different keys at once: exactly the expected keys remain', async (t) => {
    const initial: Record<string, number> = {}
    for (let i = 0; i < 25; i++) initial[`old${i}`] = i
    const s = await create(app, initial)
    allLoaded.wait = barrier(50)
    const results = await Promise.all([
      ...Array.from({ length: 25 }, async (_, i) =>
        await app.inject({ method: 'POST', url: '/set-after-all-loaded', headers: { cookie: s.cookie }, payload: { [`new${i}`]: i } })),
      ...Array.from({ length: 25 }, async (_, i) =>
        await app.inject({ method: 'POST', url: `/delete-after-all-loaded?key=old${i}`, headers: { cookie: s.cookie } }))
    ])
    t.strictSame(results.map((r) => r.statusCode), Array(50).fill(200))
    const expected: Record<string, number> = {}
    for (let i = 0; i < 25; i++) expected[`new${i}`] = i
    t.strictSame((await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })).json().value, expected)
  })

  t.test('50 concurrent first writes to a row without the data map (written by other software): all 50 keys', async (t) => {
    const id = 'tutorial-row-0000000000000001'
    await putRow(admin, table, { Sesion_Id: { S: id }, Expire_Session: { N: String(Math.floor(Date.now() / 1000) + 300) } })
    const cookie = signedCookie(id)
    allLoaded.wait = barrier(50)
    const results = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
      await app.inject({ method: 'POST', url: '/set-after-all-loaded', headers: { cookie }, payload: { [`k${i}`]: i } })))
    t.strictSame(results.map((r) => r.statusCode), Array(50).fill(200))
    const data = (await getRow(admin, table, id))?.Data?.M ?? {}
    t.strictSame(Object.keys(data).sort(), Array.from({ length: 50 }, (_, i) => `k${i}`).sort())
  })

  t.test('a change too large for one write is written in steps: a concurrent read sees the first steps whole, in order', async (t) => {
    const seen = new Set<number>()
    for (let round = 0; round < 10; round++) {
      const s = await create(app, { base: round })
      const reads = Array.from({ length: 10 }, async () => {
        await stagger(30)
        return await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })
      })
      const [changed, ...results] = await Promise.all([app.inject({ method: 'POST', url: '/set-many', headers: { cookie: s.cookie } }), ...reads])
      t.equal(changed!.statusCode, 200)
      for (const res of results) {
        const value = res.json().value as Record<string, number>
        const written = Object.keys(value).filter((k) => k !== 'base').length
        seen.add(written)
        // Each step is the next keys in the order they were set: what a read sees is a prefix of them.
        t.strictSame(Object.keys(value).filter((k) => k !== 'base').sort(), Array.from({ length: written }, (_, i) => `n${i}`).sort(), `round ${round}: ${written} of ${MANY_KEYS} keys, the first ones`)
      }
    }
    t.comment(`keys visible to concurrent reads: ${[...seen].sort((a, b) => a - b).join(', ')}`)
  })

  t.test('destroy racing with changes and refreshes, repeatedly: the session stays destroyed', async (t) => {
    for (let round = 0; round < 15; round++) {
      const s = await create(app, { user: 'u', round })
      allLoaded.wait = async () => { await stagger(20) }
      const requests: Array<Promise<LightMyRequestResponse>> = [
        ...Array.from({ length: 6 }, async (_, i) => {
          await stagger(20)
          return await app.inject({ method: 'POST', url: '/set-after-all-loaded', headers: { cookie: s.cookie }, payload: { [`late${i}`]: i } })
        }),
        ...Array.from({ length: 3 }, async () => {
          await stagger(20)
          return await app.inject({ method: 'GET', url: '/touch', headers: { cookie: s.cookie } })
        })
      ]
      const destroyed = (async () => {
        await stagger(20)
        return await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: s.cookie } })
      })()
      const [gone, ...others] = await Promise.all([destroyed, ...requests])
      t.equal(gone!.statusCode, 200)
      t.ok(isClearingCookie(gone!.headers['set-cookie']), 'destroy clears the cookie')
      for (const res of others) {
        // Before the destroy: saved (200). After it: refused (409) or, loaded after it, a fresh session (200) under a new id.
        t.ok([200, 409].includes(res.statusCode), `round ${round}: ${res.statusCode}`)
        if (res.statusCode === 409) t.equal(res.json().code, 'FST_DYNAMO_SESSION_GONE')
      }
      t.equal(await getRow(admin, table, s.id), undefined, `round ${round}: the destroyed session was not written back`)
      const after = await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })
      t.match(after.json(), { isNew: true, value: {} }, 'the old cookie names nothing')
    }
  })

  t.test('regenerate racing with reads, repeatedly: each read sees the whole old session or none, never a part', async (t) => {
    const data = { user: 'visitor', cart: [1, 2, 3], prefs: { lang: 'es', theme: 'dark' }, visits: 7 }
    for (let round = 0; round < 15; round++) {
      const s = await create(app, data)
      const reads = Array.from({ length: 8 }, async () => {
        await stagger(25)
        return await app.inject({ method: 'GET', url: '/get', headers: { cookie: s.cookie } })
      })
      const login = (async () => {
        await stagger(25)
        return await app.inject({ method: 'POST', url: '/login', headers: { cookie: s.cookie } })
      })()
      const [loggedIn, ...seen] = await Promise.all([login, ...reads])
      t.equal(loggedIn!.statusCode, 200)
      for (const res of seen) {
        t.equal(res.statusCode, 200)
        const body = res.json()
        if (body.isNew === false) t.strictSame(body, { id: s.id, isNew: false, value: data }, `round ${round}: the whole old session`)
        else t.strictSame(body.value, {}, `round ${round}: or none`)
        t.not(body.id, loggedIn!.json().id, 'a read of the old cookie never sees the new id')
      }
      const fresh = await app.inject({ method: 'GET', url: '/get', headers: { cookie: cookieFrom(loggedIn!.headers['set-cookie'])! } })
      t.strictSame(fresh.json().value, { ...data, role: 'admin' }, 'the new id has all of it')
      t.strictSame(Object.keys((await getRow(admin, table, s.id))!).sort(), ['Expire_Session', 'Sesion_Id', 'Superseded_At'], 'the old id is a tombstone')
    }
  })
})

/** A command log across clients, with one sequence for all of them, to check which calls happened between which. */
interface Entry { who: string, op: string, input: Record<string, unknown>, start: number, end: number, ok: boolean }

function logCommands (client: DynamoDBClient, who: string, log: Entry[], seq: { n: number }): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const entry: Entry = { who, op: String(context.commandName).replace(/Command$/, ''), input: args.input as Record<string, unknown>, start: ++seq.n, end: 0, ok: false }
      log.push(entry)
      try {
        const out = await next(args)
        entry.ok = true
        return out
      } finally {
        entry.end = ++seq.n
      }
    },
    { step: 'initialize', name: 'raceLog' }
  )
}

const isAcquire = (e: Entry): boolean => e.op === 'UpdateItem' && String(e.input.ConditionExpression ?? '').includes('attribute_not_exists(#owner)')
const isRelease = (e: Entry): boolean => e.op === 'UpdateItem' && (e.input.ExpressionAttributeValues as Record<string, { N?: string }> | undefined)?.[':until']?.N === '0'

/** Each holder's time with the lease: from its acquire's answer to its release's sending. */
function leaseWindows (log: readonly Entry[]): Array<{ who: string, from: number, to: number }> {
  const windows: Array<{ who: string, from: number, to: number }> = []
  for (const acquired of log.filter((e) => isAcquire(e) && e.ok)) {
    const release = log.find((e) => e.who === acquired.who && isRelease(e) && e.start > acquired.end)
    windows.push({ who: acquired.who, from: acquired.end, to: release?.start ?? Number.POSITIVE_INFINITY })
  }
  return windows
}

t.test('races with the reaper', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  proxy.inject({ kind: 'delay', ms: 0, jitter: 10 })

  t.test('a session refreshed while the reaper is mid-pass is never deleted (20 rounds of 15 sessions)', async (t) => {
    const table = await createTable(admin)
    // The app's clock runs 2 s behind the reaper's: to the reaper the sessions have just expired, to the app they
    // are live for one more second and can be refreshed. A refresh landing between the reaper's scan and its delete
    // is the race; the conditional delete must lose it.
    const clock = fakeClock()
    const reaperTime = fakeTime(clock.now())
    // One-second buckets: in index mode (TEST_REAPER_STRATEGY) a row is found once its bucket has passed, here as
    // soon as it is due, as a scan finds it.
    const expiryIndex = { bucketSeconds: 1 }
    const app = await buildApp(t, makeClient(t, proxy.endpoint), table, { now: clock.now, ttlSeconds: 300, expiryIndex })
    const shape = resolveOptions({ secret: SECRET, tableName: table, expiryIndex })
    const reaper = makeReaper(t, makeClient(t, proxy.endpoint), table, { maxWriteUnitsPerSecond: 1000 }, { now: reaperTime.now, sleep: reaperTime.sleep, shape })
    let refreshedAndKept = 0
    let reaped = 0
    let conflicts = 0
    for (let round = 0; round < 20; round++) {
      const sessions = await Promise.all(Array.from({ length: 15 }, async (_, i) => await create(app, { round, i })))
      clock.advance(299)
      reaperTime.advance(clock.now() + 2000 - reaperTime.now())
      const refreshes = sessions.map(async (s) => {
        await stagger(150)
        return await app.inject({ method: 'GET', url: '/touch', headers: { cookie: s.cookie } })
      })
      const [report, ...responses] = await Promise.all([reaper.runOnce(), ...refreshes])
      t.equal(report!.result, 'success')
      t.equal(report!.conflicts + report!.deleted, report!.expired, 'every expired row deleted or found refreshed')
      let absent = 0
      for (const [i, res] of responses.entries()) {
        const s = sessions[i]!
        const row = await getRow(admin, table, s.id)
        const issued = cookieFrom(res.headers['set-cookie'])
        t.equal(res.statusCode, 200)
        if (isClearingCookie(res.headers['set-cookie']) || (issued !== undefined && issued !== s.cookie)) {
          // Reaped before the refresh: the cookie is cleared, or (reaped before the request even read it) the
          // touch started a new session under a new id.
          t.equal(row, undefined, 'a refresh that lost the race says so')
          absent++
        } else {
          t.ok((cookieMaxAge(res.headers['set-cookie']) ?? 0) > 0, 'the refresh was acknowledged')
          t.ok(row, `round ${round}: an acknowledged refresh is never reaped`)
          t.equal(row?.Expire_Session?.N, String(clock.seconds + 300))
          refreshedAndKept++
        }
      }
      t.equal(report!.deleted, absent, 'what the reaper deleted is exactly what is gone')
      reaped += absent
      conflicts += report!.conflicts
      // Next round on an empty table (the lease item aside).
      for (const id of await tableIds(admin, table)) if (id !== LEASE_ID) await app.sessionStore.destroy(id)
      clock.advance(1000)
    }
    t.ok(refreshedAndKept > 0 && reaped > 0 && conflicts > 0,
      `every outcome occurred: ${refreshedAndKept} refreshed, ${reaped} reaped, ${conflicts} refreshed between the scan and the delete`)
  })

  t.test('two instances\' reapers started at once, 25 times: no overlapping passes, no row deleted twice', async (t) => {
    const table = await createTable(admin)
    const log: Entry[] = []
    const seq = { n: 0 }
    const reapers = await Promise.all(['a', 'b'].map(async (who) => {
      const client = makeClient(t, proxy.endpoint)
      logCommands(client, who, log, seq)
      const app = await buildApp(t, client, table, { reaper: { schedule: false, maxWriteUnitsPerSecond: 1000 } })
      return app.sessionReaper!
    }))
    let deleted = 0
    let seeded = 0
    for (let round = 0; round < 25; round++) {
      const ids = Array.from({ length: 12 }, (_, i) => sessionId(i, `r${round}x`))
      await seedRows(admin, table, ids.map((id) => ({ id, expiresAt: 1000 })))
      seeded += ids.length
      // Both at once, or one a moment into the other's pass.
      const reports = await Promise.all(reapers.map(async (r) => { await stagger(round % 2 === 0 ? 0 : 40); return await r.runOnce() }))
      t.ok(reports.every((r) => r.result !== 'failure'), `round ${round}: ${reports.map((r) => r.result).join(', ')}`)
      t.equal(reports.reduce((sum, r) => sum + r.conflicts, 0), 0, `round ${round}: no delete found its row already gone`)
      deleted += reports.reduce((sum, r) => sum + r.deleted, 0)
      t.strictSame(await tableIds(admin, table), [LEASE_ID], `round ${round}: all reaped`)
    }
    t.equal(deleted, seeded, 'every row deleted exactly once')
    const windows = leaseWindows(log)
    t.ok(windows.length >= 25, `${windows.length} passes held the lease`)
    for (const w of windows) {
      for (const other of windows.filter((o) => o.who !== w.who)) {
        t.ok(w.to < other.from || other.to < w.from, `passes of ${w.who} [${w.from}, ${w.to}] and ${other.who} [${other.from}, ${other.to}] do not overlap`)
      }
    }
    const deletes = log.filter((e) => e.op === 'DeleteItem')
    t.equal(deletes.length, seeded, 'one DeleteItem per row, none sent twice')
    t.ok(deletes.every((d) => windows.some((w) => w.who === d.who && d.start > w.from && d.end < w.to)), 'every delete inside its sender\'s lease')
  })

  t.test('no unhandled rejection, no uncaught exception', async (t) => {
    t.strictSame(unexpected.events, [])
  })
})
