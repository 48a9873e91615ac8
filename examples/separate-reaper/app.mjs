// The app without a reaper: expired sessions are deleted by a process of their own (see README.md next to this file).
//   npm install fastify fastify-dynamo-session && npm install -D dynalite
//   npx dynamo-session local                                   # terminal 1: local DynamoDB and the table
//   export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000     # terminals 2 and 3, as `local` prints it
//   node app.mjs                                               # terminal 2: the app
//   npx dynamo-session reap --metrics-port 9465                # terminal 3: the reaper, its metrics on :9465/metrics
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import dynamoSession from 'fastify-dynamo-session'

const app = Fastify({ logger: true })

await app.register(dynamoSession, {
  // At least 32 characters. Without SESSION_SECRET a random one: sessions then end when the app restarts.
  secret: process.env.SESSION_SECRET ?? randomBytes(32).toString('base64url'),
  // Short sessions, so that the reaper has something to do while you watch (the default is 86400, one day).
  ttlSeconds: Number(process.env.SESSION_TTL_SECONDS ?? 600),
  // `dynamo-session reap` deletes expired rows for every instance of the app; the app's own metrics (requests,
  // store calls) stay at /metrics here, the reaper's are served by the reap process.
  reaper: false
})

app.post('/login', async (request, reply) => {
  const user = request.body?.user
  if (typeof user !== 'string' || user === '') return reply.code(400).send({ error: 'send {"user": "<name>"}' })
  await request.session.regenerate()
  request.session.set('user', user)
  return { user }
})

app.get('/', async (request) => ({ user: request.session.get('user') ?? null }))

app.post('/logout', async (request) => {
  await request.session.destroy()
  return { user: null }
})

// Ctrl-C or a stop from the process manager: finish the requests in flight, then exit.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => { void app.close() })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
