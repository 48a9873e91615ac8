// The `fastify-dynamo-session/store` entry point: exactly the names docs/api.md lists for it.
export { DynamoSessionStore } from './callback-store.js'
export type { CallbackSessionStore, StoreCallback, StoreGetCallback } from './callback-store.js'
export { connectDynamoSession } from './express.js'
export type { ExpressSessionModule, ExpressDynamoSessionStore } from './express.js'
export type { DynamoSessionStoreOptions } from './options.js'
