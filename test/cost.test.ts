import t from 'tap'
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { startDynalite, makeClient, createTable, countCalls, getRow, putRow } from './helpers/dynamo.js'
import { buildApp, cookieFrom, fakeClock, recordCommands, signedCookie, SECRET, OLD_SECRET, isClearingCookie, cookieMaxAge } from './helpers/app.js'

// What each request costs in DynamoDB calls: the numbers the README promises.

async function rowCount (client: DynamoDBClient, table: string): Promise<number> {
  const out = await client.send(new ScanCommand({ TableName: table, Select: 'COUNT', ConsistentRead: true }))
  return out.Count ?? 0
}

t.test('DynamoDB calls per request', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const counter = countCalls(client)
  const recorder = recordCommands(client)

  t.test('no cookie and an untouched session: 0 calls, no row, no Set-Cookie', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    counter.reset()
    for (const url of ['/noop', '/get', '/get?key=a']) {
      const res = await app.inject({ method: 'GET', url })
      t.equal(res.statusCode, 200, url)
      t.equal(res.headers['set-cookie'], undefined, `${url}: no Set-Cookie`)
    }
    t.strictSame(counter.calls, [], 'no DynamoDB call')
    t.equal(await rowCount(client, table), 0, 'no row created')
  })

  t.test('read-only with a valid cookie: 1 GetItem; one expiry-only UpdateItem once touchAfterSeconds has passed', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 300, touchAfterSeconds: 60 })
    const created = clock.seconds
    const first = await app.inject({ method: 'POST', url: '/set', payload: { a: 1, nested: { b: [1, 'two'] } } })
    const cookie = cookieFrom(first.headers['set-cookie'])!
    const id = first.json().id as string
    const before = await getRow(client, table, id)

    counter.reset()
    clock.advance(59)
    let res = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })
    t.equal(res.json().value, 1)
    t.strictSame(counter.calls, ['GetItem'], 'one read, no write before touchAfterSeconds')
    t.equal(res.headers['set-cookie'], undefined, 'no Set-Cookie without a write')
    t.strictSame(await getRow(client, table, id), before, 'row unchanged')

    counter.reset()
    recorder.reset()
    clock.advance(1)
    res = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })
    t.strictSame(counter.calls, ['GetItem', 'UpdateItem'], 'one read and one refresh at touchAfterSeconds')
    const update = recorder.commands.find((c) => c.name === 'UpdateItem')!
    t.notMatch(String(update.input.UpdateExpression), /#data/, 'the refresh does not touch the data map')
    t.notOk(JSON.stringify(update.input.ExpressionAttributeNames).includes('"Data"'), 'no data attribute named')
    t.equal(cookieMaxAge(res.headers['set-cookie']), 300, 'Set-Cookie carries the new Max-Age')
    t.equal(cookieFrom(res.headers['set-cookie']), cookie, 'same signed id')
    const after = await getRow(client, table, id)
    t.equal(after?.Expire_Session?.N, String(created + 60 + 300), 'expiry moved')
    t.equal(after?.Touched_At?.N, String(created + 60), 'Touched_At moved')
    t.equal(after?.Created_At?.N, String(created), 'Created_At kept')
    t.strictSame(after?.Data, before?.Data, 'data unchanged')

    counter.reset()
    clock.advance(59)
    res = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(counter.calls, ['GetItem'], 'the next refresh waits for touchAfterSeconds after the last one')
    t.equal(res.headers['set-cookie'], undefined)
  })

  t.test('default touchAfterSeconds is a fifth of ttlSeconds', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 100 })
    const cookie = cookieFrom((await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).headers['set-cookie'])!
    counter.reset()
    clock.advance(19)
    await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(counter.calls, ['GetItem'])
    counter.reset()
    clock.advance(1)
    await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(counter.calls, ['GetItem', 'UpdateItem'])
  })

  t.test('a changed session: 1 GetItem + 1 UpdateItem carrying only the changed keys', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    const first = await app.inject({ method: 'POST', url: '/set', payload: { keep: 'k', gone: 'g' } })
    const cookie = cookieFrom(first.headers['set-cookie'])!
    const id = first.json().id as string

    counter.reset()
    recorder.reset()
    let res = await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { added: { x: 1 } } })
    t.equal(res.statusCode, 200)
    t.strictSame(counter.calls, ['GetItem', 'UpdateItem'])
    let update = recorder.commands.find((c) => c.name === 'UpdateItem')!
    const names = Object.values(update.input.ExpressionAttributeNames as Record<string, string>)
    t.ok(names.includes('added'), 'the changed key is written')
    t.notOk(names.includes('keep') || names.includes('gone'), 'unchanged keys are not sent')
    t.match(String(update.input.UpdateExpression), /#data\.#k0 = :v0/, 'a per-key SET on the data map')

    counter.reset()
    recorder.reset()
    res = await app.inject({ method: 'POST', url: '/delete?key=gone', headers: { cookie } })
    t.strictSame(counter.calls, ['GetItem', 'UpdateItem'])
    update = recorder.commands.find((c) => c.name === 'UpdateItem')!
    t.match(String(update.input.UpdateExpression), /REMOVE #data\.#k0/, 'a per-key REMOVE')
    t.strictSame(Object.values(update.input.ExpressionAttributeNames as Record<string, string>).filter((n) => ['keep', 'gone', 'added'].includes(n)), ['gone'])

    const row = await getRow(client, table, id)
    t.strictSame(row?.Data, { M: { keep: { S: 'k' }, added: { M: { x: { N: '1' } } } } })
  })

  t.test('a new session with data: 1 PutItem, no read', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    counter.reset()
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.strictSame(counter.calls, ['PutItem'])
    t.ok(cookieFrom(res.headers['set-cookie']))
  })

  t.test('invalid, malformed, oversized or unsigned cookies: 0 calls, no session, never a 5xx', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    const id = (await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).json().id as string
    const good = signedCookie(id)
    const value = good.slice('sessionId='.length)
    const cases: Record<string, string> = {
      garbage: 'sessionId=not-a-session',
      unsigned: `sessionId=${id}`,
      'signed with an unknown secret': signedCookie(id, 'x'.repeat(40)),
      'tampered signature': `sessionId=${value.slice(0, -2)}${value.endsWith('AA') ? 'BB' : 'AA'}`,
      'tampered id': `sessionId=${value.replace(id.slice(0, 4), id.slice(0, 4) === 'AAAA' ? 'BBBB' : 'AAAA')}`,
      'bad percent-encoding': 'sessionId=%E0%A4%A',
      empty: 'sessionId=',
      'oversized value': `sessionId=${'a'.repeat(5000)}.${'b'.repeat(43)}`,
      'oversized header': `other=${'x'.repeat(17 * 1024)}; ${good}`,
      'signed but not an id': signedCookie('../../etc/passwd'),
      'signed id too short': signedCookie('short')
    }
    for (const [name, header] of Object.entries(cases)) {
      counter.reset()
      const res = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: header } })
      t.equal(res.statusCode, 200, `${name}: 200`)
      t.strictSame(res.json(), { id: res.json().id, isNew: true, value: null }, `${name}: treated as no session`)
      t.not(res.json().id, id, `${name}: not the signed session`)
      t.strictSame(counter.calls, [], `${name}: 0 calls`)
      t.equal(res.headers['set-cookie'], undefined, `${name}: no Set-Cookie`)
    }
    counter.reset()
    const res = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: good } })
    t.strictSame(res.json(), { id, isNew: false, value: 1 }, 'the untampered cookie still works')
    t.strictSame(counter.calls, ['GetItem'])
  })

  t.test('a validly signed cookie whose row is gone: cleared once, then free', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    counter.reset()
    const res = await app.inject({ method: 'GET', url: '/get', headers: { cookie: signedCookie('A'.repeat(32)) } })
    t.equal(res.statusCode, 200)
    t.equal(res.json().isNew, true)
    t.strictSame(counter.calls, ['GetItem', 'GetItem'], 'eventual read, then one strong re-read before declaring it absent')
    t.ok(isClearingCookie(res.headers['set-cookie']), 'the cookie is cleared')
    counter.reset()
    const next = await app.inject({ method: 'GET', url: '/get' })
    t.strictSame(counter.calls, [], 'without the cookie the next request costs nothing')
    t.equal(next.headers['set-cookie'], undefined)
  })

  t.test('a validly signed cookie whose row has expired but is still in the table: cleared, never revived', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { now: clock.now })
    const id = 'B'.repeat(32)
    await putRow(client, table, {
      Sesion_Id: { S: id },
      Expire_Session: { N: String(clock.seconds - 1) },
      Created_At: { N: String(clock.seconds - 400) },
      Touched_At: { N: String(clock.seconds - 301) },
      Data: { M: { user: { S: 'old' } } }
    })
    counter.reset()
    const res = await app.inject({ method: 'POST', url: '/set', headers: { cookie: signedCookie(id) }, payload: { x: 1 } })
    t.equal(res.statusCode, 200)
    t.not(res.json().id, id, 'a new session, not the expired one')
    t.strictSame(counter.calls, ['GetItem', 'GetItem', 'PutItem'])
    const row = await getRow(client, table, id)
    t.equal(row?.Expire_Session?.N, String(clock.seconds - 1), 'the expired row was not written to')
    t.strictSame(row?.Data, { M: { user: { S: 'old' } } })

    counter.reset()
    const read = await app.inject({ method: 'GET', url: '/get?key=user', headers: { cookie: signedCookie(id) } })
    t.equal(read.json().value, null, 'expired data is never served')
    t.ok(isClearingCookie(read.headers['set-cookie']), 'the stale cookie is cleared')
    counter.reset()
    await app.inject({ method: 'GET', url: '/get' })
    t.strictSame(counter.calls, [])
  })

  t.test('a cookie signed with an older secret: re-signed with the first, without a write', async (t) => {
    const table = await createTable(client)
    const oldApp = await buildApp(t, client, table, { secret: OLD_SECRET })
    const first = await oldApp.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const id = first.json().id as string
    const app = await buildApp(t, client, table, { secret: [SECRET, OLD_SECRET] })
    counter.reset()
    const res = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: cookieFrom(first.headers['set-cookie'])! } })
    t.equal(res.json().value, 1)
    t.strictSame(counter.calls, ['GetItem'], 'no write for re-signing')
    t.equal(cookieFrom(res.headers['set-cookie']), signedCookie(id, SECRET))
  })
})
