import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ScanCommand } from '@aws-sdk/client-dynamodb'
import { startDynalite, makeClient, createTable, countCalls, getRow, putRow } from './helpers/dynamo.js'
import { startFaultProxy } from './helpers/fault-proxy.js'
import { buildApp, cookieFrom, fakeClock, signedCookie, isClearingCookie, cookieMaxAge } from './helpers/app.js'
import { barrier, gate } from './helpers/reliability.js'

// request.session against dynalite: the API, change tracking, saving, and concurrent requests on one session.

t.test('request.session', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const counter = countCalls(client)

  async function withSession (app: FastifyInstance, data: Record<string, unknown>): Promise<{ id: string, cookie: string }> {
    const res = await app.inject({ method: 'POST', url: '/set', payload: data })
    return { id: res.json().id as string, cookie: cookieFrom(res.headers['set-cookie'])! }
  }

  t.test('id, isNew, expiresAt, get, set, delete, data', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 600 }, {
      routes: (app) => {
        app.get('/info', async (request) => ({ id: request.session.id, isNew: request.session.isNew, expiresAt: request.session.expiresAt.toISOString() }))
        app.post('/copies', async (request) => {
          const value = { list: [1, 2] }
          request.session.set('obj', value)
          value.list.push(3)
          const data = request.session.data() as Record<string, { list: number[] }>
          data.obj!.list.push(4)
          return { stored: request.session.get('obj') }
        })
      }
    })
    const fresh = await app.inject({ method: 'GET', url: '/info' })
    t.equal(fresh.json().isNew, true)
    t.match(fresh.json().id, /^[A-Za-z0-9_-]{32}$/, '192-bit base64url id')
    t.equal(fresh.json().expiresAt, new Date((clock.seconds + 600) * 1000).toISOString())

    const { id, cookie } = await withSession(app, { s: 'text', n: 1.5, b: false, z: null, arr: [1, { x: 'y' }], obj: { deep: { er: [true] } } })
    const info = await app.inject({ method: 'GET', url: '/info', headers: { cookie } })
    t.strictSame(info.json(), { id, isNew: false, expiresAt: new Date((clock.seconds + 600) * 1000).toISOString() })
    const all = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(all.json().value, { s: 'text', n: 1.5, b: false, z: null, arr: [1, { x: 'y' }], obj: { deep: { er: [true] } } }, 'every JSON type round-trips')

    await app.inject({ method: 'POST', url: '/delete?key=s', headers: { cookie } })
    await app.inject({ method: 'POST', url: '/delete?key=never-set', headers: { cookie } })
    const after = await app.inject({ method: 'GET', url: '/get?key=s', headers: { cookie } })
    t.equal(after.json().value, null, 'deleted')
    t.notOk('s' in (await getRow(client, table, id))!.Data!.M!, 'removed from the row')

    const copies = await app.inject({ method: 'POST', url: '/copies', headers: { cookie } })
    t.strictSame(copies.json().stored, { list: [1, 2] }, 'set keeps a copy; data() returns a copy')
  })

  t.test('set() of a value that is not JSON throws FST_DYNAMO_SESSION_NOT_SERIALIZABLE and changes nothing', async (t) => {
    const table = await createTable(client)
    const bad: Record<string, () => unknown> = {
      function: () => () => 1,
      symbol: () => Symbol('s'),
      bigint: () => BigInt(1),
      cyclic: () => { const o: Record<string, unknown> = {}; o.self = o; return o },
      'nested function': () => ({ a: [{ f: () => 1 }] }),
      date: () => new Date(),
      NaN: () => Number.NaN,
      undefinedInArray: () => [undefined]
    }
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post<{ Querystring: { kind: string } }>('/bad', async (request) => {
          request.session.set('x', bad[request.query.kind]!() as never)
          return { ok: true }
        })
      }
    })
    const { id, cookie } = await withSession(app, { x: 'original' })
    const before = await getRow(client, table, id)
    for (const kind of Object.keys(bad)) {
      counter.reset()
      const res = await app.inject({ method: 'POST', url: `/bad?kind=${encodeURIComponent(kind)}`, headers: { cookie } })
      t.equal(res.json().code, 'FST_DYNAMO_SESSION_NOT_SERIALIZABLE', kind)
      t.strictSame(counter.calls, ['GetItem'], `${kind}: nothing written`)
    }
    t.strictSame(await getRow(client, table, id), before, 'stored session unchanged')
    counter.reset()
    const fresh = await app.inject({ method: 'POST', url: '/bad?kind=bigint' })
    t.equal(fresh.json().code, 'FST_DYNAMO_SESSION_NOT_SERIALIZABLE')
    t.strictSame(counter.calls, [], 'a new session is not created')
    t.equal(fresh.headers['set-cookie'], undefined)
  })

  t.test('an invalid key throws FST_DYNAMO_SESSION_INVALID_KEY at set() and delete()', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post<{ Querystring: { op: string } }>('/bad-key', async (request) => {
          if (request.query.op === 'set') request.session.set('', 1)
          else request.session.delete('k'.repeat(256))
          return { ok: true }
        })
      }
    })
    counter.reset()
    for (const op of ['set', 'delete']) {
      const res = await app.inject({ method: 'POST', url: `/bad-key?op=${op}` })
      t.equal(res.json().code, 'FST_DYNAMO_SESSION_INVALID_KEY', op)
    }
    t.strictSame(counter.calls, [])
  })

  t.test('a session over 400 KB fails with FST_DYNAMO_SESSION_TOO_LARGE before anything is sent', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, { fastify: { logger: false, bodyLimit: 2 * 1024 * 1024 } })
    counter.reset()
    const huge = await app.inject({ method: 'POST', url: '/set', payload: { big: 'x'.repeat(401 * 1024) } })
    t.equal(huge.json().code, 'FST_DYNAMO_SESSION_TOO_LARGE')
    t.strictSame(counter.calls, [], 'a new oversized session sends nothing')
    t.equal(huge.headers['set-cookie'], undefined)

    const { id, cookie } = await withSession(app, { a: 'a'.repeat(300 * 1024) })
    const before = await getRow(client, table, id)
    counter.reset()
    const more = await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { b: 'b'.repeat(150 * 1024) } })
    t.equal(more.json().code, 'FST_DYNAMO_SESSION_TOO_LARGE', 'loaded data counts towards the limit')
    t.strictSame(counter.calls, ['GetItem'], 'nothing written')
    t.strictSame(await getRow(client, table, id), before, 'stored session unchanged')

    counter.reset()
    const replace = await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { a: 'c'.repeat(390 * 1024) } })
    t.equal(replace.statusCode, 200, 'replacing a key counts only the new value')
    t.strictSame(counter.calls, ['GetItem', 'UpdateItem'])
    t.equal((await getRow(client, table, id))?.Data?.M?.a?.S?.length, 390 * 1024)
  })

  t.test('destroy() deletes the row and clears the cookie; set() afterwards throws FST_DYNAMO_SESSION_DESTROYED', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/destroy-then-set', async (request) => {
          await request.session.destroy()
          request.session.set('after', 1)
          return { ok: true }
        })
      }
    })
    const { id, cookie } = await withSession(app, { user: 'u' })
    counter.reset()
    const res = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } })
    t.equal(res.statusCode, 200)
    t.strictSame(counter.calls, ['GetItem', 'DeleteItem'])
    t.ok(isClearingCookie(res.headers['set-cookie']), 'cookie cleared')
    t.equal(await getRow(client, table, id), undefined, 'row deleted')
    const again = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.equal(again.json().isNew, true, 'the old cookie no longer names a session')

    counter.reset()
    const none = await app.inject({ method: 'POST', url: '/destroy' })
    t.strictSame(counter.calls, [], 'destroying a session that was never stored costs nothing')
    t.equal(none.headers['set-cookie'], undefined)

    const second = await withSession(app, { user: 'v' })
    const bad = await app.inject({ method: 'POST', url: '/destroy-then-set', headers: { cookie: second.cookie } })
    t.equal(bad.json().code, 'FST_DYNAMO_SESSION_DESTROYED')
    t.ok(isClearingCookie(bad.headers['set-cookie']), 'the cookie is still cleared on the error reply')
    t.equal(await getRow(client, table, second.id), undefined, 'not resurrected')
  })

  t.test('touch() refreshes the expiry now; on a new session it stores it', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 300, touchAfterSeconds: 60 })
    const { id, cookie } = await withSession(app, { a: 1 })
    clock.advance(5)
    counter.reset()
    const res = await app.inject({ method: 'GET', url: '/touch', headers: { cookie } })
    t.strictSame(counter.calls, ['GetItem', 'UpdateItem'], 'refreshed before touchAfterSeconds because asked')
    t.equal(cookieMaxAge(res.headers['set-cookie']), 300)
    const row = await getRow(client, table, id)
    t.equal(row?.Expire_Session?.N, String(clock.seconds + 300))
    t.strictSame(row?.Data, { M: { a: { N: '1' } } })

    counter.reset()
    const fresh = await app.inject({ method: 'GET', url: '/touch' })
    t.strictSame(counter.calls, ['PutItem'], 'a touched new session is stored')
    t.ok(cookieFrom(fresh.headers['set-cookie']))
  })

  t.test('save() writes now, and the response writes again only for later changes', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post<{ Querystring: { more?: string } }>('/save', async (request) => {
          request.session.set('a', 1)
          await request.session.save()
          if (request.query.more !== undefined) request.session.set('b', 2)
          return { id: request.session.id }
        })
      }
    })
    counter.reset()
    let res = await app.inject({ method: 'POST', url: '/save' })
    t.strictSame(counter.calls, ['PutItem'], 'new session: one write')
    const cookie = cookieFrom(res.headers['set-cookie'])!
    t.ok(cookie)

    counter.reset()
    res = await app.inject({ method: 'POST', url: '/save', headers: { cookie } })
    t.strictSame(counter.calls, ['GetItem', 'UpdateItem'], 'existing session: one write')

    counter.reset()
    res = await app.inject({ method: 'POST', url: '/save?more=1', headers: { cookie } })
    t.strictSame(counter.calls, ['GetItem', 'UpdateItem', 'UpdateItem'], 'a change after save() is written at the end')
    t.strictSame((await getRow(client, table, res.json().id))?.Data, { M: { a: { N: '1' }, b: { N: '2' } } })

    counter.reset()
    res = await app.inject({ method: 'POST', url: '/save?more=1' })
    t.strictSame(counter.calls, ['PutItem', 'UpdateItem'], 'new session saved, then its later change')
    t.strictSame((await getRow(client, table, res.json().id))?.Data, { M: { a: { N: '1' }, b: { N: '2' } } })
  })

  t.test('a route that throws: its changes are saved once and the error reply still carries the cookie', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/throw', async (request) => {
          request.session.set('a', 1)
          throw Object.assign(new Error('boom'), { statusCode: 418 })
        })
      }
    })
    counter.reset()
    const res = await app.inject({ method: 'POST', url: '/throw' })
    t.equal(res.statusCode, 418)
    t.strictSame(counter.calls, ['PutItem'], 'saved exactly once')
    const cookie = cookieFrom(res.headers['set-cookie'])!
    t.ok(cookie)
    const read = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })
    t.equal(read.json().value, 1)
  })

  t.test('when a later onSend hook fails, Fastify runs onSend again for the error reply: still one write, one cookie', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        let failed = false
        app.addHook('onSend', async (request, _reply, payload) => {
          if (request.url === '/set' && !failed) {
            failed = true
            throw Object.assign(new Error('later hook failed'), { statusCode: 502 })
          }
          return payload
        })
      }
    })
    counter.reset()
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.equal(res.statusCode, 502)
    t.strictSame(counter.calls, ['PutItem'], 'saved once')
    const cookies = [res.headers['set-cookie'] ?? []].flat()
    t.equal(cookies.length, 1, 'one Set-Cookie')
    const read = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: cookieFrom(cookies)! } })
    t.equal(read.json().value, 1)
  })

  t.test('a failed automatic save is a coded 5xx (FST_DYNAMO_SESSION_SAVE_FAILED), attempted once', async (t) => {
    // DynamoDB goes away mid-request: from then on the proxy resets every connection.
    const doomed = await startFaultProxy(t, dynamo.endpoint)
    const doomedClient = makeClient(t, doomed.endpoint, { maxAttempts: 1 })
    const doomedCounter = countCalls(doomedClient)
    const table = await createTable(doomedClient)
    const app = await buildApp(t, doomedClient, table, {}, {
      routes: (app) => {
        app.post('/set-and-lose-dynamo', async (request) => {
          request.session.set('a', 1)
          doomed.inject({ kind: 'reset' })
          return { ok: true }
        })
      }
    })
    doomedCounter.reset()
    const res = await app.inject({ method: 'POST', url: '/set-and-lose-dynamo' })
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_SAVE_FAILED')
    t.strictSame(doomedCounter.calls, ['PutItem'], 'the save is not retried by the error reply')
    t.equal(res.headers['set-cookie'], undefined, 'no cookie for a session that was not stored')
  })

  t.test('two concurrent requests changing different keys of one session both survive', async (t) => {
    const table = await createTable(client)
    const bothLoaded = barrier(2)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post<{ Body: Record<string, number> }>('/set-together', async (request) => {
          await bothLoaded()
          for (const [k, v] of Object.entries(request.body)) request.session.set(k, v)
          return { ok: true }
        })
      }
    })
    const { id, cookie } = await withSession(app, { base: 0 })
    const [r1, r2] = await Promise.all([
      app.inject({ method: 'POST', url: '/set-together', headers: { cookie }, payload: { left: 1 } }),
      app.inject({ method: 'POST', url: '/set-together', headers: { cookie }, payload: { right: 2 } })
    ])
    t.equal(r1.statusCode, 200)
    t.equal(r2.statusCode, 200)
    t.strictSame((await getRow(client, table, id))?.Data, { M: { base: { N: '0' }, left: { N: '1' }, right: { N: '2' } } })
  })

  t.test('a change racing with destroy: FST_DYNAMO_SESSION_GONE (409), cookie cleared, row not recreated', async (t) => {
    const table = await createTable(client)
    const slow = gate()
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/slow-set', async (request) => {
          await slow.wait()
          request.session.set('late', 1)
          return { ok: true }
        })
      }
    })
    const { id, cookie } = await withSession(app, { user: 'u' })
    const pending = app.inject({ method: 'POST', url: '/slow-set', headers: { cookie } })
    await slow.reached
    const destroyed = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } })
    t.equal(destroyed.statusCode, 200)
    slow.release()
    const res = await pending
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_GONE')
    t.ok(isClearingCookie(res.headers['set-cookie']), 'cookie cleared')
    t.equal(await getRow(client, table, id), undefined, 'the destroyed session is not recreated')
  })

  t.test('an expiry refresh racing with destroy is dropped quietly and does not recreate the row', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const slow = gate()
    const app = await buildApp(t, client, table, { now: clock.now, touchAfterSeconds: 10 }, {
      routes: (app) => {
        app.get('/slow-read', async (request) => {
          await slow.wait()
          return { value: request.session.get('user') ?? null }
        })
      }
    })
    const { id, cookie } = await withSession(app, { user: 'u' })
    clock.advance(20)
    const pending = app.inject({ method: 'GET', url: '/slow-read', headers: { cookie } })
    await slow.reached
    await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } })
    slow.release()
    const res = await pending
    t.equal(res.statusCode, 200, 'a lost refresh is not an error')
    t.ok(isClearingCookie(res.headers['set-cookie']), 'cookie cleared')
    t.equal(await getRow(client, table, id), undefined)
  })

  t.test('a change to a session that expired during the request is refused, not resurrected', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 60, touchAfterSeconds: 10 }, {
      routes: (app) => {
        app.post('/slow-set', async (request) => {
          clock.advance(61)
          request.session.set('late', 1)
          return { ok: true }
        })
      }
    })
    const { id, cookie } = await withSession(app, { user: 'u' })
    const expiry = (await getRow(client, table, id))?.Expire_Session?.N
    const res = await app.inject({ method: 'POST', url: '/slow-set', headers: { cookie } })
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_GONE')
    const row = await getRow(client, table, id)
    t.equal(row?.Expire_Session?.N, expiry, 'expiry not pushed forward')
    t.strictSame(row?.Data, { M: { user: { S: 'u' } } }, 'data unchanged')
  })

  t.test('regenerate(): new id, data kept, old row a tombstone, old cookie dead', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    const { id, cookie } = await withSession(app, { user: 'u', cart: [1, 2] })
    counter.reset()
    const res = await app.inject({ method: 'POST', url: '/regenerate', headers: { cookie } })
    const { before, after } = res.json() as { before: string, after: string }
    t.equal(before, id)
    t.not(after, id)
    t.strictSame(counter.calls, ['GetItem', 'PutItem', 'PutItem'], 'new row written before the old one becomes a tombstone; nothing more at the end')
    t.strictSame(Object.keys((await getRow(client, table, id))!).sort(), ['Expire_Session', 'Sesion_Id', 'Superseded_At'], 'old row a tombstone')
    t.strictSame((await getRow(client, table, after))?.Data, { M: { user: { S: 'u' }, cart: { L: [{ N: '1' }, { N: '2' }] } } }, 'data kept')
    const newCookie = cookieFrom(res.headers['set-cookie'])!
    t.equal(newCookie, signedCookie(after))

    const old = await app.inject({ method: 'GET', url: '/get?key=user', headers: { cookie } })
    t.equal(old.json().value, null, 'the old cookie no longer works')
    t.equal(old.headers['set-cookie'], undefined, 'and its answer leaves the login cookie alone')
    const current = await app.inject({ method: 'GET', url: '/get?key=user', headers: { cookie: newCookie } })
    t.strictSame(current.json(), { id: after, isNew: false, value: 'u' })
  })

  t.test('regression: regenerate() racing with destroy copied the destroyed session to a new id', async (t) => {
    const table = await createTable(client)
    const slow = gate()
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/slow-regenerate', async (request) => {
          await slow.wait()
          await request.session.regenerate()
          return { id: request.session.id }
        })
      }
    })
    const { id, cookie } = await withSession(app, { user: 'u' })
    const pending = app.inject({ method: 'POST', url: '/slow-regenerate', headers: { cookie } })
    await slow.reached
    await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } })
    slow.release()
    const res = await pending
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_GONE')
    t.ok(isClearingCookie(res.headers['set-cookie']), 'cookie cleared')
    t.equal(await getRow(client, table, id), undefined)
    t.equal(await rowCount(), 0, 'no copy of the destroyed session survives under another id')

    async function rowCount (): Promise<number> {
      const out = await client.send(new ScanCommand({ TableName: table, Select: 'COUNT', ConsistentRead: true }))
      return out.Count ?? 0
    }
  })

  t.test('regenerate() after destroy() starts a clean session that is stored with new data', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/relogin', async (request) => {
          await request.session.destroy()
          await request.session.regenerate()
          request.session.set('user', 'second')
          return { id: request.session.id }
        })
      }
    })
    const { id, cookie } = await withSession(app, { user: 'first', secret: 's' })
    const res = await app.inject({ method: 'POST', url: '/relogin', headers: { cookie } })
    t.equal(res.statusCode, 200)
    const newId = res.json().id as string
    t.equal(await getRow(client, table, id), undefined)
    t.strictSame((await getRow(client, table, newId))?.Data, { M: { user: { S: 'second' } } }, 'only the new data')
    t.equal(cookieFrom(res.headers['set-cookie']), signedCookie(newId))
  })

  t.test('regenerate() of a session not yet stored stores it under the new id', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/login', async (request) => {
          request.session.set('user', 'u')
          await request.session.regenerate()
          return { id: request.session.id }
        })
      }
    })
    counter.reset()
    const res = await app.inject({ method: 'POST', url: '/login' })
    t.strictSame(counter.calls, ['PutItem'])
    t.strictSame((await getRow(client, table, res.json().id))?.Data, { M: { user: { S: 'u' } } })
  })

  t.test('a tutorial row without the data map: changed by two concurrent requests, both keys survive', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const bothLoaded = barrier(2)
    const app = await buildApp(t, client, table, { now: clock.now }, {
      routes: (app) => {
        app.post<{ Body: Record<string, number> }>('/set-together', async (request) => {
          await bothLoaded()
          for (const [k, v] of Object.entries(request.body)) request.session.set(k, v)
          return { ok: true }
        })
      }
    })
    const id = 'tutorial-row-0123456789'
    await putRow(client, table, { Sesion_Id: { S: id }, Expire_Session: { N: String(clock.seconds + 300) } })
    const cookie = signedCookie(id)
    const [r1, r2] = await Promise.all([
      app.inject({ method: 'POST', url: '/set-together', headers: { cookie }, payload: { left: 1 } }),
      app.inject({ method: 'POST', url: '/set-together', headers: { cookie }, payload: { right: 2 } })
    ])
    t.equal(r1.statusCode, 200)
    t.equal(r2.statusCode, 200)
    t.strictSame((await getRow(client, table, id))?.Data, { M: { left: { N: '1' }, right: { N: '2' } } })
  })
  t.test('regression: a save() left unawaited and the automatic save write once, and the request succeeds', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/unawaited', async (request) => {
          request.session.set('a', 1)
          void request.session.save()
          return { ok: true }
        })
        app.post('/parallel', async (request) => {
          request.session.set('b', 2)
          await Promise.all([request.session.save(), request.session.save()])
          return { ok: true }
        })
      }
    })
    counter.reset()
    const first = await app.inject({ method: 'POST', url: '/unawaited' })
    t.equal(first.statusCode, 200)
    t.strictSame(counter.calls, ['PutItem'], 'one create, not a second one failing its condition')
    const cookie = cookieFrom(first.headers['set-cookie'])!
    counter.reset()
    const second = await app.inject({ method: 'POST', url: '/parallel', headers: { cookie } })
    t.equal(second.statusCode, 200)
    t.strictSame(counter.calls, ['GetItem', 'UpdateItem'], 'two parallel saves, one write')
    const read = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(read.json().value, { a: 1, b: 2 })
  })

  t.test('regression: get() returns a copy, so an unsaved mutation cannot diverge from what is stored', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post('/mutate', async (request) => {
          const cart = request.session.get('cart') as string[]
          cart.push('mutated without set')
          return { again: request.session.get('cart') }
        })
      }
    })
    const { cookie } = await withSession(app, { cart: ['apple'] })
    counter.reset()
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: { cookie } })
    t.strictSame(res.json().again, ['apple'])
    t.strictSame(counter.calls, ['GetItem'], 'nothing to write')
  })
})
