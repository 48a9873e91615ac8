// The store under a real @fastify/session app: login, read, change, logout, expiry, and the reaper removing the rows.
import { createRequire } from 'node:module'
import t from 'tap'
import Fastify, { type FastifyInstance, type FastifyRequest, type LightMyRequestResponse } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import { DynamoSessionStore } from '../../src/adapter/index.js'
import { isInternalId } from '../../src/ids.js'
import { createTable, getRow, makeClient, startDynalite } from '../helpers/dynamo.js'
import { fakeTime, makeReaper, tableIds } from '../helpers/reaper.js'
import { names, recordCommands } from '../helpers/adapter.js'
import { SECRET } from '../helpers/app.js'

// Loaded untyped: @fastify/session declares its own `request.session` type, which would clash with this library's.
const require = createRequire(import.meta.url)
const fastifySession = require('@fastify/session') as Parameters<FastifyInstance['register']>[0]

/** The part of @fastify/session's session object the routes use. */
interface AltSession {
  sessionId: string
  user?: string
  role?: string
  destroy (): Promise<void>
}

const sessionOf = (request: FastifyRequest): AltSession => (request as unknown as { session: AltSession }).session

const HOUR_MS = 3_600_000

function cookieOf (response: LightMyRequestResponse): string {
  const cookie = response.cookies.find((c) => c.name === 'sessionId')
  if (cookie === undefined) throw new Error('no session cookie')
  return `sessionId=${cookie.value}`
}

t.test('@fastify/session with DynamoSessionStore', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await createTable(client, 'fsession')
  const time = fakeTime(Date.now())
  const app: FastifyInstance = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: SECRET,
    cookie: { secure: false, maxAge: HOUR_MS },
    saveUninitialized: false,
    store: new DynamoSessionStore({ client, tableName, now: time.now })
  })
  app.post('/login', async (request) => { sessionOf(request).user = 'ana'; return { id: sessionOf(request).sessionId } })
  app.get('/me', async (request) => ({ user: sessionOf(request).user ?? null, role: sessionOf(request).role ?? null }))
  app.post('/promote', async (request) => { sessionOf(request).role = 'admin'; return {} })
  app.post('/logout', async (request) => { await sessionOf(request).destroy(); return {} })

  const seen = recordCommands(t, client)
  const login = await app.inject({ method: 'POST', url: '/login' })
  const { id } = login.json<{ id: string }>()
  const cookie = cookieOf(login)
  t.strictSame(names(seen), ['PutItem'], 'login: one PutItem')
  t.equal((await getRow(client, tableName, id))?.Data?.M?.user?.S, 'ana')

  seen.length = 0
  const read = await app.inject({ url: '/me', headers: { cookie } })
  t.strictSame(read.json(), { user: 'ana', role: null })
  t.strictSame(names(seen), ['GetItem'], 'a rolling read: one GetItem, its expiry refresh throttled')

  seen.length = 0
  await app.inject({ method: 'POST', url: '/promote', headers: { cookie } })
  t.strictSame(names(seen), ['GetItem', 'UpdateItem'], 'a change: the changed key only')
  t.strictSame((await app.inject({ url: '/me', headers: { cookie } })).json(), { user: 'ana', role: 'admin' })

  await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.equal(await getRow(client, tableName, id), undefined, 'logout deletes the row')
  t.strictSame((await app.inject({ url: '/me', headers: { cookie } })).json(), { user: null, role: null })

  const second = await app.inject({ method: 'POST', url: '/login' })
  const secondId = second.json<{ id: string }>().id
  time.advance(2 * HOUR_MS)
  t.strictSame((await app.inject({ url: '/me', headers: { cookie: cookieOf(second) } })).json(), { user: null, role: null },
    'past its expiry: no session')
  t.ok(await getRow(client, tableName, secondId), 'the expired row is still in the table')
  const reaper = makeReaper(t, client, tableName, {}, { now: time.now })
  const report = await reaper.runOnce()
  t.equal(report.result, 'success')
  t.strictSame((await tableIds(client, tableName)).filter((i) => !isInternalId(i)), [], 'the reaper removed it')
})
