import { createServer, type AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { dynamoSession, type DynamoSessionOptions, type ReaperOptions } from '../../src/index.js'

export const SECRET = 'a-test-secret-that-is-long-enough-0123456789'
export const OLD_SECRET = 'an-older-secret-that-is-also-long-enough-987'

interface Teardown { teardown (fn: () => unknown): void }

export interface BuildOptions {
  /** How @fastify/cookie is registered: not at all (default), before or after the session plugin. */
  cookiePlugin?: 'none' | 'before' | 'after'
  cookieHook?: false | 'onRequest' | 'preHandler'
  fastify?: FastifyServerOptions
  routes?: (app: FastifyInstance) => void
}

/**
 * An app with the session plugin and a small set of routes, closed at teardown:
 * GET /get?key=k, POST /set {key: value...}, POST /delete?key=k, POST /regenerate, POST /destroy, GET /touch,
 * GET /noop (does not use the session), GET /off (config session:false).
 */
/**
 * The reaper strategy the shared reaper tests run with: `scan` by default, `index` when
 * DYNAMO_SESSION_TEST_REAPER_STRATEGY says so (`npm run test:index-mode` runs them again that way).
 */
export const TEST_REAPER_STRATEGY: 'scan' | 'index' = process.env.DYNAMO_SESSION_TEST_REAPER_STRATEGY === 'index' ? 'index' : 'scan'

/**
 * The transport the apps use unless a test picks one: the plugin's default (`auto`: the fast transport for the stock
 * clients most tests build, `client.send()` for those with counting middleware), or `sdk` when
 * DYNAMO_SESSION_TEST_TRANSPORT says so (`npm run test:sdk-transport` runs the fault and race suites again that way).
 */
export const TEST_TRANSPORT: 'auto' | 'sdk' = process.env.DYNAMO_SESSION_TEST_TRANSPORT === 'sdk' ? 'sdk' : 'auto'

export async function buildApp (t: Teardown, client: DynamoDBClient, tableName: string, options: Partial<DynamoSessionOptions> = {}, build: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(build.fastify ?? { logger: false })
  t.teardown(() => app.close())
  const cookiePlugin = build.cookiePlugin ?? 'none'
  const cookieOpts = { hook: build.cookieHook ?? 'onRequest' as const }
  if (cookiePlugin === 'before') await app.register(fastifyCookie, cookieOpts)
  // No scheduled reaper unless a test asks for one: a cron tick must not land in the middle of another test.
  // The reaper runs with TEST_REAPER_STRATEGY unless the test picks one (or has no expiry index).
  const strategy: ReaperOptions = options.expiryIndex === false ? {} : { strategy: TEST_REAPER_STRATEGY }
  const reaper: ReaperOptions | false = options.reaper === undefined
    ? { schedule: false, ...strategy }
    : options.reaper === false ? false : { ...strategy, ...options.reaper }
  // Tests create their tables themselves: no startup DescribeTable of `createTable: 'auto'` (the default) unless a
  // test passes `createTable` (`undefined` for the plugin's default), so that counted calls are the test's own. The
  // startup check (verifyTable) has its own tests (test/store/verify.test.ts): elsewhere its DescribeTable would join
  // the calls tests count, and fail the apps some tests build on a dead endpoint on purpose.
  const createTable = 'createTable' in options ? {} : { createTable: false }
  await app.register(dynamoSession, {
    secret: SECRET, client, tableName, transport: TEST_TRANSPORT, verifyTable: false, ...createTable, ...options, reaper
  })
  if (cookiePlugin === 'after') await app.register(fastifyCookie, cookieOpts)

  app.get<{ Querystring: { key?: string } }>('/get', async (request) => {
    const key = request.query.key
    return { id: request.session.id, isNew: request.session.isNew, value: key === undefined ? request.session.data() : request.session.get(key) ?? null }
  })
  app.post<{ Body: Record<string, unknown> }>('/set', async (request) => {
    for (const [k, v] of Object.entries(request.body ?? {})) request.session.set(k, v as never)
    return { id: request.session.id }
  })
  app.post<{ Querystring: { key: string } }>('/delete', async (request) => {
    request.session.delete(request.query.key)
    return { ok: true }
  })
  app.post('/regenerate', async (request) => {
    const before = request.session.id
    await request.session.regenerate()
    return { before, after: request.session.id }
  })
  app.post('/destroy', async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
  app.get('/touch', async (request) => {
    request.session.touch()
    return { ok: true }
  })
  app.get('/noop', async () => ({ ok: true }))
  app.get('/off', { config: { session: false } }, async (request) => ({ session: request.session }))
  build.routes?.(app)
  await app.ready()
  return app
}

/** The `name=value` part of a Set-Cookie header, for sending back as a Cookie header. */
export function cookieFrom (setCookie: string | string[] | undefined, name = 'sessionId'): string | undefined {
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]
  const found = list.find((c) => c.startsWith(name + '='))
  return found?.split(';')[0]
}

/** A clock for the `now` option that only moves when told to. */
export interface FakeClock {
  readonly now: () => number
  /** Current time in epoch seconds. */
  readonly seconds: number
  advance (seconds: number): void
}

export function fakeClock (startMs = 1_800_000_000_000): FakeClock {
  let ms = startMs
  return {
    now: () => ms,
    get seconds () { return Math.floor(ms / 1000) },
    advance (seconds: number) { ms += seconds * 1000 }
  }
}

/** One command a client sent, with its input. */
export interface RecordedCommand { readonly name: string, readonly input: Record<string, unknown> }

/** Records the commands a client sends, with their inputs, through SDK middleware. */
export function recordCommands (client: DynamoDBClient): { readonly commands: RecordedCommand[], reset (): void } {
  const commands: RecordedCommand[] = []
  client.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push({ name: String(context.commandName).replace(/Command$/, ''), input: structuredClone(args.input as Record<string, unknown>) })
      return await next(args)
    },
    { step: 'initialize', name: 'recordCommands' }
  )
  return { commands, reset: () => { commands.length = 0 } }
}

/** A Cookie header carrying `id` signed with `secret`, as the plugin sets it (ids and signatures are valid cookie octets, sent unencoded). */
export function signedCookie (id: string, secret = SECRET, name = 'sessionId'): string {
  return `${name}=${fastifyCookie.sign(id, secret)}`
}

/** An http endpoint on 127.0.0.1 where nothing listens (connections are refused at once). */
export async function closedEndpoint (): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

function firstSetCookie (setCookie: string | string[] | undefined, name: string): string | undefined {
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]
  return list.find((c) => c.startsWith(name + '='))
}

/** True when the response removes the named cookie (empty value, Max-Age=0). */
export function isClearingCookie (setCookie: string | string[] | undefined, name = 'sessionId'): boolean {
  const found = firstSetCookie(setCookie, name)
  return found !== undefined && found.startsWith(`${name}=;`) && /; Max-Age=0(;|$)/i.test(found)
}

/** The Max-Age of the named cookie in a Set-Cookie header, if any. */
export function cookieMaxAge (setCookie: string | string[] | undefined, name = 'sessionId'): number | undefined {
  const m = /; Max-Age=(\d+)/i.exec(firstSetCookie(setCookie, name) ?? '')
  return m === null ? undefined : Number(m[1])
}
