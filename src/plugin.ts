import fp from 'fastify-plugin'
import fastifyCookie from '@fastify/cookie'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { Registry } from 'prom-client'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler, onSendAsyncHookHandler } from 'fastify'
import { DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_MAX_ATTEMPTS, resolveOptions, type DynamoSessionOptions, type ResolvedOptions } from './options.js'
import { SessionCookie, serializerReady } from './cookie.js'
import { Session, type SessionEnv, type SessionEvents } from './session.js'
import { DynamoStore, type SessionStoreApi, type StoreObserver } from './store/dynamo-store.js'
import { epochSeconds, isLive, type StoredSession } from './store/item.js'
import { ensureSessionTable } from './store/table.js'
import { MissingRegionError, StoreUnavailableError } from './errors.js'
import { createMetrics } from './metrics.js'
import { Reaper, type SessionReaper } from './reaper/reaper.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's session; null on routes with `config: { session: false }`. */
    session: Session
  }
  interface FastifyInstance {
    /** Session administration outside a request. */
    sessionStore: SessionStoreApi
    /** The reaper (`runOnce()`); null with `reaper: false`. */
    sessionReaper: SessionReaper | null
  }
  interface FastifyContextConfig {
    /** `false` skips loading and saving the session on this route. */
    session?: boolean
  }
}

/** Load outcomes, as counted by `dynamo_session_loads_total{result}`. */
export type LoadResult = 'found' | 'not_found' | 'expired' | 'invalid_cookie'

/** Hooks for metrics; the metrics module implements them. */
export interface Instrumentation extends StoreObserver, SessionEvents {
  load (result: LoadResult): void
}

/**
 * The client used when none is given: region, endpoint and credentials from the environment as the AWS SDK
 * documents; a whole-request timeout so a stalled DynamoDB cannot hang requests; DEFAULT_MAX_ATTEMPTS attempts unless
 * AWS_MAX_ATTEMPTS says otherwise (AWS_RETRY_MODE is read by the SDK itself).
 */
export function defaultClient (options: ResolvedOptions, env: NodeJS.ProcessEnv = process.env): DynamoDBClient {
  return new DynamoDBClient({
    // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes, and the call hangs on.
    // requestTimeout ends when the response headers arrive: socketTimeout cuts a body that stalls after them.
    requestHandler: { requestTimeout: options.requestTimeoutMs, connectionTimeout: DEFAULT_CONNECTION_TIMEOUT_MS, socketTimeout: options.requestTimeoutMs, throwOnRequestTimeout: true },
    ...(env.AWS_MAX_ATTEMPTS === undefined ? { maxAttempts: DEFAULT_MAX_ATTEMPTS } : {})
  })
}

async function assertRegion (client: DynamoDBClient): Promise<void> {
  try {
    const region = await client.config.region()
    if (typeof region === 'string' && region.length > 0) return
  } catch {
    // reported below
  }
  throw new MissingRegionError()
}

function isHttps (request: FastifyRequest): boolean {
  return request.protocol === 'https'
}

async function dynamoSessionPlugin (fastify: FastifyInstance, userOptions: DynamoSessionOptions): Promise<void> {
  const options = resolveOptions(userOptions)
  const now = options.now
  const metrics = options.metrics === false ? undefined : createMetrics(options.metrics.registry ?? new Registry())
  const instrumentation: Instrumentation | undefined = metrics
  const ownClient = options.client === undefined
  const client = options.client ?? defaultClient(options)
  if (ownClient) fastify.addHook('onClose', async () => client.destroy())
  await assertRegion(client)
  if (options.createTable) await ensureSessionTable(client, { ...options, log: (msg) => fastify.log.info(msg) })

  // @fastify/cookie's serializer needs that plugin to have loaded once. An app that registered it before us has done
  // that (and registering it again where its decorators are visible would fail); otherwise a child context keeps
  // its decorators and hooks away from the app, which may register it after us or not at all.
  if (!serializerReady()) await fastify.register(async (child) => { await child.register(fastifyCookie, { hook: false }) })

  const cookie = new SessionCookie(options.cookie, options.secrets)
  const store = new DynamoStore(client, options, now, instrumentation)
  const env: SessionEnv = { options, store, now, events: instrumentation }
  const autosaved = new WeakSet<FastifyRequest>()

  async function readStored (id: string): Promise<StoredSession | undefined> {
    const first = await store.load(id, options.consistentRead === 'always')
    if (options.consistentRead !== 'on-miss' || (first !== undefined && isLive(first, epochSeconds(now())))) return first
    // An eventually consistent read can miss a session created or refreshed a moment ago.
    return await store.load(id, true)
  }

  function isExpired (stored: StoredSession): boolean {
    return !isLive(stored, epochSeconds(now()), options.absoluteTimeoutSeconds)
  }

  const loadSession: onRequestAsyncHookHandler = async function (request) {
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
        request.log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'session store unavailable, continuing without a session')
        request.session = new Session(env, undefined, { readOnly: true })
        return
      }
      const wrapped = new StoreUnavailableError((err as Error).name)
      wrapped.cause = err
      throw wrapped
    }
    if (stored === undefined || isExpired(stored)) {
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
    if (action === 'set') reply.header('set-cookie', cookie.serialize(session.id, session.maxAgeSeconds(), isHttps(request)))
    else if (action === 'clear') reply.header('set-cookie', cookie.clear(isHttps(request)))
  }

  const saveSession: onSendAsyncHookHandler = async function (request, reply, payload) {
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

  fastify.decorateRequest('session', null as unknown as Session)
  fastify.decorate('sessionStore', store as SessionStoreApi)

  const reaper = options.reaper === false
    ? null
    : new Reaper({ client, shape: options, options: options.reaper, now, observer: metrics, log: fastify.log })
  if (reaper !== null) {
    fastify.addHook('onReady', async () => reaper.start())
    // Before onClose, where the default client is destroyed: the pass in progress stops and frees its lease first.
    fastify.addHook('preClose', async () => reaper.close())
  }
  fastify.decorate('sessionReaper', reaper)
  if (metrics !== undefined && options.metrics !== false && options.metrics.route !== false) {
    const registry = metrics.registry
    fastify.get(options.metrics.route, { config: { session: false } }, async (_request, reply) => {
      reply.type(registry.contentType)
      return await registry.metrics()
    })
  }
  fastify.addHook('onRequest', loadSession)
  fastify.addHook('onSend', saveSession)
}

/** The plugin: `fastify.register(dynamoSession, { secret })`. */
export const dynamoSession = fp(dynamoSessionPlugin, { name: 'fastify-dynamo-session', fastify: '5.x' })
export default dynamoSession
