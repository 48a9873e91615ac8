import t from 'tap'
import { startDynalite, makeClient, createTable, countCalls } from './helpers/dynamo.js'
import { buildApp, cookieFrom } from './helpers/app.js'

t.test('smoke', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = await createTable(client)
  const app = await buildApp(t, client, table)
  const counter = countCalls(client)
  const r1 = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
  t.equal(r1.statusCode, 200)
  const cookie = cookieFrom(r1.headers['set-cookie'])
  t.ok(cookie)
  t.same(counter.calls, ['PutItem'])
  counter.reset()
  const r2 = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie: cookie! } })
  t.same(r2.json().value, 1)
  t.same(counter.calls, ['GetItem'])
})
