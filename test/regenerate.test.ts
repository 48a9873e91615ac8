import t from 'tap'
import { startDynalite, makeClient, createTable, getRow } from './helpers/dynamo.js'
import { buildApp, cookieFrom, fakeClock, signedCookie } from './helpers/app.js'

// destroy() and regenerate() after an unawaited save(), and the creation time across regenerate().

t.test('destroy() and regenerate() after an unawaited save()', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  t.test('regression: destroy() waits for an unawaited save() of a new session', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/save-then-destroy', async (request) => {
          request.session.set('x', 1)
          const id = request.session.id
          const pending = request.session.save()
          await request.session.destroy()
          await pending
          return { id }
        })
      }
    })
    const res = await app.inject({ method: 'POST', url: '/save-then-destroy' })
    t.equal(res.statusCode, 200)
    t.equal(await getRow(client, table, res.json().id), undefined, 'no row is left')
    t.equal(cookieFrom(res.headers['set-cookie']) ?? 'sessionId=', 'sessionId=', 'the response does not set the cookie')
  })

  t.test('regression: regenerate() waits for an unawaited save() of a new session', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/save-then-regenerate', async (request) => {
          request.session.set('x', 1)
          const before = request.session.id
          const pending = request.session.save()
          await request.session.regenerate()
          await pending
          return { before, after: request.session.id }
        })
      }
    })
    const res = await app.inject({ method: 'POST', url: '/save-then-regenerate' })
    t.equal(res.statusCode, 200)
    const { before, after } = res.json() as { before: string, after: string }
    t.not(after, before)
    t.equal((await getRow(client, table, before))?.Data, undefined, 'the saved row no longer holds a session')
    t.equal(cookieFrom(res.headers['set-cookie']), signedCookie(after), 'the cookie names the new id')
    t.strictSame((await getRow(client, table, after))?.Data, { M: { x: { N: '1' } } })
    const old = await app.inject({ method: 'GET', url: '/get', headers: { cookie: signedCookie(before) } })
    t.equal(old.json().isNew, true, 'the first id grants nothing')
  })
})

t.test('regression: regenerate() keeps the creation time, so absoluteTimeoutSeconds still ends the session', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = await createTable(client)
  const clock = fakeClock()
  const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 60, touchAfterSeconds: 0, absoluteTimeoutSeconds: 100 })
  const createdAt = clock.seconds
  const created = await app.inject({ method: 'POST', url: '/set', payload: { user: 'ana' } })
  let cookie = cookieFrom(created.headers['set-cookie'])!
  for (let i = 0; i < 3; i++) {
    clock.advance(30)
    const res = await app.inject({ method: 'POST', url: '/regenerate', headers: { cookie } })
    t.equal(res.statusCode, 200)
    cookie = cookieFrom(res.headers['set-cookie'])!
    const row = await getRow(client, table, res.json().after)
    t.equal(row?.Created_At?.N, String(createdAt), 'the new row keeps the first creation time')
    t.ok(Number(row?.Expire_Session?.N) <= createdAt + 100, 'its expiry is capped from then')
  }
  clock.advance(9)
  const before = await app.inject({ method: 'GET', url: '/get?key=user', headers: { cookie } })
  t.equal(before.json().value, 'ana', 'alive just before createdAt + absoluteTimeoutSeconds')
  clock.advance(1)
  const after = await app.inject({ method: 'GET', url: '/get?key=user', headers: { cookie } })
  t.strictSame([after.json().isNew, after.json().value], [true, null], 'dead at createdAt + absoluteTimeoutSeconds')
})
