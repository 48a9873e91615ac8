import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import fastifyCookie from '@fastify/cookie'
import { chromium } from 'playwright-core'
import { startDynalite, makeClient, createTable } from './helpers/dynamo.js'
import { buildApp, SECRET } from './helpers/app.js'

// A real browser (Debian's chromium, which the pretest installs) races parallel fetch() calls against a login. The
// stale requests carry the pre-login cookie and are held on the server until the login's response has been sent
// and the page has seen it; their answers must not undo the login's cookie in the browser's jar.

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'
]

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>login race</title>
<script>
  // Three requests still carrying the pre-login cookie (a read, an expiry refresh, a change) race the login.
  window.race = async () => {
    const stale = ['read', 'touch', 'change'].map((kind) => fetch('/stale?kind=' + kind, { method: 'POST' }).then((r) => r.status))
    const login = await fetch('/login', { method: 'POST' }).then((r) => r.json())
    await fetch('/seen', { method: 'POST' })
    return { login, stale: await Promise.all(stale) }
  }
  window.me = async () => await fetch('/me').then((r) => r.json())
</script>
<p>visits: VISITS</p>`

/** A promise and its resolver. */
function latch (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

t.test('regression: in a real browser, requests in flight during login do not log the user out', async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-test-tools.sh (npm test's pretest does)`)
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = await createTable(client)
  const loginSent = latch()
  const loginSeen = latch()
  const app = await buildApp(t, client, table, {}, {
    routes: (app) => {
      app.get('/', async (request, reply) => {
        const visits = Number(request.session.get('visits') ?? 0) + 1
        request.session.set('visits', visits)
        return reply.type('text/html').send(PAGE.replace('VISITS', String(visits)))
      })
      app.post('/login', { onResponse: async () => loginSent.resolve() }, async (request) => {
        await request.session.regenerate()
        request.session.set('user', 'ana')
        return { id: request.session.id }
      })
      app.post('/seen', { config: { session: false } }, async () => {
        loginSeen.resolve()
        return { ok: true }
      })
      app.post<{ Querystring: { kind: string } }>('/stale', async (request) => {
        // Held until the login's response has gone out and the page has it: this answer comes last.
        await loginSent.promise
        await loginSeen.promise
        if (request.query.kind === 'touch') request.session.touch()
        if (request.query.kind === 'change') request.session.set('late', true)
        return { user: request.session.get('user') ?? null }
      })
      app.get('/me', async (request) => ({ id: request.session.id, user: request.session.get('user') ?? null }))
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  const userDataDir = mkdtempSync(join(tmpdir(), 'dynamo-session-chromium-'))
  t.teardown(() => rmSync(userDataDir, { recursive: true, force: true }))
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
  t.teardown(() => context.close())
  const page = context.pages()[0] ?? await context.newPage()

  await page.goto(base + '/')
  const before = (await context.cookies(base)).find((c) => c.name === 'sessionId')
  t.ok(before, 'a session exists before the login')

  const result = await page.evaluate('window.race()') as { login: { id: string }, stale: number[] }
  t.equal(result.stale.length, 3, 'every stale request was answered')
  const after = (await context.cookies(base)).find((c) => c.name === 'sessionId')
  t.equal(after === undefined ? undefined : decodeURIComponent(after.value), fastifyCookie.sign(result.login.id, SECRET),
    'the jar still holds the new session id')
  t.not(after?.value, before?.value)
  const me = await page.evaluate('window.me()') as { id: string, user: string | null }
  t.strictSame(me, { id: result.login.id, user: 'ana' }, 'a follow-up request is logged in')
})
