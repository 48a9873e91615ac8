import { dynamoSession } from '../../src/index.js'
import type { TransportMode } from '../../src/options.js'
import { benchClient, loginData, type BuildApp } from './context.js'

/**
 * This library on the same client configuration as the other DynamoDB contestants, with its defaults (metrics
 * included) and the given transport. Only the reaper's schedule is off: its passes are background work with a section
 * of their own, and one landing in the middle of a run would be counted against that run's requests.
 */
export function buildWith (transport: TransportMode): BuildApp {
  return async (app, ctx) => {
    const client = benchClient(ctx.endpoint)
    app.addHook('onClose', async () => client.destroy())
    await app.register(dynamoSession, {
      secret: ctx.secret, client, tableName: ctx.tableName, ttlSeconds: ctx.ttlSeconds, reaper: { schedule: false }, transport
    })
    let logins = 0

    app.get('/anon', async () => ({ ok: true }))

    app.get('/read', async (request, reply) => {
      const user = request.session.get('user')
      if (user === undefined) return await reply.code(401).send({ ok: false })
      return { user }
    })

    app.post('/change', async (request, reply) => {
      const n = request.session.get('n')
      if (typeof n !== 'number') return await reply.code(401).send({ ok: false })
      request.session.set('n', n + 1)
      return { n: n + 1 }
    })

    app.post('/login', async (request) => {
      for (const [key, value] of Object.entries(loginData(++logins))) request.session.set(key, value)
      return { ok: true }
    })
  }
}

/** The default: `transport: 'auto'`, which picks the fast transport for this stock client. */
export const build: BuildApp = buildWith('auto')
