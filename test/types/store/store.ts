// Type tests of `fastify-dynamo-session/store` against the real types of @fastify/session and express-session. A
// program of its own: @fastify/session declares `request.session`, which clashes with the plugin's declaration.
import type { EventEmitter } from 'node:events'
import Fastify from 'fastify'
import fastifySession, { type SessionStore } from '@fastify/session'
import session, { type Store } from 'express-session'
import { DynamoSessionStore, connectDynamoSession, type DynamoSessionStoreOptions } from '../../../src/adapter/index.js'
import { expectType, type Equal } from '../assert.js'

// @fastify/session takes the store as its `store`.
const store = new DynamoSessionStore({ tableName: 'Sessions', ttlSeconds: 3600 })
export const asFastifyStore: SessionStore = store
await Fastify().register(fastifySession, { secret: 'a'.repeat(32), store })
export const emitter: EventEmitter = store

// express-session: the class extends session.Store, so its instances are express-session Stores.
const DynamoStore = connectDynamoSession(session)
const expressStore = new DynamoStore({ tableName: 'Sessions' })
export const asExpressStore: Store = expressStore
export const middleware = session({ secret: 's', store: expressStore, resave: false, saveUninitialized: false })
expectType<Equal<typeof expressStore.regenerate, Store['regenerate']>>()

// @ts-expect-error ttlSeconds is a number
export const stringTtl: DynamoSessionStoreOptions = { ttlSeconds: '3600' }
// @ts-expect-error an unknown option
export const typo: DynamoSessionStoreOptions = { tableNmae: 'Sessions' }
// @ts-expect-error connectDynamoSession takes express-session's module (an object with a Store class)
connectDynamoSession({})
