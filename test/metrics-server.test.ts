import t from 'tap'
import { createServer, type AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { Gauge, Registry } from 'prom-client'
import { dynamoSession } from '../src/index.js'
import { createMetrics } from '../src/metrics.js'
import { originOf, startMetricsServer } from '../src/metrics-server.js'
import { buildApp, SECRET } from './helpers/app.js'
import { createTable, makeClient, startDynalite } from './helpers/dynamo.js'

/** Resolves when something can listen on the port again (the server that had it is gone). */
async function portIsFree (port: number): Promise<boolean> {
  const probe = createServer()
  return await new Promise((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

t.test('the metrics server alone', async (t) => {
  const registry = new Registry()
  createMetrics(registry)
  const server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1', path: '/metrics' })
  t.teardown(() => server.close())
  t.equal(server.address.address, '127.0.0.1')
  t.ok(server.address.port > 0, 'port 0 got a free port')
  t.equal(server.url, `http://127.0.0.1:${server.address.port}/metrics`)

  const ok = await fetch(server.url)
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('content-type'), registry.contentType)
  t.equal(ok.headers.get('cache-control'), 'no-store')
  t.equal(await ok.text(), await registry.metrics())
  t.equal((await fetch(server.url + '?x=1')).status, 200, 'a query string is ignored')

  const head = await fetch(server.url, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(await head.text(), '')
  for (const path of ['/', '/metrics/', '/metricsx', '/other']) {
    const res = await fetch(originOf(server.address) + path)
    t.equal(res.status, 404, `${path} is 404`)
    await res.text()
  }
  const post = await fetch(server.url, { method: 'POST', body: 'x' })
  t.equal(post.status, 405)
  t.equal(post.headers.get('allow'), 'GET, HEAD')
  await post.text()

  const port = server.address.port
  t.equal(await portIsFree(port), false, 'the port is taken while the server runs')
  await t.rejects(startMetricsServer({ registry, port, host: '127.0.0.1', path: '/metrics' }), { code: 'EADDRINUSE' })
  await server.close()
  t.equal(await portIsFree(port), true, 'close() frees the port, kept-alive connections included')
})

t.test('a failing collect() answers 500 without details', async (t) => {
  const registry = new Registry()
  new Gauge({ name: 'broken', help: 'fails at scrape time', registers: [registry], collect () { throw new Error('secret detail') } })
  const server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1', path: '/m' })
  t.teardown(() => server.close())
  const res = await fetch(server.url)
  t.equal(res.status, 500)
  t.notMatch(await res.text(), 'secret detail')
})

t.test('originOf puts IPv6 hosts in brackets', async (t) => {
  t.equal(originOf({ address: '::1', family: 'IPv6', port: 9464 }), 'http://[::1]:9464')
  t.equal(originOf({ address: '10.0.0.1', family: 'IPv4', port: 80 }), 'http://10.0.0.1:80')
})

t.test('with the plugin', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = await createTable(client)

  t.test('regression: metrics.port serves the metrics on their own loopback server, not on the app', async (t) => {
    const app = await buildApp(t, client, table, { metrics: { port: 0 } })
    const address = app.sessionMetricsAddress
    if (address === null) throw new Error('no metrics server address')
    t.equal(address.address, '127.0.0.1', 'loopback by default')
    await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const res = await fetch(`${originOf(address)}/metrics`)
    t.equal(res.status, 200)
    t.match(await res.text(), /^dynamo_session_created_total 1$/m, 'the plugin\'s registry, with what the app did')
    t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'not on the app')
    await app.listen({ port: 0, host: '127.0.0.1' })
    const onApp = await fetch(`${originOf(app.server.address() as AddressInfo)}/metrics`)
    t.equal(onApp.status, 404, 'not on the app\'s port either')
    await onApp.text()
    t.equal((await fetch(`${originOf(address)}/get`)).status, 404, 'and the app\'s routes are not on the metrics port')
  })

  t.test('metrics.route names the path on the metrics server', async (t) => {
    const app = await buildApp(t, client, table, { metrics: { port: 0, route: '/internal/metrics' } })
    const origin = originOf(app.sessionMetricsAddress!)
    t.equal((await fetch(`${origin}/internal/metrics`)).status, 200)
    t.equal((await fetch(`${origin}/metrics`)).status, 404)
    t.equal((await app.inject({ method: 'GET', url: '/internal/metrics' })).statusCode, 404)
  })

  t.test('the server starts when the app is ready and closes with it', async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(dynamoSession, { secret: SECRET, client, tableName: table, reaper: false, metrics: { port: 0 } })
    t.equal(app.sessionMetricsAddress, null, 'nothing listens before ready')
    await app.ready()
    const { port } = app.sessionMetricsAddress!
    t.equal(await portIsFree(port), false)
    const kept = await fetch(`http://127.0.0.1:${port}/metrics`)
    t.equal(kept.status, 200, 'a kept-alive connection does not hold the close')
    await kept.text()
    await app.close()
    t.equal(await portIsFree(port), true, 'the port is free once the app is closed')
  })

  t.test('a busy metrics port fails ready() with the listen error', async (t) => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
    const port = (blocker.address() as AddressInfo).port
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(dynamoSession, { secret: SECRET, client, tableName: table, reaper: false, metrics: { port } })
    await t.rejects(async () => { await app.ready() }, { code: 'EADDRINUSE' })
  })

  t.test('without metrics.port there is no metrics server', async (t) => {
    t.equal((await buildApp(t, client, table)).sessionMetricsAddress, null)
    t.equal((await buildApp(t, client, table, { metrics: false })).sessionMetricsAddress, null)
  })
})
