import { createRequire } from 'node:module'
import type { FastifyRequest } from 'fastify'
import { loginData, type AppContext, type BuildApp } from './context.js'

// Loaded untyped: @fastify/session declares its own `request.session` type, which would clash with this library's.
const require = createRequire(import.meta.url)

/** The part of @fastify/session's session object the routes use. */
interface AltSession {
  get (key: string): unknown
  set (key: string, value: unknown): void
}

function sessionOf (request: FastifyRequest): AltSession {
  return (request as unknown as { session: AltSession }).session
}

/**
 * @fastify/session with @fastify/cookie, configured as its README documents, with a store or (without one) its
 * in-memory store. `saveUninitialized: false` so an anonymous request stores nothing; `rolling: true` (its default)
 * so each response refreshes the expiry, like this library's idle timeout; `secure: 'auto'` because the bench
 * speaks plain HTTP on loopback.
 */
export function buildFastifySession (store: (ctx: AppContext) => unknown): BuildApp {
  return async (app, ctx) => {
    await app.register(require('@fastify/cookie'))
    await app.register(require('@fastify/session'), {
      secret: ctx.secret,
      cookieName: 'sessionId',
      cookie: { secure: 'auto', httpOnly: true, sameSite: 'lax', path: '/', maxAge: ctx.ttlSeconds * 1000 },
      saveUninitialized: false,
      rolling: true,
      store: store(ctx)
    })
    let logins = 0

    app.get('/anon', async () => ({ ok: true }))

    app.get('/read', async (request, reply) => {
      const user = sessionOf(request).get('user')
      if (user === undefined) return await reply.code(401).send({ ok: false })
      return { user }
    })

    app.post('/change', async (request, reply) => {
      const session = sessionOf(request)
      const n = session.get('n')
      if (typeof n !== 'number') return await reply.code(401).send({ ok: false })
      session.set('n', n + 1)
      return { n: n + 1 }
    })

    app.post('/login', async (request) => {
      const session = sessionOf(request)
      for (const [key, value] of Object.entries(loginData(++logins))) session.set(key, value)
      return { ok: true }
    })
  }
}
