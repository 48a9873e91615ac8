import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler, onSendAsyncHookHandler } from 'fastify'
import type { ResolvedOptions } from './options.js'
import type { SessionCookie } from './cookie.js'
import { Session, type SessionEnv, type SessionEvents } from './session.js'
import type { DynamoStore, StoreObserver } from './store/dynamo-store.js'
import { epochSeconds, isLive, isLiveTombstone, type StoredSession } from './store/item.js'
import { errorFields, errorName, withCause } from './aws-errors.js'
import { StoreUnavailableError } from './errors.js'

/** Load outcomes, as counted by `dynamo_session_loads_total{result}`. */
export type LoadResult = 'found' | 'not_found' | 'expired' | 'invalid_cookie' | 'superseded'

/** What the request path reports to metrics; the metrics module implements it. */
export interface Instrumentation extends StoreObserver, SessionEvents {
  load (result: LoadResult): void
}

export interface HookDeps {
  readonly options: ResolvedOptions
  readonly cookie: SessionCookie
  readonly store: DynamoStore
  readonly instrumentation: Instrumentation | undefined
}

/** The two request hooks: load the session (onRequest) and save it once before the response goes out (onSend). */
export function sessionHooks ({ options, cookie, store, instrumentation }: HookDeps): { onRequest: onRequestAsyncHookHandler, onSend: onSendAsyncHookHandler } {
  const { now } = options
  const env: SessionEnv = { options, store, now, events: instrumentation }
  const autosaved = new WeakSet<FastifyRequest>()

  async function readStored (id: string): Promise<StoredSession | undefined> {
    const first = await store.load(id, options.consistentRead === 'always')
    const nowSec = epochSeconds(now())
    if (options.consistentRead !== 'on-miss' || (first !== undefined && (isLive(first, nowSec) || isLiveTombstone(first, nowSec)))) return first
    // An eventually consistent read can miss a session created or refreshed a moment ago.
    return await store.load(id, true)
  }

  const onRequest: onRequestAsyncHookHandler = async function loadSession (request) {
    if (request.routeOptions.config.session === false) return
    const read = cookie.read(request.headers.cookie)
    if (read.kind !== 'valid') {
      if (read.kind === 'invalid') instrumentation?.load('invalid_cookie')
      request.session = new Session(env, undefined)
      return
    }
    let stored: StoredSession | undefined
    try {
      stored = await readStored(read.id)
    } catch (err) {
      if (options.onStoreError === 'anonymous') {
        request.log.warn({ err: errorFields(err) }, 'session store unavailable, continuing without a session')
        request.session = new Session(env, undefined, { readOnly: true })
        return
      }
      throw withCause(new StoreUnavailableError(errorName(err) || 'unknown error'), err)
    }
    if (stored !== undefined && isLiveTombstone(stored, epochSeconds(now()))) {
      instrumentation?.load('superseded')
      // A login replaced this id moments ago and the client may already hold the new cookie: touch nothing.
      request.session = new Session(env, undefined, { superseded: true })
      return
    }
    if (stored === undefined || !isLive(stored, epochSeconds(now()), options.absoluteTimeoutSeconds)) {
      instrumentation?.load(stored === undefined ? 'not_found' : 'expired')
      // The signed id is dead: clear the cookie so the client stops paying a read for it on every request.
      request.session = new Session(env, undefined, { clearCookie: true })
      return
    }
    instrumentation?.load('found')
    request.session = new Session(env, stored, { renewCookie: read.renew })
  }

  function applyCookie (request: FastifyRequest, reply: FastifyReply, session: Session): void {
    const action = session.takeCookieAction()
    if (action === 'none') return
    const https = request.protocol === 'https'
    reply.header('set-cookie', action === 'set' ? cookie.serialize(session.id, session.maxAgeSeconds(), https) : cookie.clear(https))
  }

  const onSend: onSendAsyncHookHandler = async function saveSession (request, reply, payload) {
    const session = request.session
    // Fastify runs onSend again for an error reply: save at most once.
    if (session === null || autosaved.has(request)) return payload
    autosaved.add(request)
    try {
      await session.persist()
    } finally {
      applyCookie(request, reply, session)
    }
    return payload
  }

  return { onRequest, onSend }
}
