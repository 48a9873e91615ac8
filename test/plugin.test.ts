import t from 'tap'
import { shardOf } from '../src/store/expiry-index.js'
import { Server } from 'node:net'
import Fastify from 'fastify'
import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb'
import defaultExport, { dynamoSession } from '../src/index.js'
import { startDynalite, makeClient, createTable, countCalls, getRow, putRow } from './helpers/dynamo.js'
import { buildApp, closedEndpoint, cookieFrom, fakeClock, recordCommands, signedCookie, SECRET, OLD_SECRET, isClearingCookie, cookieMaxAge } from './helpers/app.js'

// The plugin end to end against dynalite: exports, registration, options, cookies and the admin API.

function header (setCookie: string | string[] | undefined): string {
  const value = Array.isArray(setCookie) ? setCookie[0] : setCookie
  return value ?? ''
}

t.test('exports and metadata', async (t) => {
  t.equal(defaultExport, dynamoSession, 'default export is the named export')
  const meta = (dynamoSession as unknown as Record<symbol, { name?: string, fastify?: string }>)[Symbol.for('plugin-meta')]
  t.equal(meta?.name, 'fastify-dynamo-session')
  t.equal(meta?.fastify, '5.x')
  t.equal((dynamoSession as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')], true, 'wrapped by fastify-plugin: decorators reach the app')
})

t.test('the plugin', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const counter = countCalls(client)
  const recorder = recordCommands(client)

  t.test('never starts a database: against an unreachable endpoint it registers, listens nowhere, and answers 503', async (t) => {
    const endpoint = await closedEndpoint()
    const deadClient = makeClient(t, endpoint, { maxAttempts: 1, requestHandler: { requestTimeout: 500, connectionTimeout: 200, throwOnRequestTimeout: true } })
    const listen = Server.prototype.listen
    let listens = 0
    Server.prototype.listen = function (this: Server, ...args: unknown[]) {
      listens++
      return listen.apply(this, args as never)
    } as typeof listen
    let app
    try {
      app = await buildApp(t, deadClient, 'ManejoSesion')
    } finally {
      Server.prototype.listen = listen
    }
    t.equal(listens, 0, 'no server started')
    const res = await app.inject({ method: 'GET', url: '/get', headers: { cookie: signedCookie('C'.repeat(32)) } })
    t.equal(res.statusCode, 503)
  })

  t.test('registration fails with coded errors on bad options', async (t) => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['unknown option', { secret: SECRET, client, tableNmae: 'x' }, 'FST_DYNAMO_SESSION_UNKNOWN_OPTION'],
      ['unknown cookie option', { secret: SECRET, client, cookie: { maxAge: 1 } }, 'FST_DYNAMO_SESSION_UNKNOWN_OPTION'],
      ['missing secret', { client }, 'FST_DYNAMO_SESSION_INVALID_SECRET'],
      ['short secret', { secret: 'short', client }, 'FST_DYNAMO_SESSION_INVALID_SECRET'],
      ['bad ttl', { secret: SECRET, client, ttlSeconds: 0 }, 'FST_DYNAMO_SESSION_INVALID_OPTION']
    ]
    for (const [name, options, code] of cases) {
      const app = Fastify()
      t.teardown(() => app.close())
      await t.rejects(async () => { await app.register(dynamoSession, options as never).ready() }, { code }, name)
    }
  })

  t.test('createTable: true creates the table at startup; false creates none', async (t) => {
    const tableName = `created_at_startup_${process.pid}`
    const plain = await buildApp(t, client, `not_created_${process.pid}`, { createTable: false })
    t.ok(plain)
    const tables = (await client.send(new ListTablesCommand({}))).TableNames ?? []
    t.notOk(tables.includes(`not_created_${process.pid}`), 'no table with createTable: false, even on a loopback endpoint')

    const app = await buildApp(t, client, tableName, { createTable: true, idAttribute: 'sid', expiresAttribute: 'exp' })
    const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table
    t.equal(table?.TableStatus, 'ACTIVE')
    t.strictSame(table?.KeySchema, [{ AttributeName: 'sid', KeyType: 'HASH' }])
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.equal(res.statusCode, 200)
    t.ok(await getRow(client, tableName, res.json().id, 'sid'))
  })

  t.test("createTable 'auto' (the default) on a loopback endpoint: one DescribeTable for an existing table, nothing changed", async (t) => {
    const table = await createTable(client)
    const counted = makeClient(t, dynamo.endpoint)
    const calls = countCalls(counted)
    const app = await buildApp(t, counted, table, { createTable: undefined }) // the plugin's default
    await app.ready()
    t.strictSame(calls.calls, ['DescribeTable'], 'no CreateTable, no TTL or index calls')
  })

  t.test("createTable 'auto' sends nothing at startup to an endpoint that is not loopback", async (t) => {
    // 192.0.2.1 (TEST-NET-1) never answers: a call at startup would fail the registration after its timeout.
    const remote = makeClient(t, 'http://192.0.2.1:8000')
    const calls = countCalls(remote)
    const app = await buildApp(t, remote, `never_created_${process.pid}`, { createTable: 'auto' })
    await app.ready()
    t.strictSame(calls.calls, [], 'no DescribeTable, no CreateTable')
  })

  t.test('consistentRead', async (t) => {
    const table = await createTable(client)
    const seed = await buildApp(t, client, table)
    const live = (await seed.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).json().id as string
    const missing = 'D'.repeat(32)
    const reads = async (mode: 'on-miss' | 'always' | 'never', id: string): Promise<boolean[]> => {
      const app = await buildApp(t, client, table, { consistentRead: mode })
      recorder.reset()
      await app.inject({ method: 'GET', url: '/get', headers: { cookie: signedCookie(id) } })
      return recorder.commands.map((c) => {
        t.equal(c.name, 'GetItem')
        return c.input.ConsistentRead as boolean
      })
    }
    t.strictSame(await reads('on-miss', live), [false], "'on-miss' finds a live session with one eventually consistent read")
    t.strictSame(await reads('on-miss', missing), [false, true], "'on-miss' re-reads strongly once before declaring absent")
    t.strictSame(await reads('always', live), [true], "'always': one strong read")
    t.strictSame(await reads('always', missing), [true])
    t.strictSame(await reads('never', live), [false], "'never': one eventual read")
    t.strictSame(await reads('never', missing), [false])
  })

  t.test("'on-miss' finds a session the eventually consistent read missed", async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now })
    const id = 'E'.repeat(32)
    // Stand in for a stale replica: the first (eventual) read of this row answers with nothing.
    client.middlewareStack.add((next, context) => async (args) => {
      const input = args.input as { ConsistentRead?: boolean, Key?: Record<string, { S?: string }> }
      if (context.commandName === 'GetItemCommand' && input.ConsistentRead === false && input.Key?.Sesion_Id?.S === id) {
        return { output: { $metadata: {} }, response: {} } as never
      }
      return await next(args)
    }, { step: 'initialize', name: 'staleReplica', priority: 'low' })
    t.teardown(() => { client.middlewareStack.remove('staleReplica') })
    await putRow(client, table, {
      Sesion_Id: { S: id },
      Expire_Session: { N: String(clock.seconds + 300) },
      Touched_At: { N: String(clock.seconds) },
      Data: { M: { a: { N: '1' } } }
    })
    counter.reset()
    const res = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: signedCookie(id) } })
    t.strictSame(res.json(), { id, isNew: false, value: 1 })
    t.strictSame(counter.calls, ['GetItem', 'GetItem'])
    t.equal(res.headers['set-cookie'], undefined, 'the cookie is not cleared')
  })

  t.test('data model: custom table and attribute names', async (t) => {
    const table = await createTable(client, 'custom', { idAttribute: 'sid', expiresAttribute: 'ttl_at' })
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, idAttribute: 'sid', expiresAttribute: 'ttl_at', dataAttribute: 'payload', ttlSeconds: 120 })
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const id = res.json().id as string
    const row = await getRow(client, table, id, 'sid')
    t.strictSame(row, {
      sid: { S: id },
      ttl_at: { N: String(clock.seconds + 120) },
      Created_At: { N: String(clock.seconds) },
      Touched_At: { N: String(clock.seconds) },
      payload: { M: { a: { N: '1' } } },
      Expire_Shard: { N: String(shardOf(id, 16)) },
      Expire_Bucket: { N: String(Math.floor((clock.seconds + 120) / 300)) }
    })
    const cookie = cookieFrom(res.headers['set-cookie'])!
    await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { b: 2 } })
    t.strictSame((await getRow(client, table, id, 'sid'))?.payload, { M: { a: { N: '1' }, b: { N: '2' } } })
    const read = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(read.json().value, { a: 1, b: 2 })
  })

  t.test('data model: rows this library creates carry the data map, Created_At and Touched_At', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now })
    const res = await app.inject({ method: 'GET', url: '/touch' })
    const id = cookieFrom(res.headers['set-cookie'])!.split('=')[1]!.split('.')[0]!
    t.strictSame(await getRow(client, table, id), {
      Sesion_Id: { S: id },
      Expire_Session: { N: String(clock.seconds + 300) },
      Created_At: { N: String(clock.seconds) },
      Touched_At: { N: String(clock.seconds) },
      Data: { M: {} },
      Expire_Shard: { N: String(shardOf(id, 16)) },
      Expire_Bucket: { N: String(Math.floor((clock.seconds + 300) / 300)) }
    }, 'even an empty session has the map, and the expiry index\'s shard and bucket')
  })

  t.test('data model: a tutorial row (only Sesion_Id and Expire_Session) is a valid empty session that can be changed', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now })
    const id = 'tutorial-0123456789abcdef'
    await putRow(client, table, { Sesion_Id: { S: id }, Expire_Session: { N: String(clock.seconds + 300) } })
    const cookie = signedCookie(id)
    const read = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(read.json(), { id, isNew: false, value: {} }, 'loads as an empty, valid session')
    const set = await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { a: 1 } })
    t.equal(set.statusCode, 200)
    const row = await getRow(client, table, id)
    t.strictSame(row?.Data, { M: { a: { N: '1' } } }, 'the first write creates the data map')
    t.equal(row?.Created_At?.N, String(clock.seconds))
    t.equal(row?.Touched_At?.N, String(clock.seconds))
    await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { b: 2 } })
    t.strictSame((await getRow(client, table, id))?.Data, { M: { a: { N: '1' }, b: { N: '2' } } }, 'later writes are per key')
  })

  t.test("onStoreError 'fail' (default): DynamoDB unreachable at load is a 503 FST_DYNAMO_SESSION_STORE_UNAVAILABLE", async (t) => {
    const deadClient = makeClient(t, await closedEndpoint(), { maxAttempts: 1, requestHandler: { requestTimeout: 500, connectionTimeout: 200, throwOnRequestTimeout: true } })
    const app = await buildApp(t, deadClient, 'ManejoSesion')
    const res = await app.inject({ method: 'GET', url: '/get', headers: { cookie: signedCookie('F'.repeat(32)) } })
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE')
    const noCookie = await app.inject({ method: 'GET', url: '/get' })
    t.equal(noCookie.statusCode, 200, 'requests without a cookie need no DynamoDB')
  })

  t.test("onStoreError 'anonymous': an empty, degraded session that is never saved, cookie left alone", async (t) => {
    const deadClient = makeClient(t, await closedEndpoint(), { maxAttempts: 1, requestHandler: { requestTimeout: 500, connectionTimeout: 200, throwOnRequestTimeout: true } })
    const deadCounter = countCalls(deadClient)
    const app = await buildApp(t, deadClient, 'ManejoSesion', { onStoreError: 'anonymous' }, {
      routes: (app) => {
        app.post('/everything', async (request) => {
          request.session.set('a', 1)
          request.session.touch()
          return { value: request.session.get('a') ?? null, degraded: request.session.degraded }
        })
        app.post('/save', async (request) => {
          await request.session.save()
          return {}
        })
      }
    })
    const cookie = signedCookie('G'.repeat(32))
    let res = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.equal(res.statusCode, 200)
    t.strictSame(res.json().value, {}, 'empty session')
    t.equal(res.json().isNew, true)
    t.equal(res.headers['set-cookie'], undefined, 'the client cookie is left alone')

    deadCounter.reset()
    res = await app.inject({ method: 'POST', url: '/everything', headers: { cookie } })
    t.equal(res.statusCode, 200)
    t.strictSame(res.json(), { value: 1, degraded: true })
    t.strictSame(deadCounter.calls, ['GetItem'], 'only the failed load: nothing is ever saved')
    t.equal(res.headers['set-cookie'], undefined)

    for (const url of ['/save', '/regenerate', '/destroy']) {
      deadCounter.reset()
      res = await app.inject({ method: 'POST', url, headers: { cookie } })
      t.equal(res.statusCode, 503, `${url}: no fake success`)
      t.equal(res.json().code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE')
      t.strictSame(deadCounter.calls, ['GetItem'])
      t.equal(res.headers['set-cookie'], undefined, `${url}: the cookie is left alone`)
    }
  })

  t.test('secret rotation: the first secret signs, all verify', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, { secret: [SECRET, OLD_SECRET] })
    const created = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const id = created.json().id as string
    t.equal(cookieFrom(created.headers['set-cookie']), signedCookie(id, SECRET), 'signed with the first secret')

    const current = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: signedCookie(id, SECRET) } })
    t.equal(current.json().value, 1)
    t.equal(current.headers['set-cookie'], undefined, 'a current signature is not re-sent')

    counter.reset()
    const old = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: signedCookie(id, OLD_SECRET) } })
    t.equal(old.json().value, 1, 'an older secret still verifies')
    t.equal(cookieFrom(old.headers['set-cookie']), signedCookie(id, SECRET), 're-signed with the first secret')
    t.equal(cookieMaxAge(old.headers['set-cookie']), 300)
    t.strictSame(counter.calls, ['GetItem'], 're-signing costs no write')

    const retired = await buildApp(t, client, table, { secret: SECRET })
    const dropped = await retired.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: signedCookie(id, OLD_SECRET) } })
    t.equal(dropped.json().value, null, 'a retired secret no longer verifies')
  })

  t.test('cookie defaults: HttpOnly, SameSite=Lax, Path=/, no Secure over http, Max-Age = lifetime', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const h = header(res.headers['set-cookie'])
    t.match(h, /^sessionId=[^;]+; Max-Age=300; Path=\/; HttpOnly; SameSite=Lax$/)
    t.notMatch(h, /Secure|Domain/i)
  })

  t.test('cookie options: name, path, domain, httpOnly, sameSite', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, { cookie: { name: 'sid', path: '/app', domain: 'example.com', httpOnly: false, sameSite: 'strict' } })
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const h = header(res.headers['set-cookie'])
    t.match(h, /^sid=/)
    t.match(h, /Domain=example\.com/)
    t.match(h, /Path=\/app/)
    t.match(h, /SameSite=Strict/)
    t.notMatch(h, /HttpOnly/)
    const cookie = cookieFrom(res.headers['set-cookie'], 'sid')!
    t.equal((await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })).json().value, 1, 'read back under its name')
    const other = cookie.replace(/^sid=/, 'sessionId=')
    t.equal((await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: other } })).json().value, null, 'the default name is ignored')
  })

  t.test('a __Host- cookie works end to end: Secure, Path=/, no Domain', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, { cookie: { name: '__Host-sid' } })
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const h = header(res.headers['set-cookie'])
    t.match(h, /^__Host-sid=/)
    t.match(h, /; Secure/)
    t.match(h, /; Path=\/(;|$)/)
    t.notMatch(h, /Domain/i)
    const cookie = cookieFrom(res.headers['set-cookie'], '__Host-sid')!
    t.equal((await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })).json().value, 1)
    const gone = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } })
    t.ok(isClearingCookie(gone.headers['set-cookie'], '__Host-sid'))
    t.match(header(gone.headers['set-cookie']), /; Secure/, 'the clearing cookie is Secure too (browsers ignore it otherwise)')
  })

  t.test("secure 'auto': Secure behind a trusted proxy that says https, not over plain http", async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, { fastify: { logger: false, trustProxy: true } })
    const https = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 }, headers: { 'x-forwarded-proto': 'https' } })
    t.match(header(https.headers['set-cookie']), /; Secure/)
    const http = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.notMatch(header(http.headers['set-cookie']), /Secure/)

    const untrusted = await buildApp(t, client, table)
    const spoofed = await untrusted.inject({ method: 'POST', url: '/set', payload: { a: 1 }, headers: { 'x-forwarded-proto': 'https' } })
    t.notMatch(header(spoofed.headers['set-cookie']), /Secure/, 'without trustProxy the header is ignored')
  })

  t.test('cookie parsing: percent-encoded values and several cookies of the same name', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    const id = (await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).json().id as string
    const signed = signedCookie(id).slice('sessionId='.length)
    const encoded = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: `sessionId=${encodeURIComponent(signed)}` } })
    t.equal(encoded.json().value, 1, 'a percent-encoded cookie is read')
    counter.reset()
    const several = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: `theme=dark; sessionId=forged.value; sessionId=${signed}` } })
    t.equal(several.json().value, 1, 'the validly signed one wins')
    t.strictSame(counter.calls, ['GetItem'])
  })

  t.test('Max-Age tracks the expiry', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 300, touchAfterSeconds: 60, absoluteTimeoutSeconds: 400 })
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.equal(cookieMaxAge(res.headers['set-cookie']), 300)
    const cookie = cookieFrom(res.headers['set-cookie'])!
    clock.advance(200)
    const later = await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { b: 1 } })
    t.equal(cookieMaxAge(later.headers['set-cookie']), 200, 'capped by the absolute timeout: 400 - 200')
  })

  t.test('absoluteTimeoutSeconds caps the expiry at creation + cap, and ends sessions past it', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 300, touchAfterSeconds: 60, absoluteTimeoutSeconds: 320 })
    const created = clock.seconds
    const first = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const id = first.json().id as string
    const cookie = cookieFrom(first.headers['set-cookie'])!
    t.equal((await getRow(client, table, id))?.Expire_Session?.N, String(created + 300))

    clock.advance(60)
    await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.equal((await getRow(client, table, id))?.Expire_Session?.N, String(created + 320), 'the refresh stops at the cap')

    counter.reset()
    clock.advance(40)
    await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(counter.calls, ['GetItem'], 'when to refresh comes from Touched_At, not from expiry - ttl')

    clock.advance(200)
    await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { b: 2 } })
    t.equal((await getRow(client, table, id))?.Expire_Session?.N, String(created + 320), 'never past creation + cap')

    clock.advance(20)
    const ended = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })
    t.strictSame(ended.json().value, null, 'absent at the cap')
    t.ok(isClearingCookie(ended.headers['set-cookie']))
  })

  t.test('absoluteTimeoutSeconds: a row past the cap is absent even when its expiry says otherwise', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, absoluteTimeoutSeconds: 3600 })
    const id = 'H'.repeat(32)
    await putRow(client, table, {
      Sesion_Id: { S: id },
      Expire_Session: { N: String(clock.seconds + 300) },
      Created_At: { N: String(clock.seconds - 3600) },
      Touched_At: { N: String(clock.seconds - 10) },
      Data: { M: { user: { S: 'u' } } }
    })
    const res = await app.inject({ method: 'POST', url: '/set', headers: { cookie: signedCookie(id) }, payload: { x: 1 } })
    t.not(res.json().id, id, 'a new session instead')
    const row = await getRow(client, table, id)
    t.equal(row?.Expire_Session?.N, String(clock.seconds + 300), 'the capped row is not written')
    t.strictSame(row?.Data, { M: { user: { S: 'u' } } })
  })

  t.test('regression: fastify.sessionStore.get() returned sessions past absoluteTimeoutSeconds', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, absoluteTimeoutSeconds: 3600 })
    const row = (id: string, age: number): Parameters<typeof putRow>[2] => ({
      Sesion_Id: { S: id },
      Expire_Session: { N: String(clock.seconds + 300) },
      Created_At: { N: String(clock.seconds - age) },
      Data: { M: {} }
    })
    await putRow(client, table, row('L'.repeat(32), 3600))
    await putRow(client, table, row('M'.repeat(32), 3599))
    t.equal(await app.sessionStore.get('L'.repeat(32)), undefined, 'past the cap: not live')
    t.equal((await app.sessionStore.get('M'.repeat(32)))?.id, 'M'.repeat(32), 'one second before the cap: live')
  })

  t.test('route opt-out: config.session false means no session, no calls, no Set-Cookie', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    const cookie = cookieFrom((await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).headers['set-cookie'])!
    counter.reset()
    for (const headers of [{}, { cookie }, { cookie: signedCookie('I'.repeat(32)) }]) {
      const res = await app.inject({ method: 'GET', url: '/off', headers })
      t.equal(res.statusCode, 200)
      t.strictSame(res.json(), { session: null })
      t.equal(res.headers['set-cookie'], undefined)
    }
    t.strictSame(counter.calls, [])
  })

  t.test('fastify.sessionStore: get(id) returns live sessions only; destroy(id) deletes', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now })
    const id = (await app.inject({ method: 'POST', url: '/set', payload: { user: 'u' } })).json().id as string
    const snapshot = await app.sessionStore.get(id)
    t.strictSame(snapshot, { id, expiresAt: new Date((clock.seconds + 300) * 1000), createdAt: new Date(clock.seconds * 1000), data: { user: 'u' } })
    t.equal(await app.sessionStore.get('J'.repeat(32)), undefined, 'absent')
    t.equal(await app.sessionStore.get(''), undefined, 'not an id')

    const expired = 'K'.repeat(32)
    await putRow(client, table, { Sesion_Id: { S: expired }, Expire_Session: { N: String(clock.seconds) }, Data: { M: {} } })
    t.equal(await app.sessionStore.get(expired), undefined, 'expired rows still in the table are absent')

    await app.sessionStore.destroy(id)
    t.equal(await getRow(client, table, id), undefined, 'deleted')
    t.equal(await app.sessionStore.get(id), undefined)
    await t.resolves(app.sessionStore.destroy(id), 'destroying an absent session resolves')
  })

  t.test('regression: fastify.sessionStore exposes only get, destroy and the owner methods, frozen', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    t.strictSame(Object.keys(app.sessionStore).sort(), ['destroy', 'destroyByOwner', 'get', 'listByOwner'])
    t.notOk('delete' in app.sessionStore, 'the store\'s unguarded delete is not reachable')
    t.ok(Object.isFrozen(app.sessionStore))
  })
})
