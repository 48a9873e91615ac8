import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import { dynamoSession } from '../src/index.js'
import { startDynalite, makeClient, createTable, countCalls } from './helpers/dynamo.js'
import { buildApp, cookieFrom, SECRET, type BuildOptions } from './helpers/app.js'

// The plugin works however the app registers @fastify/cookie: not at all, before or after it, with or without
// that plugin's parsing hook.

const styles: Array<[string, BuildOptions]> = [
  ['@fastify/cookie not registered', { cookiePlugin: 'none' }],
  ['registered before', { cookiePlugin: 'before' }],
  ['registered after', { cookiePlugin: 'after' }],
  ['registered before with hook: false', { cookiePlugin: 'before', cookieHook: false }],
  ['registered after with hook: false', { cookiePlugin: 'after', cookieHook: false }],
  ["registered before with hook: 'preHandler'", { cookiePlugin: 'before', cookieHook: 'preHandler' }],
  ["registered after with hook: 'preHandler'", { cookiePlugin: 'after', cookieHook: 'preHandler' }]
]

function list (setCookie: string | string[] | undefined): string[] {
  return setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]
}

// First in the file: in a fresh process the app's own registration is what loads @fastify/cookie.
t.test('regression: registering @fastify/cookie (with a secret) before the plugin failed with FST_ERR_DEC_ALREADY_PRESENT', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = await createTable(client)
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(fastifyCookie, { secret: 'the-apps-own-cookie-secret-0123456789' })
  await app.register(dynamoSession, { secret: SECRET, client, tableName: table })
  app.post('/login', async (request, reply) => {
    request.session.set('user', 'u')
    reply.setCookie('remember', 'yes', { signed: true })
    return { ok: true }
  })
  await t.resolves(async () => { await app.ready() })
  const res = await app.inject({ method: 'POST', url: '/login' })
  t.equal(res.statusCode, 200)
  t.strictSame(list(res.headers['set-cookie']).map((h) => h.split('=')[0]).sort(), ['remember', 'sessionId'])
})

t.test('registration styles', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const counter = countCalls(client)

  for (const [name, build] of styles) {
    t.test(name, async (t) => {
      const table = await createTable(client)
      const withCookiePlugin = build.cookiePlugin !== 'none'
      const app = await buildApp(t, client, table, {}, {
        ...build,
        routes: (app: FastifyInstance) => {
          if (!withCookiePlugin) return
          app.post('/with-app-cookie', async (request, reply) => {
            request.session.set('user', 'u')
            reply.setCookie('theme', 'dark', { path: '/' })
            return { appSaw: request.cookies?.sessionId ?? null }
          })
          app.post('/clear-app-cookie', async (request, reply) => {
            await request.session.destroy()
            reply.clearCookie('theme')
            return { ok: true }
          })
        }
      })

      counter.reset()
      const created = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
      t.equal(created.statusCode, 200)
      t.strictSame(counter.calls, ['PutItem'])
      const cookie = cookieFrom(created.headers['set-cookie'])!
      t.ok(cookie, 'session cookie set')

      counter.reset()
      const read = await app.inject({ method: 'GET', url: '/get?key=a', headers: { cookie } })
      t.strictSame(read.json(), { id: created.json().id, isNew: false, value: 1 }, 'session read back')
      t.strictSame(counter.calls, ['GetItem'])

      if (!withCookiePlugin) return
      const both = await app.inject({ method: 'POST', url: '/with-app-cookie', headers: { cookie: `theme=light; ${cookie}` } })
      t.equal(both.statusCode, 200)
      const headers = list(both.headers['set-cookie'])
      t.equal(headers.length, 2, 'two Set-Cookie headers')
      t.ok(headers.some((h) => h.startsWith('theme=dark')), "the app's cookie")
      t.ok(headers.some((h) => h.startsWith('sessionId=')), 'our cookie')
      t.equal(both.json().appSaw, cookie.slice('sessionId='.length), "the app's own cookie parsing is untouched")

      const cleared = list((await app.inject({ method: 'POST', url: '/clear-app-cookie', headers: { cookie } })).headers['set-cookie'])
      t.equal(cleared.length, 2)
      t.ok(cleared.some((h) => /^theme=;/.test(h)))
      t.ok(cleared.some((h) => /^sessionId=;.*Max-Age=0/.test(h)))
    })
  }
})
