import t from 'tap'
import { QueryCommand } from '@aws-sdk/client-dynamodb'
import { DynamoSessionStore } from '../../src/adapter/index.js'
import { newSessionId } from '../../src/ids.js'
import { createTable, getRow, makeClient, startDynalite } from '../helpers/dynamo.js'
import { fakeTime } from '../helpers/reaper.js'
import { names, promised, recordCommands } from '../helpers/adapter.js'

const HOUR_MS = 3_600_000

t.test('DynamoSessionStore against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await createTable(client, 'adapter')
  const time = fakeTime()
  const store = new DynamoSessionStore({ client, tableName, now: time.now })
  const api = promised(store)
  const sessionAt = (expiresMs: number, data: Record<string, unknown> = {}): object =>
    ({ cookie: { originalMaxAge: HOUR_MS, expires: new Date(expiresMs), path: '/', httpOnly: true }, ...data })

  t.test('a new session is one conditional PutItem with the plugin\'s attributes', async (t) => {
    const seen = recordCommands(t, client)
    const id = newSessionId()
    await api.set(id, sessionAt(time.now() + HOUR_MS, { user: 'ana' }))
    t.strictSame(names(seen), ['PutItem'])
    t.equal(seen[0]!.input.ConditionExpression, 'attribute_not_exists(#id)')
    const row = await getRow(client, tableName, id)
    t.equal(row?.Expire_Session?.N, String(time.seconds + 3600), 'the expiry is the cookie\'s, in epoch seconds')
    t.equal(row?.Created_At?.N, String(time.seconds))
    t.equal(row?.Touched_At?.N, String(time.seconds))
    t.equal(row?.Data?.M?.user?.S, 'ana')
    t.equal(row?.Data?.M?.cookie?.M?.expires?.S, new Date(time.now() + HOUR_MS).toISOString(), 'Dates stored in their JSON form')
    t.ok(row?.Expire_Bucket?.N !== undefined && row?.Expire_Shard?.N !== undefined, 'the expiry index attributes')
  })

  t.test('get returns the JSON form with the row\'s expiry; set writes only the changed keys', async (t) => {
    const id = newSessionId()
    await api.set(id, sessionAt(time.now() + HOUR_MS, { user: 'ana', cart: [1] }))
    const loaded = await api.get(id)
    t.strictSame(loaded, {
      cookie: { originalMaxAge: HOUR_MS, expires: new Date(time.now() + HOUR_MS).toISOString(), path: '/', httpOnly: true },
      user: 'ana',
      cart: [1]
    })
    const seen = recordCommands(t, client)
    await api.set(id, { ...loaded, cart: [1, 2], cookie: { ...(loaded!.cookie as object), expires: new Date(time.now() + HOUR_MS + 1000) } })
    t.strictSame(names(seen), ['UpdateItem'])
    t.strictSame(Object.values(seen[0]!.input.ExpressionAttributeNames as object).filter((n) => n === 'user' || n === 'cart'), ['cart'])
    const row = await getRow(client, tableName, id)
    t.equal(row?.Data?.M?.cart?.L?.length, 2)
    t.equal(row?.Data?.M?.user?.S, 'ana')
    const removed = await api.get(id)
    seen.length = 0
    const { cart: _cart, ...rest } = removed!
    await api.set(id, rest)
    t.equal(names(seen).filter((n) => n === 'UpdateItem').length, 1)
    t.equal((await getRow(client, tableName, id))?.Data?.M?.cart, undefined, 'a key deleted from the session is removed')
  })

  t.test('an unchanged session writes its expiry only when it moved enough (touchAfterSeconds)', async (t) => {
    const id = newSessionId()
    const base = time.now() + HOUR_MS
    await api.set(id, sessionAt(base, { user: 'ana' }))
    const seen = recordCommands(t, client)
    await api.set(id, sessionAt(base + 59_000, { user: 'ana' }))
    await api.touch(id, sessionAt(base + 59_000, { user: 'ana' }))
    t.strictSame(names(seen), [], 'moved by 59 s: nothing written')
    await api.set(id, sessionAt(base + 60_000, { user: 'ana' }))
    t.strictSame(names(seen), ['UpdateItem'])
    t.equal((seen[0]!.input.UpdateExpression as string).includes('#data'), false, 'the expiry only')
    await api.touch(id, sessionAt(base + 120_000, { user: 'ana' }))
    t.strictSame(names(seen), ['UpdateItem', 'UpdateItem'])
    t.equal((await getRow(client, tableName, id))?.Expire_Session?.N, String(Math.ceil((base + 120_000) / 1000)))
  })

  t.test('a cookie without an expiry gets ttlSeconds; a session cookie stays one', async (t) => {
    const id = newSessionId()
    await api.set(id, { cookie: { originalMaxAge: null, expires: null, path: '/' }, user: 'bo' })
    t.equal((await getRow(client, tableName, id))?.Expire_Session?.N, String(time.seconds + 86_400))
    t.strictSame((await api.get(id))?.cookie, { originalMaxAge: null, expires: null, path: '/' })
  })

  t.test('set never revives an expired row; a set after destroy is a create', async (t) => {
    const id = newSessionId()
    const start = time.now()
    await api.set(id, sessionAt(start + 60_000, { user: 'ana' }))
    time.advance(120_000)
    t.equal(await api.get(id), null, 'expired: read as absent')
    const seen = recordCommands(t, client)
    await api.set(id, sessionAt(time.now() + HOUR_MS, { user: 'eve' }))
    t.strictSame(names(seen), ['PutItem', 'GetItem'], 'the create fails on the present row, which is expired: nothing else')
    const row = await getRow(client, tableName, id)
    t.equal(row?.Expire_Session?.N, String(Math.ceil((start + 60_000) / 1000)))
    t.equal(row?.Data?.M?.user?.S, 'ana')
    await api.destroy(id)
    t.equal(await getRow(client, tableName, id), undefined)
    await api.set(id, sessionAt(time.now() + HOUR_MS, { user: 'eve' }))
    t.equal((await getRow(client, tableName, id))?.Data?.M?.user?.S, 'eve')
  })

  t.test('a session this process has not seen: the create fails, one read, then the difference', async (t) => {
    const other = promised(new DynamoSessionStore({ client, tableName, now: time.now }))
    const id = newSessionId()
    await api.set(id, sessionAt(time.now() + HOUR_MS, { user: 'ana', cart: [1] }))
    const seen = recordCommands(t, client)
    await other.set(id, sessionAt(time.now() + HOUR_MS, { user: 'ana', cart: [2] }))
    t.strictSame(names(seen), ['PutItem', 'GetItem', 'UpdateItem'])
    t.equal((await getRow(client, tableName, id))?.Data?.M?.cart?.L?.[0]?.N, '2')
  })

  t.test('past maxCachedSessions, the least recently used session is read again before its write', async (t) => {
    const small = promised(new DynamoSessionStore({ client, tableName, now: time.now, maxCachedSessions: 1 }))
    const [first, second] = [newSessionId(), newSessionId()]
    await small.set(first, sessionAt(time.now() + HOUR_MS, { n: 1 }))
    await small.set(second, sessionAt(time.now() + HOUR_MS, { n: 1 }))
    const seen = recordCommands(t, client)
    await small.set(first, sessionAt(time.now() + HOUR_MS, { n: 2 }))
    t.strictSame(names(seen), ['PutItem', 'GetItem', 'UpdateItem'])
  })

  t.test('regression: a session destroyed by another process is not brought back by a set of a request in flight', async (t) => {
    const other = promised(new DynamoSessionStore({ client, tableName, now: time.now }))
    const id = newSessionId()
    await api.set(id, sessionAt(time.now() + HOUR_MS, { user: 'ana' }))
    await other.destroy(id)
    const seen = recordCommands(t, client)
    await api.touch(id, sessionAt(time.now() + 2 * HOUR_MS, { user: 'ana' }))
    t.strictSame(names(seen), ['UpdateItem'], 'a conditional expiry write, which fails')
    t.equal(await getRow(client, tableName, id), undefined)
    await api.get(id)
    await api.set(id, sessionAt(time.now() + HOUR_MS, { user: 'ana', role: 'x' }))
    t.equal((await getRow(client, tableName, id))?.Data?.M?.role?.S, 'x')
    const third = promised(new DynamoSessionStore({ client, tableName, now: time.now }))
    await api.set(id, sessionAt(time.now() + HOUR_MS, { user: 'ana', role: 'y' }))
    await third.destroy(id)
    seen.length = 0
    await api.set(id, sessionAt(time.now() + HOUR_MS, { user: 'ana', role: 'z' }))
    t.strictSame(names(seen), ['UpdateItem'], 'the update fails on the absent row: the session has ended')
    t.equal(await getRow(client, tableName, id), undefined, 'not recreated')
  })

  t.test('the callbacks are optional; the client is the one given; ids that are not session ids are ignored', async (t) => {
    t.equal(store.client, client)
    const id = newSessionId()
    let written: () => void = () => {}
    const putDone = new Promise<void>((resolve) => { written = resolve })
    client.middlewareStack.add((next, context) => async (args) => {
      const out = await next(args)
      if (context.commandName === 'PutItemCommand') written()
      return out
    }, { step: 'initialize', name: 'putLatch' })
    t.teardown(() => client.middlewareStack.remove('putLatch'))
    const seen = recordCommands(t, client)
    store.set(id, sessionAt(time.now() + HOUR_MS))
    store.destroy('#reaper-lease')
    await api.set('', sessionAt(time.now() + HOUR_MS))
    await api.touch('', sessionAt(time.now() + HOUR_MS))
    await api.destroy('')
    await putDone
    t.strictSame(names(seen), ['PutItem'], 'the set without a callback is sent; nothing for the other ids')
    t.ok(await getRow(client, tableName, id))
  })

  t.test('a session expired by its cookie is deleted, not written', async (t) => {
    const id = newSessionId()
    await api.set(id, sessionAt(time.now() + HOUR_MS))
    await api.set(id, sessionAt(time.now() - 1000))
    t.equal(await getRow(client, tableName, id), undefined)
  })

  t.test('values are checked as the plugin checks them', async (t) => {
    await t.rejects(api.set(newSessionId(), { cookie: {}, big: 'x'.repeat(410 * 1024) }), { code: 'FST_DYNAMO_SESSION_TOO_LARGE' })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await t.rejects(api.set(newSessionId(), { cyclic }), { code: 'FST_DYNAMO_SESSION_NOT_SERIALIZABLE' })
    await t.rejects(api.set(newSessionId(), { '': 1 }), { code: 'FST_DYNAMO_SESSION_INVALID_KEY' })
    t.equal(await api.get(''), null)
  })

  t.test('unknown and invalid options are refused', async (t) => {
    t.throws(() => new DynamoSessionStore({ client, ttl: 3 } as never), { code: 'FST_DYNAMO_SESSION_UNKNOWN_OPTION' })
    t.throws(() => new DynamoSessionStore({ client, ttlSeconds: 0 }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
    t.throws(() => new DynamoSessionStore({ client: {} as never }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
  })
})

t.test('ownerOf: the store writes the owner the plugin\'s sessions-of-a-user index reads', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await createTable(client, 'adapter-owner')
  const time = fakeTime()
  const store = new DynamoSessionStore({ client, tableName, now: time.now, ownerOf: (session) => session.userId })
  const api = promised(store)
  const session = (data: Record<string, unknown>): object =>
    ({ cookie: { originalMaxAge: HOUR_MS, expires: new Date(time.now() + HOUR_MS), path: '/' }, ...data })
  const ownersInIndex = async (owner: string): Promise<string[]> => {
    const out = await client.send(new QueryCommand({
      TableName: tableName,
      IndexName: 'Owner_Index',
      KeyConditionExpression: '#o = :o',
      ExpressionAttributeNames: { '#o': 'Owner_Id' },
      ExpressionAttributeValues: { ':o': { S: owner } }
    }))
    return (out.Items ?? []).map((item) => item.Sesion_Id?.S ?? '').sort()
  }

  const anonymous = newSessionId()
  await api.set(anonymous, session({ cart: [1] }))
  t.equal((await getRow(client, tableName, anonymous))?.Owner_Id, undefined, 'no owner: no owner attribute (not in the index)')

  const seen = recordCommands(t, client)
  await api.set(anonymous, session({ cart: [1], userId: 'user-7' }))
  t.strictSame(names(seen), ['UpdateItem'], 'the login is one UpdateItem')
  t.equal((await getRow(client, tableName, anonymous))?.Owner_Id?.S, 'user-7')

  seen.length = 0
  await api.set(anonymous, session({ cart: [1], userId: 'user-7' }))
  t.strictSame(names(seen), [], 'an unchanged owner writes nothing')

  const created = newSessionId()
  await api.set(created, session({ userId: 'user-7' }))
  t.strictSame(await ownersInIndex('user-7'), [anonymous, created].sort(), 'both sessions are in the owner index')

  await t.rejects(api.set(newSessionId(), session({ userId: '' })), { code: 'FST_DYNAMO_SESSION_INVALID_OWNER' })
  t.throws(() => new DynamoSessionStore({ client, tableName, ownerOf: 'userId' as never }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
})
