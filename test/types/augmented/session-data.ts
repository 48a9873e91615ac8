// The README's "Typing the session data" promise, in a program of its own (`npm run typecheck` compiles it with
// test/types/augmented/tsconfig.json): an augmentation of SessionData changes the type for every file that sees it,
// so the other tests must not. 'fastify-dynamo-session' is mapped to src/index.ts, the module users augment.
// See ../assert.ts for how these fail.
import Fastify from 'fastify'
import dynamoSession, { type SessionKey, type SessionValue } from 'fastify-dynamo-session'
import { expectType, type Equal } from '../assert.js'

declare module 'fastify-dynamo-session' {
  interface SessionData {
    userId: string
    visits: number
    cart: Array<{ sku: string, quantity: number }>
  }
}

expectType<Equal<SessionKey, 'userId' | 'visits' | 'cart'>>()
expectType<Equal<SessionValue<'visits'>, number>>()

const app = Fastify()
await app.register(dynamoSession, { secret: 'a'.repeat(32) })
app.get('/', async (request) => {
  const visits = request.session.get('visits') // number | undefined
  expectType<Equal<typeof visits, number | undefined>>()
  expectType<Equal<ReturnType<typeof request.session.get<'cart'>>, Array<{ sku: string, quantity: number }> | undefined>>()
  request.session.set('visits', (visits ?? 0) + 1)
  request.session.set('userId', 'u-123')
  request.session.set('cart', [{ sku: 'A-1', quantity: 2 }])
  request.session.set('userId', undefined) // undefined deletes
  request.session.delete('cart')
  // @ts-expect-error the README's example: userId is a string
  request.session.set('userId', 42)
  // @ts-expect-error a cart line needs a quantity
  request.session.set('cart', [{ sku: 'A-1' }])
  // @ts-expect-error unknown keys are rejected once SessionData is augmented
  request.session.get('visitz')
  // @ts-expect-error unknown keys are rejected once SessionData is augmented
  request.session.set('role', 'admin')
  // @ts-expect-error unknown keys are rejected once SessionData is augmented
  request.session.delete('role')
  return { visits }
})
