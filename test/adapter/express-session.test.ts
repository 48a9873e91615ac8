// The store under a real express-session app (over HTTP on loopback): login, read, change, logout, expiry, the reaper.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import express from 'express'
import session from 'express-session'
import { connectDynamoSession } from '../../src/adapter/index.js'
import { isInternalId } from '../../src/ids.js'
import { createTable, getRow, makeClient, startDynalite } from '../helpers/dynamo.js'
import { fakeTime, makeReaper, tableIds } from '../helpers/reaper.js'
import { names, recordCommands } from '../helpers/adapter.js'
import { SECRET } from '../helpers/app.js'

declare module 'express-session' {
  interface SessionData {
    user?: string
    role?: string
  }
}

const HOUR_MS = 3_600_000

t.test('express-session with connectDynamoSession(session)', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await createTable(client, 'xsession')
  const time = fakeTime(Date.now())
  const DynamoStore = connectDynamoSession(session)
  const store = new DynamoStore({ client, tableName, now: time.now })
  t.ok(store instanceof session.Store, 'an express-session Store')
  const app = express()
  app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false, cookie: { maxAge: HOUR_MS } }))
  app.post('/login', (req, res) => { req.session.user = 'ana'; res.json({ id: req.sessionID }) })
  app.get('/me', (req, res) => { res.json({ user: req.session.user ?? null, role: req.session.role ?? null }) })
  app.post('/promote', (req, res) => { req.session.role = 'admin'; res.json({}) })
  app.post('/logout', (req, res, next) => { req.session.destroy((err) => { if (err !== undefined && err !== null) next(err); else res.json({}) }) })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const call = async (method: string, path: string, cookie?: string): Promise<{ body: unknown, cookie: string | undefined }> => {
    const response = await fetch(base + path, { method, headers: cookie === undefined ? {} : { cookie } })
    const setCookie = response.headers.get('set-cookie')
    return { body: await response.json(), cookie: setCookie === null ? undefined : setCookie.split(';')[0] }
  }

  const seen = recordCommands(t, client)
  const login = await call('POST', '/login')
  const { id } = login.body as { id: string }
  const cookie = login.cookie!
  t.strictSame(names(seen), ['PutItem'], 'login: one PutItem')
  t.equal((await getRow(client, tableName, id))?.Data?.M?.user?.S, 'ana')

  seen.length = 0
  t.strictSame((await call('GET', '/me', cookie)).body, { user: 'ana', role: null })
  t.strictSame(names(seen), ['GetItem'], 'a read: one GetItem, its touch throttled')

  seen.length = 0
  await call('POST', '/promote', cookie)
  t.strictSame(names(seen), ['GetItem', 'UpdateItem'], 'a change: the changed key only')
  t.strictSame((await call('GET', '/me', cookie)).body, { user: 'ana', role: 'admin' })

  await call('POST', '/logout', cookie)
  t.equal(await getRow(client, tableName, id), undefined, 'logout deletes the row')
  t.strictSame((await call('GET', '/me', cookie)).body, { user: null, role: null })

  const second = await call('POST', '/login')
  const secondId = (second.body as { id: string }).id
  time.advance(2 * HOUR_MS)
  t.strictSame((await call('GET', '/me', second.cookie)).body, { user: null, role: null }, 'past its expiry: no session')
  t.ok(await getRow(client, tableName, secondId), 'the expired row is still in the table')
  const reaper = makeReaper(t, client, tableName, {}, { now: time.now })
  t.equal((await reaper.runOnce()).result, 'success')
  t.strictSame((await tableIds(client, tableName)).filter((i) => !isInternalId(i)), [], 'the reaper removed it')
})
