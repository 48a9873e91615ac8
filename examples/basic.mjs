// Sessions in DynamoDB, ready to copy into a new project (ESM JavaScript):
//   npm install fastify fastify-dynamo-session && npm install -D dynalite
//   npx dynamo-session local                                   # terminal 1: local DynamoDB and the table
//   export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000     # terminal 2, as `local` prints it
//   node basic.mjs
// Then: curl -c jar -b jar -H 'content-type: application/json' -d '{"user":"ada"}' http://127.0.0.1:3000/login
//       curl -c jar -b jar http://127.0.0.1:3000/
//       curl -c jar -b jar -X POST http://127.0.0.1:3000/logout
// On AWS: set AWS_REGION (and credentials as usual) instead, and create the table once with `npx dynamo-session init`.
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import dynamoSession from 'fastify-dynamo-session'

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
