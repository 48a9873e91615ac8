import type { EventEmitter } from 'node:events'
import type { DynamoSessionStoreOptions } from './options.js'
import { storeClassOver, type CallbackSessionStore } from './callback-store.js'

/** What `connectDynamoSession` needs of express-session: its `Store` base class (`session.Store`). */
export interface ExpressSessionModule<Base extends abstract new () => EventEmitter> {
  readonly Store: Base
}

/** The class `connectDynamoSession(session)` returns: express-session's `Store` with this library's methods. */
export type ExpressDynamoSessionStore<Base extends abstract new () => EventEmitter> =
  new (options?: DynamoSessionStoreOptions) => InstanceType<Base> & CallbackSessionStore

/**
 * The session store for express-session: `const DynamoStore = connectDynamoSession(session)`, then
 * `session({ store: new DynamoStore(options), ... })`. It extends the `Store` class it is given (for `createSession`,
 * `regenerate` and `load`), so express-session is never this package's dependency.
 */
export function connectDynamoSession<Base extends abstract new () => EventEmitter> (
  session: ExpressSessionModule<Base>
): ExpressDynamoSessionStore<Base> {
  return storeClassOver(session.Store as unknown as new () => EventEmitter) as unknown as ExpressDynamoSessionStore<Base>
}
