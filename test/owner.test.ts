import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { QueryCommand, UpdateItemCommand, type DynamoDBClient, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb'
import { Registry } from 'prom-client'
import { startDynalite, makeClient, createTable, getRow, countCalls } from './helpers/dynamo.js'
import { buildApp, cookieFrom, fakeClock, recordCommands, SECRET } from './helpers/app.js'
import { metricValue } from './helpers/reliability.js'
import { METRIC_NAMES } from '../src/metrics.js'
import { handleOf } from '../src/store/owner.js'
import type { OwnedSession, OwnerRevocation } from '../src/index.js'

// Sessions of a user (docs/sessions-of-a-user.md): setOwner()/setLabel(), listByOwner, destroyByOwner, destroyOthers.

interface Login { id: string, cookie: string }

/** Routes: /login?user=u&label=l (setOwner, setLabel, then regenerate), /others (destroyOthers), /whoami. */
function ownerRoutes (app: FastifyInstance): void {
  app.post<{ Querystring: { user: string, label?: string, order?: string } }>('/login', async (request) => {
    const { user, label, order } = request.query
    if (order === 'after') await request.session.regenerate()
    request.session.setOwner(user)
    if (label !== undefined) request.session.setLabel(label)
    if (order !== 'after') await request.session.regenerate()
    return { id: request.session.id }
  })
  app.post('/others', async (request): Promise<OwnerRevocation> => await request.session.destroyOthers())
  app.get('/whoami', async (request) => ({ owner: request.session.owner ?? null, label: request.session.label ?? null, isNew: request.session.isNew }))
  app.get('/mine', async (request): Promise<OwnedSession[]> => {
    const owner = request.session.owner
    return owner === undefined ? [] : await app.sessionStore.listByOwner(owner, { current: request.session.id })
  })
}

async function login (app: FastifyInstance, user: string, label?: string): Promise<Login> {
  // A session first (the pre-login visit), then the login on it.
  const visit = await app.inject({ method: 'POST', url: '/set', payload: { cart: 1 } })
  const before = cookieFrom(visit.headers['set-cookie'])!
  const query = label === undefined ? `user=${user}` : `user=${user}&label=${encodeURIComponent(label)}`
  const res = await app.inject({ method: 'POST', url: `/login?${query}`, headers: { cookie: before } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  return { id: (res.json() as { id: string }).id, cookie: cookieFrom(res.headers['set-cookie'])! }
}

async function ownerEntries (client: DynamoDBClient, table: string, owner: string): Promise<unknown[]> {
  const out = await client.send(new QueryCommand({
    TableName: table,
    IndexName: 'Owner_Index',
    KeyConditionExpression: '#o = :o',
    ExpressionAttributeNames: { '#o': 'Owner_Id' },
    ExpressionAttributeValues: { ':o': { S: owner } }
  }))
  return (out.Items ?? []).map((item) => item.Sesion_Id?.S).sort()
}

t.test('sessions of a user', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  t.test('login: setOwner() then regenerate() costs one PutItem and one write on the old id; the tombstone has no owner', async (t) => {
    const table = await createTable(client)
    const counter = countCalls(client)
    const app = await buildApp(t, client, table, {}, { routes: ownerRoutes })
    const visit = await app.inject({ method: 'POST', url: '/set', payload: { cart: 1 } })
    const oldId = (visit.json() as { id: string }).id
    counter.reset()
    const res = await app.inject({ method: 'POST', url: '/login?user=u-1&label=phone', headers: { cookie: cookieFrom(visit.headers['set-cookie'])! } })
    const newId = (res.json() as { id: string }).id
    t.strictSame(counter.calls, ['GetItem', 'PutItem', 'PutItem'], 'the load, the new row, the tombstone: no UpdateItem')
    const row = await getRow(client, table, newId)
    t.strictSame([row?.Owner_Id, row?.Session_Label, row?.Data], [{ S: 'u-1' }, { S: 'phone' }, { M: { cart: { N: '1' } } }])
    const tombstone = await getRow(client, table, oldId)
    t.equal(tombstone?.Owner_Id, undefined, 'the tombstone carries no owner: it is not in the owner index')
    t.strictSame(await ownerEntries(client, table, 'u-1'), [newId])
    const who = await app.inject({ method: 'GET', url: '/whoami', headers: { cookie: cookieFrom(res.headers['set-cookie'])! } })
    t.strictSame(who.json(), { owner: 'u-1', label: 'phone', isNew: false })
  })

  t.test('setOwner() after regenerate() is written too (by an UpdateItem), and a later regenerate() carries owner and label', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        ownerRoutes(app)
        app.post('/again', async (request) => {
          await request.session.regenerate()
          return { id: request.session.id }
        })
      }
    })
    const visit = await app.inject({ method: 'POST', url: '/set', payload: { cart: 1 } })
    const res = await app.inject({ method: 'POST', url: '/login?user=u-2&label=laptop&order=after', headers: { cookie: cookieFrom(visit.headers['set-cookie'])! } })
    const firstId = (res.json() as { id: string }).id
    t.strictSame((await getRow(client, table, firstId))?.Owner_Id, { S: 'u-2' })
    const again = await app.inject({ method: 'POST', url: '/again', headers: { cookie: cookieFrom(res.headers['set-cookie'])! } })
    const secondId = (again.json() as { id: string }).id
    const row = await getRow(client, table, secondId)
    t.strictSame([row?.Owner_Id, row?.Session_Label], [{ S: 'u-2' }, { S: 'laptop' }])
    t.strictSame(await ownerEntries(client, table, 'u-2'), [secondId], 'the old id left the index with its tombstone')
  })

  t.test('sessions without an owner carry no owner or label attribute (not in the index)', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table)
    const res = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const row = await getRow(client, table, (res.json() as { id: string }).id)
    t.equal(row?.Owner_Id, undefined)
    t.equal(row?.Session_Label, undefined)
  })

  t.test('destroyByOwner(A, { except: current }): deletes exactly 2 of 3, their cookies stop working; B and current untouched', async (t) => {
    const table = await createTable(client)
    const registry = new Registry()
    const app = await buildApp(t, client, table, { metrics: { registry } }, { routes: ownerRoutes })
    const a = [await login(app, 'user-a'), await login(app, 'user-a'), await login(app, 'user-a')]
    const b = await login(app, 'user-b')
    const current = a[0]!
    const result = await app.sessionStore.destroyByOwner('user-a', { except: current.id })
    t.strictSame(result, { deleted: 2, remaining: 0, writeUnits: 2 })
    t.equal(await metricValue(registry, METRIC_NAMES.ownerRevocationsTotal), 2)
    for (const other of a.slice(1)) {
      const who = await app.inject({ method: 'GET', url: '/whoami', headers: { cookie: other.cookie } })
      t.strictSame(who.json(), { owner: null, label: null, isNew: true }, 'a revoked cookie no longer authenticates')
      t.equal(await getRow(client, table, other.id), undefined)
    }
    for (const kept of [current, b]) {
      const who = await app.inject({ method: 'GET', url: '/whoami', headers: { cookie: kept.cookie } })
      t.equal((who.json() as { isNew: boolean }).isNew, false, 'still logged in')
    }
    t.strictSame(await app.sessionStore.destroyByOwner('user-a', { except: current.id }), { deleted: 0, remaining: 0, writeUnits: 0 }, 'nothing left to revoke')
  })

  t.test('destroyOthers(): log out everywhere else', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, { routes: ownerRoutes })
    const here = await login(app, 'u-3')
    const elsewhere = await login(app, 'u-3')
    const res = await app.inject({ method: 'POST', url: '/others', headers: { cookie: here.cookie } })
    t.strictSame(res.json(), { deleted: 1, remaining: 0, writeUnits: 1 })
    t.equal(await getRow(client, table, elsewhere.id), undefined)
    t.not(await getRow(client, table, here.id), undefined)
    const anonymous = await app.inject({ method: 'POST', url: '/others' })
    t.strictSame(anonymous.json(), { deleted: 0, remaining: 0, writeUnits: 0 }, 'a session without an owner has no others')
  })

  t.test('concurrent refreshes during the revocation do not resurrect the revoked sessions', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    // The three refreshes are held after their load, at their UpdateItem, until the revocation is over.
    let arrivals = 0
    let allArrived!: () => void
    const arrived = new Promise<void>((resolve) => { allArrived = resolve })
    let release!: () => void
    const released = new Promise<void>((resolve) => { release = resolve })
    let holding = false
    const refreshing = makeClient(t, dynamo.endpoint)
    refreshing.middlewareStack.add((next, context) => async (args) => {
      if (holding && context.commandName === 'UpdateItemCommand') {
        if (++arrivals === 3) allArrived()
        await released
      }
      return await next(args)
    }, { step: 'initialize', name: 'holdRefreshes' })
    const app = await buildApp(t, refreshing, table, { now: clock.now, touchAfterSeconds: 0, transport: 'sdk' }, { routes: ownerRoutes })
    const sessions = [await login(app, 'u-4'), await login(app, 'u-4'), await login(app, 'u-4')]
    clock.advance(5)
    holding = true
    const refreshes = sessions.map(async (s) => await app.inject({ method: 'GET', url: '/touch', headers: { cookie: s.cookie } }))
    await arrived
    const result = await app.sessionStore.destroyByOwner('u-4')
    t.equal(result.deleted, 3)
    release()
    const answers = await Promise.all(refreshes)
    for (const answer of answers) t.equal(answer.statusCode, 200)
    for (const s of sessions) t.equal(await getRow(client, table, s.id), undefined, 'still gone')
    t.strictSame(await ownerEntries(client, table, 'u-4'), [])
  })

  t.test('listByOwner: live sessions with handle, times, label and current; ids only when asked; handles revoke one, for their owner only', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, { routes: ownerRoutes })
    const phone = await login(app, 'u-5', 'phone')
    const laptop = await login(app, 'u-5', 'laptop')
    await login(app, 'u-6', 'other')
    const mine = await app.inject({ method: 'GET', url: '/mine', headers: { cookie: phone.cookie } })
    const listed = mine.json() as Array<Record<string, unknown>>
    t.equal(listed.length, 2)
    const byLabel = new Map(listed.map((s) => [s.label, s]))
    t.strictSame(Object.keys(byLabel.get('phone')!).sort(), ['createdAt', 'current', 'expiresAt', 'handle', 'label', 'touchedAt'])
    t.equal(byLabel.get('phone')!.current, true)
    t.equal(byLabel.get('laptop')!.current, false)
    t.equal(byLabel.get('phone')!.handle, handleOf(SECRET, phone.id))
    t.notOk(JSON.stringify(listed).includes(phone.id), 'no session id in what a browser gets')
    const withIds = await app.sessionStore.listByOwner('u-5', { withIds: true })
    t.strictSame(withIds.map((s) => s.id).sort(), [phone.id, laptop.id].sort())
    t.ok(withIds.every((s) => s.expiresAt instanceof Date && s.createdAt instanceof Date && s.touchedAt instanceof Date))

    const handle = byLabel.get('laptop')!.handle as string
    t.strictSame(await app.sessionStore.destroyByOwner('u-6', { handle }), { deleted: 0, remaining: 0, writeUnits: 0 }, 'another owner cannot use it')
    t.not(await getRow(client, table, laptop.id), undefined)
    t.strictSame(await app.sessionStore.destroyByOwner('u-5', { handle }), { deleted: 1, remaining: 0, writeUnits: 1 })
    t.equal(await getRow(client, table, laptop.id), undefined)
    t.not(await getRow(client, table, phone.id), undefined)
  })

  t.test('destroyByOwner runs under maxDeletes and reports what remains', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, { routes: ownerRoutes })
    for (let i = 0; i < 3; i++) await login(app, 'u-7')
    t.strictSame(await app.sessionStore.destroyByOwner('u-7', { maxDeletes: 2, maxWriteUnitsPerSecond: 1000 }), { deleted: 2, remaining: 1, writeUnits: 2 })
    t.strictSame(await app.sessionStore.destroyByOwner('u-7', { maxDeletes: 2 }), { deleted: 1, remaining: 0, writeUnits: 1 })
    for (const [options, name] of [[{ maxDeletes: 0 }, 'maxDeletes'], [{ maxWriteUnitsPerSecond: -1 }, 'rate']] as const) {
      await t.rejects(app.sessionStore.destroyByOwner('u-7', options), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' }, name)
    }
  })

  t.test('a refresh makes no index write: the index entry is unchanged, and the update changes no owner or projected attribute', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const recorded = makeClient(t, dynamo.endpoint)
    const recorder = recordCommands(recorded)
    const app = await buildApp(t, recorded, table, { now: clock.now, touchAfterSeconds: 0 }, { routes: ownerRoutes })
    const session = await login(app, 'u-8', 'tablet')
    const before = await ownerEntries(client, table, 'u-8')
    clock.advance(30)
    recorder.reset()
    const refresh = await app.inject({ method: 'GET', url: '/touch', headers: { cookie: session.cookie } })
    t.equal(refresh.statusCode, 200)
    t.strictSame(await ownerEntries(client, table, 'u-8'), before, 'the index entry is unchanged')
    const updates = recorder.commands.filter((c) => c.name === 'UpdateItem')
    t.equal(updates.length, 1, 'the refresh')
    const input = updates[0]!.input as unknown as UpdateItemCommandInput
    const written = Object.values(input.ExpressionAttributeNames ?? {})
    t.notOk(written.includes('Owner_Id') || written.includes('Session_Label'), 'the refresh names neither the owner nor the label')
    // The same write again, with the values it replaced returned: no owner or projected attribute changes.
    const old = (await client.send(new UpdateItemCommand({ ...input, ReturnValues: 'ALL_OLD' }))).Attributes ?? {}
    const now = (await getRow(client, table, session.id)) ?? {}
    t.strictSame([now.Owner_Id, now.Session_Label], [old.Owner_Id, old.Session_Label], 'the owner (the index key) and the label did not change')
    t.strictSame([old.Owner_Id, old.Session_Label], [{ S: 'u-8' }, { S: 'tablet' }])
  })

  t.test('owner and label are validated, and the owner is never in the error', async (t) => {
    const table = await createTable(client)
    const app = await buildApp(t, client, table, {}, {
      routes: (app) => {
        app.post<{ Body: { owner?: unknown, label?: unknown } }>('/bad', async (request) => {
          const { owner, label } = request.body
          try {
            if (owner !== undefined) request.session.setOwner(owner as string)
            if (label !== undefined) request.session.setLabel(label as string)
            return { code: null }
          } catch (err) {
            return { code: (err as { code: string }).code, message: (err as Error).message }
          }
        })
      }
    })
    const secretish = 'x'.repeat(257)
    for (const [body, code] of [
      [{ owner: '' }, 'FST_DYNAMO_SESSION_INVALID_OWNER'],
      [{ owner: secretish }, 'FST_DYNAMO_SESSION_INVALID_OWNER'],
      [{ owner: 42 }, 'FST_DYNAMO_SESSION_INVALID_OWNER'],
      [{ label: 'y'.repeat(257) }, 'FST_DYNAMO_SESSION_INVALID_LABEL'],
      [{ owner: 'x'.repeat(256), label: '' }, null]
    ] as const) {
      const res = await app.inject({ method: 'POST', url: '/bad', payload: body })
      const answer = res.json() as { code: string | null, message?: string }
      t.equal(answer.code, code, JSON.stringify(body).slice(0, 40))
      t.notOk(answer.message?.includes(secretish) === true)
    }
    await t.rejects(app.sessionStore.listByOwner(''), { code: 'FST_DYNAMO_SESSION_INVALID_OWNER' })
  })

  t.test('without the owner index: the methods throw FST_DYNAMO_SESSION_NO_OWNER_INDEX', async (t) => {
    const bare = await createTable(client, 'sessions', { ownerIndex: false })
    const app = await buildApp(t, client, bare)
    await t.rejects(app.sessionStore.listByOwner('u'), { code: 'FST_DYNAMO_SESSION_NO_OWNER_INDEX' }, 'the table lacks it')
    await t.rejects(app.sessionStore.destroyByOwner('u'), { code: 'FST_DYNAMO_SESSION_NO_OWNER_INDEX' })
    const off = await buildApp(t, client, bare, { ownerIndex: false }, { routes: ownerRoutes })
    await t.rejects(off.sessionStore.listByOwner('u'), { code: 'FST_DYNAMO_SESSION_NO_OWNER_INDEX' }, 'ownerIndex: false')
    const res = await off.inject({ method: 'POST', url: '/login?user=u' })
    t.equal(res.statusCode, 500)
    t.equal((res.json() as { code: string }).code, 'FST_DYNAMO_SESSION_NO_OWNER_INDEX')
  })
})
