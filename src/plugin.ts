import fp from 'fastify-plugin'
import fastifyCookie from '@fastify/cookie'
import { Registry } from 'prom-client'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import {
  resolveOptions, type DynamoSessionOptions, type ResolvedMetricsOptions, type ResolvedOptions, type TransportMode
} from './options.js'
import { SessionCookie, serializerReady } from './cookie.js'
import type { Session } from './session.js'
import { DynamoStore, type SessionStoreApi } from './store/dynamo-store.js'
import { describeTableIfExists, ensureSessionTable } from './store/table.js'
import { verifyTable } from './store/verify.js'
import { OwnerDirectory, type DestroyByOwnerOptions, type ListByOwnerOptions } from './store/owner-directory.js'
import { assertRegion, clockOffsetMs, defaultClient, sendsToLoopback } from './client.js'
import { sessionHooks } from './hooks.js'
import { createMetrics, type SessionMetrics } from './metrics.js'
import type { Transport } from './instrumentation.js'
import { startMetricsServer, type MetricsServer } from './metrics-server.js'
import { Reaper, type SessionReaper } from './reaper/reaper.js'
import { chooseTransport } from './transport/select.js'
import { FastTransport } from './transport/fast-transport.js'
import { releaseSender, useSender } from './transport/sender.js'

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
    /** Where the metrics server listens (with `metrics.port`, once the app is ready); null otherwise. */
    readonly sessionMetricsAddress: AddressInfo | null
  }
  interface FastifyContextConfig {
    /** `false` skips loading and saving the session on this route. */
    session?: boolean
  }
}

async function dynamoSessionPlugin (fastify: FastifyInstance, userOptions: DynamoSessionOptions): Promise<void> {
  const options = resolveOptions(userOptions)
  const metrics = options.metrics === false ? undefined : createMetrics(options.metrics.registry ?? new Registry())
  const ownClient = options.client === undefined
  const client = options.client ?? defaultClient(options.requestTimeoutMs)
  if (ownClient) fastify.addHook('onClose', async () => client.destroy())
  // Read from the client at scrape time: nothing is added to a client the application passed.
  metrics?.watchClockSkew(() => clockOffsetMs(client))
  await assertRegion(client)
  metrics?.transport(await useTransport(fastify, client, options.transport))
  await createTableIfAsked(fastify, client, options)
  if (options.verifyTable) await verifyTable(client, { shape: options, onStoreError: options.onStoreError, log: fastify.log })

  // @fastify/cookie's serializer needs that plugin to have loaded once. An app that registered it before us has done
  // that (and registering it again where its decorators are visible would fail); otherwise a child context keeps
  // its decorators and hooks away from the app, which may register it after us or not at all.
  if (!serializerReady()) await fastify.register(async (child) => { await child.register(fastifyCookie, { hook: false }) })

  const cookie = new SessionCookie(options.cookie, options.secrets, options.now)
  const store = new DynamoStore(client, options, options.now, metrics)
  const hooks = sessionHooks({ options, cookie, store, instrumentation: metrics })

  fastify.decorateRequest('session', null as unknown as Session)
  // Only the admin API: the store's other methods stay internal.
  const owners = new OwnerDirectory(store, options)
  const sessionStore: SessionStoreApi = Object.freeze({
    get: async (id: string) => await store.get(id),
    destroy: async (id: string) => await store.destroy(id),
    listByOwner: async (owner: string, listOptions?: ListByOwnerOptions) => await owners.list(owner, listOptions),
    destroyByOwner: async (owner: string, destroyOptions?: DestroyByOwnerOptions) => await owners.destroy(owner, destroyOptions)
  })
  fastify.decorate('sessionStore', sessionStore)

  const reaper = options.reaper === false
    ? null
    : new Reaper({ client, shape: options, options: options.reaper, now: options.now, observer: metrics, log: fastify.log })
  if (reaper !== null) {
    fastify.addHook('onReady', async () => reaper.start())
    // Before onClose, where the default client is destroyed: the pass in progress stops and frees its lease first.
    fastify.addHook('preClose', async () => reaper.close())
  }
  fastify.decorate('sessionReaper', reaper)
  serveMetrics(fastify, metrics, options.metrics)
  fastify.addHook('onRequest', hooks.onRequest)
  fastify.addHook('onSend', hooks.onSend)
  fastify.addHook('onResponse', hooks.onResponse)
}

/**
 * `createTable`: a new table gets the expiry index; an existing one is never changed at startup (its backfill is
 * init's job). `'auto'` acts on a loopback endpoint only, so local development needs no setup step: one DescribeTable,
 * and the table setup only when the table is missing. It never fails startup: when the local server cannot be reached
 * it logs a warning and requests answer as with any outage.
 */
async function createTableIfAsked (fastify: FastifyInstance, client: DynamoDBClient, options: ResolvedOptions): Promise<void> {
  const mode = options.createTable
  if (mode === false || (mode === 'auto' && !await sendsToLoopback(client))) return
  const create = async (): Promise<void> => {
    await ensureSessionTable(client, { ...options, addIndexToExistingTable: false, log: (msg) => fastify.log.info(msg) })
  }
  if (mode === true) {
    await create()
    return
  }
  const setup = async (): Promise<void> => {
    if (await describeTableIfExists(client, options.tableName) === undefined) await create()
  }
  await setup().catch((err: unknown) => {
    fastify.log.warn({ err }, `dynamo-session: could not check or create table ${options.tableName} (createTable 'auto')`)
  })
}

/** Chooses the transport of the store's and the reaper's calls, says which in one log line, closes it with the app. */
async function useTransport (fastify: FastifyInstance, client: DynamoDBClient, mode: TransportMode): Promise<Transport> {
  const choice = await chooseTransport(client, mode)
  const { transport: kind, reason } = choice
  fastify.log.info({ transport: kind, reason }, `dynamo-session: ${kind} transport (${reason})`)
  if (kind === 'sdk') return kind
  const transport = new FastTransport(client)
  useSender(client, transport)
  // After preClose, where the reaper stops: nothing sends through it any more.
  fastify.addHook('onClose', async () => {
    releaseSender(client, transport)
    await transport.close()
  })
  return kind
}

/** The metrics route on the app, or (with `metrics.port`) a server of its own from onReady to onClose. */
function serveMetrics (fastify: FastifyInstance, metrics: SessionMetrics | undefined, options: ResolvedMetricsOptions | false): void {
  let server: MetricsServer | undefined
  fastify.decorate('sessionMetricsAddress', { getter: () => server?.address ?? null })
  if (metrics === undefined || options === false || options.route === false) return
  const { registry } = metrics
  if (options.port === undefined) {
    fastify.get(options.route, { config: { session: false } }, async (_request, reply) => {
      reply.type(registry.contentType)
      return await registry.metrics()
    })
    return
  }
  const { port, host, route: path } = options
  fastify.addHook('onReady', async () => {
    server = await startMetricsServer({ registry, port, host, path })
  })
  fastify.addHook('onClose', async () => {
    await server?.close()
  })
}

/** The plugin: `fastify.register(dynamoSession, { secret })`. */
export const dynamoSession = fp(dynamoSessionPlugin, { name: 'fastify-dynamo-session', fastify: '5.x' })
export default dynamoSession
