// The same app as basic.mjs, in CommonJS (what `npm init -y` sets up): no top-level await, so main() holds it.
//   npm install fastify fastify-dynamo-session && npm install -D dynalite
//   npx dynamo-session local                                   # terminal 1: local DynamoDB and the table
//   export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000     # terminal 2, as `local` prints it
//   node basic.cjs
'use strict'
const { randomBytes } = require('node:crypto')
const Fastify = require('fastify')
// The package is an ES module; Node.js >= 20.19 require()s it (an older Node needs `await import(...)` here).
const { dynamoSession } = require('fastify-dynamo-session')

async function main () {
  const app = Fastify({ logger: true })

  await app.register(dynamoSession, {
    // At least 32 characters. Without SESSION_SECRET a random one: sessions then end when the app restarts.
    secret: process.env.SESSION_SECRET ?? randomBytes(32).toString('base64url')
  })

  app.post('/login', async (request, reply) => {
    const user = request.body?.user
    if (typeof user !== 'string' || user === '') return reply.code(400).send({ error: 'send {"user": "<name>"}' })
    // A new session id at login: an id known before login is worthless after it.
    await request.session.regenerate()
    request.session.set('user', user)
    return { user }
  })

  app.get('/', async (request) => {
    const visits = (request.session.get('visits') ?? 0) + 1
    request.session.set('visits', visits)
    return { user: request.session.get('user') ?? null, visits }
  })

  app.post('/logout', async (request) => {
    await request.session.destroy()
    return { user: null }
  })

  // Ctrl-C or a stop from the process manager: finish the requests in flight, then exit.
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => { void app.close() })
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
