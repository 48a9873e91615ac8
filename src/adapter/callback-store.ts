import { EventEmitter } from 'node:events'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { SessionRecord } from '../store/json.js'
import type { DynamoSessionStoreOptions } from './options.js'
import { SessionStoreCore } from './session-store.js'

/** The callbacks of the session-store interface @fastify/session and express-session call. */
export type StoreCallback = (err?: unknown) => void
/** `get`'s callback: the session object (the stored JSON form, typed as the caller's session type), or null. */
export type StoreGetCallback<Session = SessionRecord> = (err: unknown, session?: Session | null) => void

/** Runs `work` and reports its outcome to `callback` (if any) on a later tick, never inside the promise chain. */
export function settle<T> (work: Promise<T>, callback: ((err: unknown, value?: T) => void) | undefined): void {
  work.then(
    (value) => { if (callback !== undefined) process.nextTick(callback, null, value) },
    (err: unknown) => { if (callback !== undefined) process.nextTick(callback, err) }
  )
}

/** The methods both flavours add, over a SessionStoreCore. */
export interface CallbackSessionStore {
  /** The DynamoDB client the store sends with. */
  readonly client: DynamoDBClient
  get<Session = SessionRecord> (sessionId: string, callback: StoreGetCallback<Session>): void
  set (sessionId: string, session: object, callback?: StoreCallback): void
  destroy (sessionId: string, callback?: StoreCallback): void
  touch (sessionId: string, session: object, callback?: StoreCallback): void
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeScript's mixin pattern requires any[]
type EmitterClass = new (...args: any[]) => EventEmitter
type StoreClass<Base extends EmitterClass> = new (options?: DynamoSessionStoreOptions) => InstanceType<Base> & CallbackSessionStore

/** A class over `Base` (an EventEmitter) with the store's callback methods, each instance over its own SessionStoreCore. */
export function storeClassOver<Base extends EmitterClass> (Base: Base): StoreClass<Base> {
  class CallbackStore extends Base implements CallbackSessionStore {
    readonly #core: SessionStoreCore

    constructor (...args: any[]) { // eslint-disable-line @typescript-eslint/no-explicit-any -- a mixin's constructor
      super()
      this.#core = new SessionStoreCore(args[0] as DynamoSessionStoreOptions | undefined)
    }

    get client (): DynamoDBClient {
      return this.#core.client
    }

    get<Session = SessionRecord> (sessionId: string, callback: StoreGetCallback<Session>): void {
      settle(this.#core.get(sessionId) as Promise<Session | null>, callback)
    }

    set (sessionId: string, session: object, callback?: StoreCallback): void {
      settle(this.#core.set(sessionId, session), callback)
    }

    destroy (sessionId: string, callback?: StoreCallback): void {
      settle(this.#core.destroy(sessionId), callback)
    }

    touch (sessionId: string, session: object, callback?: StoreCallback): void {
      settle(this.#core.touch(sessionId, session), callback)
    }
  }
  return CallbackStore as unknown as StoreClass<Base>
}

/**
 * The session store for @fastify/session (`store: new DynamoSessionStore(options)`), writing the plugin's data model
 * so that the reaper, the metrics and `dynamo-session stats` work unchanged. An EventEmitter, as express-session's.
 */
export const DynamoSessionStore = storeClassOver(EventEmitter)
export type DynamoSessionStore = EventEmitter & CallbackSessionStore
