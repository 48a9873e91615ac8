import type { FastifyReply, FastifyRequest, onRequestHookHandler, onResponseHookHandler, onSendHookHandler } from 'fastify'
import type { ResolvedOptions } from './options.js'
import type { SessionCookie } from './cookie.js'
import type { Session } from './session.js'
import { SessionController, controllerOf, type OpenOptions, type SessionEnv } from './session/controller.js'
import { sessionCore } from './session.js'
import type { CookieChannel } from './session/cookie-action.js'
import type { DynamoStore } from './store/dynamo-store.js'
import type { RequestObserver } from './instrumentation.js'
import { epochSeconds } from './clock.js'
import { isLiveSession, isLiveTombstone } from './expiry.js'
import type { StoredSession } from './store/record.js'
import { errorFields, errorLabel } from './aws-errors.js'
import { SessionHijackedError, StoreUnavailableError } from './errors.js'

export interface HookDeps {
  readonly options: ResolvedOptions
  readonly cookie: SessionCookie
  readonly store: DynamoStore
  readonly instrumentation: RequestObserver | undefined
}

type Hooks = { onRequest: onRequestHookHandler, onSend: onSendHookHandler, onResponse: onResponseHookHandler }

/**
 * The request hooks: load the session (onRequest) and save it once, before the response goes out (onSend) or after a
 * hijacked one (onResponse).
 */
export function sessionHooks (deps: HookDeps): Hooks {
  // Requests whose session came from the legacy cookie name: that cookie is cleared whenever a cookie is written.
  const legacyCookie = new WeakSet<FastifyRequest>()
  return { onRequest: loadHook(deps, legacyCookie), ...saveHooks(deps, legacyCookie) }
}

async function readStored ({ options, store }: HookDeps, id: string): Promise<StoredSession | undefined> {
  const { now } = options
  const first = await store.load(id, options.consistentRead === 'always')
  const nowSec = epochSeconds(now())
  const live = first !== undefined && (isLiveSession(first, nowSec) || isLiveTombstone(first, nowSec))
  if (options.consistentRead !== 'on-miss' || live) return first
  // An eventually consistent read can miss a session created or refreshed a moment ago.
  return await store.load(id, true)
}

function cookieValue (cookie: SessionCookie, request: FastifyRequest, session: SessionController, action: 'set' | 'clear'): string {
  const https = request.protocol === 'https'
  return action === 'set' ? cookie.serialize(session.id, session.maxAgeSeconds(), https) : cookie.clear(https)
}

function cookieChannel (cookie: SessionCookie, request: FastifyRequest, reply: FastifyReply): CookieChannel {
  return {
    pluginCanSet: () => !reply.sent,
    headersSent: () => reply.raw.headersSent,
    serialize: (action) => cookieValue(cookie, request, controllerOf(request.session), action)
  }
}

/**
 * onRequest: opens the request's session from its cookie. A callback hook: a request without a session cookie (or
 * with an invalid one) opens its session without a promise; only a cookie to look up goes through an async load.
 */
function loadHook (deps: HookDeps, legacyCookie: WeakSet<FastifyRequest>): onRequestHookHandler {
  const { options, cookie, store, instrumentation } = deps
  const { now } = options
  const env: SessionEnv = { options, store, now, events: instrumentation }
  const open = (stored: StoredSession | undefined, opts: OpenOptions): Session => new SessionController(env, stored, opts).session

  async function loadStored (request: FastifyRequest, id: string, renew: boolean, channel: CookieChannel): Promise<void> {
    let stored: StoredSession | undefined
    try {
      stored = await readStored(deps, id)
    } catch (err) {
      if (options.onStoreError === 'anonymous') {
        request.log.warn({ err: errorFields(err) }, 'session store unavailable, continuing without a session')
        request.session = open(undefined, { readOnly: true, cookie: channel })
        return
      }
      throw new StoreUnavailableError(errorLabel(err), { cause: err })
    }
    if (stored !== undefined && isLiveTombstone(stored, epochSeconds(now()))) {
      instrumentation?.load('superseded')
      // A login replaced this id moments ago and the client may already hold the new cookie: touch nothing.
      request.session = open(undefined, { superseded: true })
      return
    }
    if (stored === undefined || !isLiveSession(stored, epochSeconds(now()), options.absoluteTimeoutSeconds)) {
      instrumentation?.load(stored === undefined ? 'not_found' : 'expired')
      // The signed id is dead: clear the cookie so the client stops paying a read for it on every request.
      request.session = open(undefined, { clearCookie: true, cookie: channel })
      return
    }
    instrumentation?.load('found')
    request.session = open(stored, { renewCookie: renew, cookie: channel })
  }

  return function loadSession (request, reply, done) {
    if (request.routeOptions.config.session === false) {
      done()
      return
    }
    const read = cookie.read(request.headers.cookie, request.protocol === 'https')
    const channel = cookieChannel(cookie, request, reply)
    if (read.kind !== 'valid') {
      if (read.kind === 'invalid') instrumentation?.load('invalid_cookie')
      request.session = open(undefined, { cookie: channel })
      done()
      return
    }
    if (read.legacy === true) legacyCookie.add(request)
    // Fastify awaits a returned promise (done is then not called): its errors reach Fastify's error handling.
    return loadStored(request, read.id, read.renew, channel)
  }
}

/** onSend and onResponse: persist the session once and carry out its cookie action. */
function saveHooks ({ cookie }: HookDeps, legacyCookie: WeakSet<FastifyRequest>): Omit<Hooks, 'onRequest'> {
  function applyCookie (request: FastifyRequest, reply: FastifyReply, session: SessionController): void {
    const action = session.takeCookieAction()
    if (action === 'none') return
    reply.header('set-cookie', cookieValue(cookie, request, session, action))
    if (legacyCookie.has(request)) reply.header('set-cookie', cookie.clearLegacy(request.protocol === 'https'))
  }
  return { onSend: saveHook(applyCookie), onResponse: saveAfterHijackHook() }
}

// Requests whose `request.session` was replaced by another object: reported once (the plugin cannot save it).
const foreignReported = new WeakSet<FastifyRequest>()

/**
 * The request's session controller if this is the first save of its session, else undefined. A session the plugin
 * did not open (the app replaced `request.session`) throws once, on the first save.
 */
function claimSave (request: FastifyRequest, session: Session): SessionController | undefined {
  const core = sessionCore(session)
  if (core instanceof SessionController) return core.claimSave() ? core : undefined
  if (foreignReported.has(request)) return undefined
  foreignReported.add(request)
  return controllerOf(session)
}

type ApplyCookie = (request: FastifyRequest, reply: FastifyReply, session: SessionController) => void

/**
 * onSend. A session with nothing to write (most requests) is answered synchronously through `done`, without a
 * promise; one with a write returns a promise of the payload, which Fastify awaits (and whose errors, or those of
 * the reply's later steps, it handles as an async hook's).
 */
function saveHook (applyCookie: ApplyCookie): onSendHookHandler {
  async function writeThenApply (request: FastifyRequest, reply: FastifyReply, controller: SessionController, writing: Promise<void>) {
    try {
      await writing
    } finally {
      applyCookie(request, reply, controller)
    }
  }

  return function saveSession (request, reply, payload, done) {
    const session = request.session
    // Fastify runs onSend again for an error reply: save at most once.
    const controller = session === null ? undefined : claimSave(request, session)
    if (controller === undefined) {
      done(null, payload)
      return
    }
    const writing = controller.persistIfNeeded()
    if (writing === undefined) {
      applyCookie(request, reply, controller)
      done(null, payload)
      return
    }
    return writeThenApply(request, reply, controller, writing).then(() => payload)
  }
}

/**
 * onResponse: nothing to do, and no promise, for a response that went through onSend. A route that answered through
 * reply.raw (reply.hijack()) skipped onSend: what it changed in an existing session is saved here, once. Nothing
 * reaches the client any more, so failures are logged (store failures are also counted).
 */
function saveAfterHijackHook (): onResponseHookHandler {
  async function saveHijacked (request: FastifyRequest, controller: SessionController): Promise<void> {
    try {
      await controller.persist()
    } catch (err) {
      request.log.error({ err: errorFields(err) }, 'session changes made after reply.hijack() were not saved')
      return
    }
    if (controller.takeCookieAction() === 'set' && controller.isNew) {
      const err = new SessionHijackedError('a new session id was stored but its cookie never reached the client')
      request.log.error({ err: errorFields(err) }, 'session cookie not delivered after reply.hijack()')
    }
  }

  return function saveAfterHijack (request, reply, done) {
    const session = request.session
    const controller = session === null || !reply.sent ? undefined : claimSave(request, session)
    if (controller === undefined) {
      done()
      return
    }
    return saveHijacked(request, controller)
  }
}
