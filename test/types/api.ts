// Type tests of the public API (see assert.ts for how they fail). SessionData augmentation is in augmented/, a
// separate program: an augmentation changes the type for every file that sees it.
import Fastify, { type FastifyRequest } from 'fastify'
import dynamoSession, {
  dynamoSession as namedDynamoSession, createMetrics, ensureSessionTable, METRIC_NAMES, SessionGoneError,
  type DynamoSessionOptions, type EnsureTableResult, type JsonValue, type MetricName, type ReapReport,
  type Session, type SessionKey, type SessionReaper, type SessionSnapshot, type SessionStoreApi
} from '../../src/index.js'
import type * as api from '../../src/index.js'
import { expectType, type Equal } from './assert.js'

// The default export and the named export are the same plugin.
expectType<Equal<typeof dynamoSession, typeof namedDynamoSession>>()

const app = Fastify()
await app.register(dynamoSession, { secret: 'a'.repeat(32), reaper: { schedule: '*/5 * * * *' }, metrics: false })
// @ts-expect-error secret is a string or an array of strings
await app.register(dynamoSession, { secret: 42 })
// @ts-expect-error secret is required
await app.register(dynamoSession, {})

// Option types: wrong types and unknown (misspelt) options do not compile.
export const options: DynamoSessionOptions = { secret: ['new'.repeat(11), 'old'.repeat(11)], ttlSeconds: 3600 }
// @ts-expect-error ttlSeconds is a number
export const stringTtl: DynamoSessionOptions = { secret: 's', ttlSeconds: '3600' }
// @ts-expect-error onStoreError is 'fail' or 'anonymous'
export const badPolicy: DynamoSessionOptions = { secret: 's', onStoreError: 'ignore' }
// @ts-expect-error an unknown option (a typo of tableName)
export const typo: DynamoSessionOptions = { secret: 's', tableNmae: 'Sessions' }
// @ts-expect-error cookie.sameSite is 'strict', 'lax' or 'none'
export const badSameSite: DynamoSessionOptions = { secret: 's', cookie: { sameSite: 'sometimes' } }
// @ts-expect-error reaper.segments is a number
export const badSegments: DynamoSessionOptions = { secret: 's', reaper: { segments: '4' } }

// request.session is a Session, not Session | null (README "Routes without a session").
expectType<Equal<FastifyRequest['session'], Session>>()
app.get('/', async (request) => {
  // Without augmentation: any string key, any JSON value.
  expectType<Equal<SessionKey, string>>()
  expectType<Equal<ReturnType<typeof request.session.get<'visits'>>, JsonValue | undefined>>()
  request.session.set('visits', 1)
  request.session.set('profile', { name: 'Ada', tags: ['admin'], active: true, manager: null })
  request.session.set('visits', undefined) // undefined deletes
  // @ts-expect-error a function is not JSON
  request.session.set('callback', () => 1)
  // @ts-expect-error a Date is not JSON (store its ISO string or epoch number)
  request.session.set('when', new Date())
  expectType<Equal<typeof request.session.id, string>>()
  expectType<Equal<typeof request.session.expiresAt, Date>>()
  expectType<Equal<ReturnType<typeof request.session.cookieHeader>, Promise<string | undefined>>>()
  await request.session.regenerate()
  await request.session.destroy()
  return 'ok'
})
// Route config: `session: false` opts a route out.
app.get('/health', { config: { session: false } }, async () => 'ok')
// @ts-expect-error config.session is a boolean
app.get('/bad', { config: { session: 'off' } }, async () => 'ok')

// The decorations.
expectType<Equal<typeof app.sessionStore, SessionStoreApi>>()
expectType<Equal<ReturnType<SessionStoreApi['get']>, Promise<SessionSnapshot | undefined>>>()
expectType<Equal<typeof app.sessionReaper, SessionReaper | null>>()
// The README's reaper snippet: the decoration is null with `reaper: false`, so it is narrowed before use.
// @ts-expect-error app.sessionReaper is possibly null
export const unnarrowed = async (): Promise<ReapReport> => await app.sessionReaper.runOnce()
export const narrowed = async (): Promise<ReapReport> => {
  const reaper = app.sessionReaper
  if (reaper === null) throw new Error('the session reaper is off')
  return await reaper.runOnce()
}
expectType<Equal<ReturnType<SessionReaper['runOnce']>, Promise<ReapReport>>>()

// Sessions of a user (docs/sessions-of-a-user.md).
expectType<Equal<ReturnType<SessionStoreApi['listByOwner']>, Promise<api.OwnedSession[]>>>()
expectType<Equal<ReturnType<SessionStoreApi['destroyByOwner']>, Promise<api.OwnerRevocation>>>()
expectType<Equal<ReturnType<Session['destroyOthers']>, Promise<api.OwnerRevocation>>>()
expectType<Equal<Session['owner'], string | undefined>>()
expectType<Equal<api.OwnedSession['id'], string | undefined>>()
expectType<Equal<EnsureTableResult['ownerIndex'], api.IndexSetup>>()
export const ownerOptions: DynamoSessionOptions = { secret: 's', ownerIndex: { indexName: 'By_Owner', attribute: 'uid', labelAttribute: 'device' } }
export const noOwnerIndex: DynamoSessionOptions = { secret: 's', ownerIndex: false }
// @ts-expect-error ownerIndex has no shards
export const ownerShards: DynamoSessionOptions = { secret: 's', ownerIndex: { shards: 4 } }
// @ts-expect-error the owner id is a string
export const numericOwner = (session: Session): void => { session.setOwner(42) }
// @ts-expect-error an unknown option of destroyByOwner (a typo of except)
export const typoExcept = async (): Promise<unknown> => await app.sessionStore.destroyByOwner('u', { exept: 'id' })

// Documented values.
expectType<Equal<ReturnType<typeof ensureSessionTable>, Promise<EnsureTableResult>>>()
expectType<Equal<EnsureTableResult['expiryIndex'], api.IndexSetup>>()
// @ts-expect-error the index states are a closed set
export const unknownIndexState: api.IndexSetup = 'ready'
expectType<Equal<(typeof METRIC_NAMES)[keyof typeof METRIC_NAMES], MetricName>>()
export const metrics: ReturnType<typeof createMetrics> | undefined = undefined
export const gone = new SessionGoneError()
// An error's code is its literal, so `err.code === 'FST_…'` narrows and a misspelt code does not compile.
expectType<Equal<typeof gone.code, 'FST_DYNAMO_SESSION_GONE'>>()
// @ts-expect-error a code the class does not have
export const misspelt = gone.code === 'FST_DYNAMO_SESSION_GONNE'

// Session is exported as a type only: only the plugin builds sessions.
declare const namespace: typeof api
// @ts-expect-error Session is not a value of the package
export const SessionClass = namespace.Session

// Removed from the public API (CHANGELOG "Unreleased / Breaking"): no longer importable.
// @ts-expect-error removed: the default is documented in the README's options table
import { DEFAULT_TABLE_NAME } from '../../src/index.js'
// @ts-expect-error removed: the lease item is internal
import { LEASE_ID } from '../../src/index.js'
// @ts-expect-error removed: the histogram buckets are internal
import { TTL_LAG_BUCKETS } from '../../src/index.js'
export const removedValues = [DEFAULT_TABLE_NAME, LEASE_ID, TTL_LAG_BUCKETS,
  // @ts-expect-error removed
  namespace.DEFAULT_TTL_SECONDS,
  // @ts-expect-error removed
  namespace.DEFAULT_REAPER_SCHEDULE,
  // @ts-expect-error removed
  namespace.DEFAULT_METRICS_ROUTE,
  // @ts-expect-error removed
  namespace.LEASE_ATTRIBUTES,
  // @ts-expect-error removed
  namespace.RUN_DURATION_BUCKETS,
  // @ts-expect-error removed
  namespace.STORE_DURATION_BUCKETS]
// @ts-expect-error removed: instrumentation is internal
export type RemovedInstrumentation = api.Instrumentation
// @ts-expect-error removed: instrumentation is internal
export type RemovedInstruments = api.Instruments
// @ts-expect-error removed: the label values are documented in the README's metrics table
export type RemovedLoadResult = api.LoadResult
// @ts-expect-error removed: use ReturnType<typeof createMetrics>
export type RemovedSessionMetrics = api.SessionMetrics
