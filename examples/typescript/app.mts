// The basic example in TypeScript, with typed session data. `.mts`: an ES module whatever package.json says.
//   npm install fastify fastify-dynamo-session && npm install -D dynalite typescript @types/node
//   npx dynamo-session local                                   # terminal 1: local DynamoDB and the table
//   export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000     # terminal 2, as `local` prints it
//   npx tsc -p tsconfig.json && node dist/app.mjs              # or, on Node.js >= 22.18: node app.mts
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import dynamoSession from 'fastify-dynamo-session'

// What the session holds: get() and set() are typed from here, and unknown keys are a type error.
declare module 'fastify-dynamo-session' {
  interface SessionData {
    user: string
    visits: number
  }
}

const app = Fastify({ logger: true })

await app.register(dynamoSession, {
  // At least 32 characters. Without SESSION_SECRET a random one: sessions then end when the app restarts.
  secret: process.env.SESSION_SECRET ?? randomBytes(32).toString('base64url')
})

app.post<{ Body: { user?: unknown } | undefined }>('/login', async (request, reply) => {
  const user = request.body?.user
  if (typeof user !== 'string' || user === '') return await reply.code(400).send({ error: 'send {"user": "<name>"}' })
  // A new session id at login: an id known before login is worthless after it.
  await request.session.regenerate()
  request.session.set('user', user)
  return { user }
})

app.get('/', async (request) => {
  const visits = (request.session.get('visits') ?? 0) + 1 // number | undefined, from SessionData
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
