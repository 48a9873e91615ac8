import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { validate as validateCron } from 'node-cron'
import type { Registry } from 'prom-client'
import { InvalidOptionError, InvalidSecretError, UnknownOptionError } from './errors.js'
import { TOMBSTONE_ATTRIBUTE } from './store/tombstone.js'
import { MAX_LEASE_GROUPS } from './ids.js'

export const DEFAULT_TABLE_NAME = 'ManejoSesion'
export const DEFAULT_ID_ATTRIBUTE = 'Sesion_Id'
export const DEFAULT_EXPIRES_ATTRIBUTE = 'Expire_Session'
export const DEFAULT_DATA_ATTRIBUTE = 'Data'
export const DEFAULT_CREATED_ATTRIBUTE = 'Created_At'
export const DEFAULT_TOUCHED_ATTRIBUTE = 'Touched_At'
export const DEFAULT_TTL_SECONDS = 300
/** The expiry index (see docs/reaper.md): a KEYS_ONLY global secondary index on (shard, bucket). */
export const DEFAULT_EXPIRY_INDEX_NAME = 'Expire_Bucket_Index'
/** Sort key of the expiry index: floor(expiry / bucketSeconds). */
export const DEFAULT_BUCKET_ATTRIBUTE = 'Expire_Bucket'
/** Partition key of the expiry index: a hash of the id modulo `shards`, written once. */
export const DEFAULT_SHARD_ATTRIBUTE = 'Expire_Shard'
/**
 * Index partitions: each takes up to ~1,000 index writes a second, and every session write that creates, deletes or
 * moves an entry is one or two of them; 16 keeps each well under the limit up to ~8,000 such writes a second.
 */
export const DEFAULT_EXPIRY_INDEX_SHARDS = 16
/**
 * Width of a bucket: a refresh crosses a bucket boundary (2 index writes) with probability Δ/bucketSeconds for a
 * refresh that moves the expiry by Δ (at least touchAfterSeconds, 60 s by default); 300 keeps it at 0.4 index writes
 * per refresh at the defaults, and a bucket is reaped once it has wholly passed.
 */
export const DEFAULT_BUCKET_SECONDS = 300
export const MIN_EXPIRY_INDEX_SHARDS = 1
export const MAX_EXPIRY_INDEX_SHARDS = 1000
export const MIN_BUCKET_SECONDS = 1
/** The owner index (see docs/sessions-of-a-user.md): a sparse KEYS_ONLY global secondary index on the owner id. */
export const DEFAULT_OWNER_INDEX_NAME = 'Owner_Index'
/** The owner id's attribute (String, the owner index's partition key); absent on sessions without an owner. */
export const DEFAULT_OWNER_ATTRIBUTE = 'Owner_Id'
/** The session label's attribute (String, e.g. a device name); absent on sessions without a label. */
export const DEFAULT_LABEL_ATTRIBUTE = 'Session_Label'
/** touchAfterSeconds defaults to this fraction of ttlSeconds, rounded down. */
export const DEFAULT_TOUCH_FRACTION = 5
/** How long the tombstone regenerate() leaves under the old id lasts. */
export const DEFAULT_TOMBSTONE_SECONDS = 60
export const DEFAULT_CONSISTENT_READ = 'on-miss'
export const DEFAULT_TRANSPORT = 'auto'
export const DEFAULT_ON_STORE_ERROR = 'fail'
/** Create a missing table on loopback endpoints only (dynalite, `dynamo-session local`), never on AWS. */
export const DEFAULT_CREATE_TABLE: CreateTableMode = 'auto'
export const DEFAULT_VERIFY_TABLE = true
export const DEFAULT_COOKIE_NAME = 'sessionId'
/** The default name on https requests: browsers accept a `__Host-` cookie only from the host itself, over https. */
export const DEFAULT_HTTPS_COOKIE_NAME = '__Host-' + DEFAULT_COOKIE_NAME
export const DEFAULT_COOKIE_PATH = '/'
export const DEFAULT_SAME_SITE = 'lax'
export const DEFAULT_HTTP_ONLY = true
export const DEFAULT_SECURE = 'auto'
export const DEFAULT_PARTITIONED = false
export const DEFAULT_REQUEST_TIMEOUT_MS = 1000
export const DEFAULT_CONNECTION_TIMEOUT_MS = 500
/** Attempts per DynamoDB call of the default client, unless AWS_MAX_ATTEMPTS is set. */
export const DEFAULT_MAX_ATTEMPTS = 3
export const MIN_SECRET_LENGTH = 32
/** The reaper runs every minute. */
export const DEFAULT_REAPER_SCHEDULE = '* * * * *'
export const DEFAULT_REAPER_SEGMENTS = 1
/** The reaper queries the expiry index when DescribeTable shows it ACTIVE, and scans otherwise. */
export const DEFAULT_REAPER_STRATEGY = 'auto'
/**
 * Clock skew the reaper tolerates: an instance whose clock runs up to this far ahead deletes no row that the others
 * still treat as live.
 */
export const DEFAULT_REAPER_GRACE_SECONDS = 60
export const DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND = 20
export const DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND = 10
export const DEFAULT_REAPER_LEASE_SECONDS = 30
/** The backfill's own read budget (index strategy), apart from the passes' `maxReadUnitsPerSecond`. */
export const DEFAULT_REAPER_BACKFILL_READ_UNITS_PER_SECOND = 5
/** After a complete backfill that found nothing to fix, the next one starts a day later. */
export const DEFAULT_REAPER_BACKFILL_INTERVAL_SECONDS = 86_400
/** One lease: one instance reaps at a time. */
export const DEFAULT_REAPER_LEASES = 1
/** reaper.maxPassSeconds defaults to this share of the schedule's shortest period (see defaultMaxPassSeconds). */
export const DEFAULT_REAPER_PASS_SHARE = 0.8
/** reaper.maxPassSeconds without a schedule (`schedule: false`, `reap --once`). */
export const DEFAULT_REAPER_UNSCHEDULED_PASS_SECONDS = 60
export const DEFAULT_METRICS_ROUTE = '/metrics'
/** With `metrics.port`, the metrics server listens on loopback only unless told otherwise. */
export const DEFAULT_METRICS_HOST = '127.0.0.1'
export const MAX_PORT = 65_535
// Bounds of the reaper options (the CLI's flags take theirs from here). DynamoDB accepts up to 1,000,000 Scan
// segments; more than MAX_REAPER_SEGMENTS buys nothing for one table. The other options have no upper bound.
export const MIN_REAPER_SEGMENTS = 1
export const MAX_REAPER_SEGMENTS = 1000
export const MIN_REAPER_GRACE_SECONDS = 0
export const MIN_REAPER_LEASE_SECONDS = 1
export const MIN_REAPER_MAX_PASS_SECONDS = 1
export const MIN_REAPER_LEASES = 1
export const MAX_REAPER_LEASES = MAX_LEASE_GROUPS

export const CONSISTENT_READ_MODES = ['on-miss', 'always', 'never'] as const
export const ON_STORE_ERROR_MODES = ['fail', 'anonymous'] as const
export const SAME_SITE_VALUES = ['lax', 'strict', 'none'] as const
export const REAPER_STRATEGY_CHOICES = ['auto', 'index', 'scan'] as const
export type ReaperStrategyChoice = typeof REAPER_STRATEGY_CHOICES[number]
export type ConsistentRead = typeof CONSISTENT_READ_MODES[number]
export type OnStoreError = typeof ON_STORE_ERROR_MODES[number]
export type SameSite = typeof SAME_SITE_VALUES[number]
export const TRANSPORT_MODES = ['auto', 'fast', 'sdk'] as const
export type TransportMode = typeof TRANSPORT_MODES[number]
/** `createTable`: `'auto'` creates a missing table on a loopback endpoint only; `true` on any endpoint; `false` never. */
export type CreateTableMode = 'auto' | boolean

export interface SessionCookieOptions {
  /**
   * Cookie name. `__Host-` and `__Secure-` prefixes are honoured (they force `Secure`). Defaults to
   * `'__Host-sessionId'` on https requests and `'sessionId'` on http; to `'sessionId'` everywhere when `domain`, a
   * `path` other than `'/'` or `secure: false` is set (such a cookie can be planted by a sibling subdomain).
   */
  name?: string
  /**
   * An older cookie name still read until a date, to move existing sessions to a new name (or to the https default)
   * without logging anyone out: a session found under it is re-issued under the current name and the old cookie
   * cleared. A cookie under the current name always wins. `until`: a `Date` or an ISO 8601 date (a date alone means
   * midnight UTC); from then on the old name is ignored. Opt-in, because a sibling subdomain can plant a cookie
   * under the old name. Defaults to none.
   */
  legacyName?: { name: string, until: Date | string }
  /** Cookie path. Defaults to `'/'`. */
  path?: string
  /** Cookie domain. Defaults to none (host-only cookie). */
  domain?: string
  /** Hide the cookie from client-side scripts. Defaults to `true`. */
  httpOnly?: boolean
  /** SameSite attribute. Defaults to `'lax'`. */
  sameSite?: SameSite
  /**
   * `true`, `false`, or `'auto'`: secure when the request arrived over https (needs Fastify's `trustProxy` behind a
   * TLS-terminating load balancer). Defaults to `'auto'`.
   */
  secure?: boolean | 'auto'
  /** Partitioned (CHIPS) attribute. Defaults to `false`. */
  partitioned?: boolean
}

export interface ReaperOptions {
  /**
   * When passes run: a node-cron expression (5 fields, or 6 with seconds), or `false` for passes only through
   * `fastify.sessionReaper.runOnce()`. Defaults to `'* * * * *'` (every minute).
   */
  schedule?: string | false
  /**
   * How a pass finds expired rows: `'index'` queries the expiry index, `'scan'` scans the table, `'auto'` uses the
   * index when DescribeTable shows it ACTIVE (checked at start, every 10 passes and after an index pass fails) and scans
   * otherwise. `'index'` needs `expiryIndex`. Defaults to `'auto'`.
   */
  strategy?: ReaperStrategyChoice
  /** Parallel Scan segments of a pass (they share the budget). Defaults to `1`. */
  segments?: number
  /** Seconds past its expiry before a row is deleted: the clock skew between instances tolerated. Defaults to `60`. */
  graceSeconds?: number
  /** Read capacity units per second a pass may consume. Defaults to `20`. */
  maxReadUnitsPerSecond?: number
  /** Write capacity units per second a pass may consume. Defaults to `10`. */
  maxWriteUnitsPerSecond?: number
  /** Length of the lease a pass holds (renewed every third of it while the pass runs), in seconds. Defaults to `30`. */
  leaseSeconds?: number
  /**
   * Read capacity units per second of the backfill (index strategy): a budgeted scan, beside the index passes, that
   * gives rows missing from the expiry index their bucket and deletes expired rows the index cannot see. Defaults to `5`.
   */
  backfillReadUnitsPerSecond?: number
  /**
   * Seconds between backfills once a complete one found nothing to fix (one that fixed rows is followed by another at
   * once). Defaults to `86400` (a day).
   */
  backfillIntervalSeconds?: number
  /**
   * Lease groups: the pass's streams (index shards or Scan segments) are split into this many groups, each guarded by
   * its own lease item, so that as many instances reap at once, none twice the same rows. A pass takes every group
   * it can, one after another. At most `segments` with strategy `'scan'`, at most `expiryIndex.shards` with `'index'`;
   * with `'auto'`, a finder with fewer streams uses one group per stream. Defaults to `1`.
   */
  leases?: number
  /**
   * A pass stops after this many seconds and the next one resumes where it stopped. Defaults to 80% of the schedule's
   * shortest period (`48` for every minute), or `60` without a schedule.
   */
  maxPassSeconds?: number
}

export interface ExpiryIndexOptions {
  /** Name of the global secondary index. Defaults to `'Expire_Bucket_Index'`. */
  indexName?: string
  /** Bucket attribute (Number, the index's sort key): floor(expiry / bucketSeconds). Defaults to `'Expire_Bucket'`. */
  attribute?: string
  /** Shard attribute (Number, the index's partition key): a hash of the id modulo `shards`. Defaults to `'Expire_Shard'`. */
  shardAttribute?: string
  /**
   * Index partitions, 1 to 1000. Keep each under ~500 index writes a second (half DynamoDB's per-partition limit): at
   * least peak (logins + bucket crossings + deletions) per second / 500. Never lower it on a table in use: rows
   * written with a higher shard are then found by the backfill's scan only. Defaults to `16`.
   */
  shards?: number
  /** Width of a bucket in seconds: index writes per refresh against reaping lag. Defaults to `300`. */
  bucketSeconds?: number
}

export interface OwnerIndexOptions {
  /** Name of the global secondary index (sparse, KEYS_ONLY, on the owner attribute). Defaults to `'Owner_Index'`. */
  indexName?: string
  /** Owner attribute (String, the index's partition key), written by `session.setOwner()`. Defaults to `'Owner_Id'`. */
  attribute?: string
  /** Label attribute (String, not in the index), written by `session.setLabel()`. Defaults to `'Session_Label'`. */
  labelAttribute?: string
}

export interface MetricsOptions {
  /** The prom-client Registry to register on (never prom-client's global one by default). Defaults to a new Registry. */
  registry?: Registry
  /**
   * Path serving the registry in Prometheus text format (on the app, or on the metrics server with `port`), or `false` to
   * serve nothing. Defaults to `'/metrics'`.
   */
  route?: string | false
  /** Serve the metrics on their own HTTP server on this port (0: a free one) instead of on the app. Defaults to none (on the app). */
  port?: number
  /** Address of the metrics server (with `port`). Defaults to `'127.0.0.1'`. */
  host?: string
}

export interface DynamoSessionOptions {
  /** Secret(s) for signing the cookie, each at least 32 characters. With an array the first signs and all verify (rotation). Required. */
  secret: string | readonly string[]
  /**
   * The DynamoDB client. Defaults to one built from the environment (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB,
   * AWS_MAX_ATTEMPTS, AWS_RETRY_MODE) with `requestTimeoutMs`.
   */
  client?: DynamoDBClient
  /** Table name. Defaults to `'ManejoSesion'`. */
  tableName?: string
  /** Partition key attribute (String). Defaults to `'Sesion_Id'`. */
  idAttribute?: string
  /** Expiry attribute (Number, epoch seconds; the table's TTL attribute). Defaults to `'Expire_Session'`. */
  expiresAttribute?: string
  /** Map attribute holding session data. Defaults to `'Data'`. */
  dataAttribute?: string
  /** Attribute holding the creation time (epoch seconds), used by `absoluteTimeoutSeconds`. Defaults to `'Created_At'`. */
  createdAttribute?: string
  /** Attribute holding the last expiry refresh (epoch seconds), used by `touchAfterSeconds`. Defaults to `'Touched_At'`. */
  touchedAttribute?: string
  /**
   * The expiry index the reaper queries instead of scanning the table: every session write sets the row's bucket
   * (and, once, its shard), even before the index exists. `false` writes neither. Defaults to `{}`.
   */
  expiryIndex?: ExpiryIndexOptions | false
  /**
   * The owner index behind `session.setOwner()`, `fastify.sessionStore.listByOwner()` and `destroyByOwner()`
   * (docs/sessions-of-a-user.md): sessions with an owner carry it in this attribute; `false` turns the feature off
   * (those methods then throw FST_DYNAMO_SESSION_NO_OWNER_INDEX). Defaults to `{}`.
   */
  ownerIndex?: OwnerIndexOptions | false
  /** Idle lifetime of a session in seconds. Defaults to `300`. */
  ttlSeconds?: number
  /**
   * A read-only request refreshes the expiry only when this many seconds have passed since the last refresh. Defaults to
   * `ttlSeconds / 5` rounded down.
   */
  touchAfterSeconds?: number
  /** Hard cap on a session's life from its creation, in seconds. Defaults to none. */
  absoluteTimeoutSeconds?: number
  /**
   * Seconds the old id stays a tombstone after `regenerate()`: requests still carrying it get an empty session and no
   * `Set-Cookie`, so they cannot undo the login's cookie. Defaults to `60`.
   */
  tombstoneSeconds?: number
  /**
   * `'on-miss'`: eventually consistent read, re-read strongly before declaring a signed id absent; `'always'`; `'never'`.
   * Defaults to `'on-miss'`.
   */
  consistentRead?: ConsistentRead
  /**
   * `'fail'`: 503 with a coded error when DynamoDB fails on load; `'anonymous'`: continue with an empty session that is
   * never saved. Defaults to `'fail'`.
   */
  onStoreError?: OnStoreError
  /** Cookie settings. */
  cookie?: SessionCookieOptions
  /**
   * How the session and reaper calls reach DynamoDB: `'fast'`, a lean pipeline driven by the client's own
   * configuration (no per-call middleware); `'sdk'`, `client.send()`; `'auto'`, `'fast'` for a stock client only
   * (no added middleware, stock request handler, unwrapped `send`). Defaults to `'auto'`.
   */
  transport?: TransportMode
  /** Whole-request timeout of the default client, per attempt, in milliseconds (ignored when `client` is given). Defaults to `1000`. */
  requestTimeoutMs?: number
  /**
   * Create the table (on-demand, TTL on, with its indexes) at startup when missing, never changing one: `'auto'` only
   * when the client sends to a loopback endpoint (dynalite, `dynamo-session local`), `true` on any endpoint, `false`
   * never. Defaults to `'auto'`.
   */
  createTable?: CreateTableMode
  /**
   * Check the table once at startup with DescribeTable (after `createTable`): a missing table or missing credentials
   * fail startup with a coded error saying what to do, an unreachable DynamoDB too with `onStoreError: 'fail'`, a
   * missing configured index is logged; a role without `dynamodb:DescribeTable` gets one warning. Defaults to `true`.
   */
  verifyTable?: boolean
  /** The clock, in milliseconds since the epoch (inject one in tests). Defaults to `Date.now`. */
  now?: () => number
  /** The reaper, which deletes expired sessions ahead of DynamoDB's TTL, or `false` for none. Defaults to `{}` (every minute). */
  reaper?: ReaperOptions | false
  /** Prometheus metrics, or `false` for none. Defaults to `{}` (a new Registry served at `/metrics`). */
  metrics?: MetricsOptions | false
}

export interface ResolvedCookieOptions {
  /** The name on http requests. */
  readonly name: string
  /** The name on https requests. */
  readonly httpsName: string
  /** The older name and the epoch millisecond from which it is ignored. */
  readonly legacyName: { readonly name: string, readonly until: number } | undefined
  readonly path: string
  readonly domain: string | undefined
  readonly httpOnly: boolean
  readonly sameSite: SameSite
  readonly secure: boolean | 'auto'
  readonly partitioned: boolean
}

export interface ExpiryIndexShape {
  readonly indexName: string
  readonly attribute: string
  readonly shardAttribute: string
  readonly shards: number
  readonly bucketSeconds: number
}

export interface OwnerIndexShape {
  readonly indexName: string
  readonly attribute: string
  readonly labelAttribute: string
}

export interface TableShape {
  readonly tableName: string
  readonly idAttribute: string
  readonly expiresAttribute: string
  readonly dataAttribute: string
  readonly createdAttribute: string
  readonly touchedAttribute: string
  /** False: sessions carry no bucket and the reaper scans. */
  readonly expiryIndex: ExpiryIndexShape | false
  /** False: no owners, no labels. */
  readonly ownerIndex: OwnerIndexShape | false
}

export interface ResolvedReaperOptions {
  readonly schedule: string | false
  readonly strategy: ReaperStrategyChoice
  readonly segments: number
  readonly graceSeconds: number
  readonly maxReadUnitsPerSecond: number
  readonly maxWriteUnitsPerSecond: number
  readonly leaseSeconds: number
  readonly backfillReadUnitsPerSecond: number
  readonly backfillIntervalSeconds: number
  readonly leases: number
  /** Undefined: derived from the schedule by the reaper. */
  readonly maxPassSeconds: number | undefined
}

export interface ResolvedMetricsOptions {
  /** Undefined: the plugin creates one. */
  readonly registry: Registry | undefined
  readonly route: string | false
  /** Undefined: the route is on the app. */
  readonly port: number | undefined
  readonly host: string
}

export interface ResolvedOptions extends TableShape {
  readonly secrets: readonly string[]
  readonly client: DynamoDBClient | undefined
  readonly ttlSeconds: number
  readonly touchAfterSeconds: number
  readonly absoluteTimeoutSeconds: number | undefined
  readonly tombstoneSeconds: number
  readonly consistentRead: ConsistentRead
  readonly onStoreError: OnStoreError
  readonly cookie: ResolvedCookieOptions
  readonly requestTimeoutMs: number
  readonly transport: TransportMode
  readonly createTable: CreateTableMode
  readonly verifyTable: boolean
  readonly now: () => number
  readonly reaper: ResolvedReaperOptions | false
  readonly metrics: ResolvedMetricsOptions | false
}

const TOP_LEVEL_KEYS = [
  'secret', 'client', 'tableName', 'idAttribute', 'expiresAttribute', 'dataAttribute', 'createdAttribute',
  'touchedAttribute', 'expiryIndex', 'ownerIndex', 'ttlSeconds', 'touchAfterSeconds', 'absoluteTimeoutSeconds', 'tombstoneSeconds',
  'consistentRead',
  'onStoreError', 'cookie', 'requestTimeoutMs', 'transport', 'createTable', 'verifyTable', 'now', 'reaper', 'metrics'
] as const
const COOKIE_KEYS = ['name', 'path', 'domain', 'httpOnly', 'sameSite', 'secure', 'partitioned', 'legacyName'] as const
const LEGACY_NAME_KEYS = ['name', 'until'] as const
const REAPER_KEYS = [
  'schedule',
  'strategy',
  'segments',
  'graceSeconds',
  'maxReadUnitsPerSecond',
  'maxWriteUnitsPerSecond',
  'leaseSeconds',
  'backfillReadUnitsPerSecond',
  'backfillIntervalSeconds',
  'leases',
  'maxPassSeconds'
] as const
const METRICS_KEYS = ['registry', 'route', 'port', 'host'] as const
const EXPIRY_INDEX_KEYS = ['indexName', 'attribute', 'shardAttribute', 'shards', 'bucketSeconds'] as const
const OWNER_INDEX_KEYS = ['indexName', 'attribute', 'labelAttribute'] as const

// RFC 6265 cookie-name token characters.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const COOKIE_PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/
// A date, or a date and time with its offset: never a local time.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/
const COOKIE_DOMAIN = /^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/
// Plugin options Fastify itself passes through to every plugin.
const FASTIFY_PASSTHROUGH = new Set(['prefix', 'logLevel', 'logSerializers'])

/** A short, safe description of a received value for error messages. */
export function describe (value: unknown): string {
  if (value === undefined) return 'undefined'
  if (value === null) return 'null'
  if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}'`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

function fail (name: string, expected: string, value: unknown): never {
  throw new InvalidOptionError(name, expected, describe(value))
}

function rejectUnknown (obj: object, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key) && !(prefix === '' && FASTIFY_PASSTHROUGH.has(key))) {
      throw new UnknownOptionError(prefix + key, known.join(', '))
    }
  }
}

function str (name: string, value: unknown, fallback: string, pattern?: RegExp, what = 'a non-empty string'): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value.length === 0 || (pattern !== undefined && !pattern.test(value))) {
    fail(name, what, value)
  }
  return value
}

function int (name: string, value: unknown, fallback: number, min: number): number
function int (name: string, value: unknown, fallback: undefined, min: number): number | undefined
function int (name: string, value: unknown, fallback: number | undefined, min: number): number | undefined {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(name, min === 0 ? 'a non-negative integer' : 'a positive integer', value)
  }
  return value
}

function bool (name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(name, 'a boolean', value)
  return value
}

function createTableMode (value: unknown): CreateTableMode {
  if (value === undefined) return DEFAULT_CREATE_TABLE
  if (value !== 'auto' && typeof value !== 'boolean') fail('createTable', "'auto', true or false", value)
  return value
}

function oneOf<T extends string> (name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(name, allowed.map((a) => `'${a}'`).join(' or '), value)
  }
  return value as T
}

function resolveSecrets (value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : value
  if (list === undefined) throw new InvalidSecretError('it is required')
  if (!Array.isArray(list) || list.length === 0) {
    const got = Array.isArray(list) ? 'an empty array' : typeof list
    throw new InvalidSecretError(`expected a string or a non-empty array of strings, got ${got}`)
  }
  list.forEach((s: unknown, i: number) => {
    if (typeof s !== 'string') throw new InvalidSecretError(`entry ${i} is a ${typeof s}, expected a string`)
    if (s.length < MIN_SECRET_LENGTH) {
      throw new InvalidSecretError(`entry ${i} has ${s.length} characters, at least ${MIN_SECRET_LENGTH} are required`)
    }
  })
  return [...list] as string[]
}

function resolveCookie (value: unknown): ResolvedCookieOptions {
  if (value === undefined) value = {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('cookie', 'an object', value)
  rejectUnknown(value, COOKIE_KEYS, 'cookie.')
  const c = value as Record<string, unknown>
  const name = str('cookie.name', c.name, DEFAULT_COOKIE_NAME, COOKIE_NAME, 'a cookie-name token')
  const path = str('cookie.path', c.path, DEFAULT_COOKIE_PATH, COOKIE_PATH, "a path starting with '/'")
  const domain = c.domain === undefined ? undefined : str('cookie.domain', c.domain, '', COOKIE_DOMAIN, 'a domain name')
  const httpOnly = bool('cookie.httpOnly', c.httpOnly, DEFAULT_HTTP_ONLY)
  const sameSite = oneOf('cookie.sameSite', c.sameSite, SAME_SITE_VALUES, DEFAULT_SAME_SITE)
  let secure: boolean | 'auto' = DEFAULT_SECURE
  if (c.secure !== undefined) {
    if (c.secure !== 'auto' && typeof c.secure !== 'boolean') fail('cookie.secure', "true, false or 'auto'", c.secure)
    secure = c.secure
  }
  const partitioned = bool('cookie.partitioned', c.partitioned, DEFAULT_PARTITIONED)
  const hostPrefix = name.startsWith('__Host-')
  if (hostPrefix || name.startsWith('__Secure-')) {
    // Browsers drop prefixed cookies that are not Secure, so the prefix decides.
    if (secure === false) fail('cookie.secure', `true or 'auto' for a cookie named ${name.slice(0, name.indexOf('-') + 1)}…`, false)
    secure = true
  }
  if (hostPrefix && domain !== undefined) fail('cookie.domain', 'no domain for a __Host- cookie', domain)
  if (hostPrefix && path !== '/') fail('cookie.path', "'/' for a __Host- cookie", path)
  if (sameSite === 'none' && secure === false) fail('cookie.secure', "true or 'auto' with sameSite 'none'", false)
  if (partitioned && secure === false) fail('cookie.secure', "true or 'auto' with partitioned", false)
  // The default name takes the __Host- prefix wherever the browser would accept it.
  const hostable = c.name === undefined && domain === undefined && path === '/' && secure !== false
  const httpsName = hostable ? DEFAULT_HTTPS_COOKIE_NAME : name
  const legacyName = resolveLegacyName(c.legacyName, httpsName)
  return Object.freeze({ name, httpsName, legacyName, path, domain, httpOnly, sameSite, secure, partitioned })
}

/** An ISO 8601 date (with a time, an offset too) naming a real calendar day: Date.parse takes '2027-02-30' as 2 March. */
function isIsoDate (text: string): boolean {
  if (!ISO_DATE.test(text)) return false
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number]
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

function resolveLegacyName (value: unknown, httpsName: string): ResolvedCookieOptions['legacyName'] {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('cookie.legacyName', 'an object { name, until }', value)
  rejectUnknown(value, LEGACY_NAME_KEYS, 'cookie.legacyName.')
  const l = value as Record<string, unknown>
  if (l.name === undefined) fail('cookie.legacyName.name', 'a cookie-name token', undefined)
  const name = str('cookie.legacyName.name', l.name, '', COOKIE_NAME, 'a cookie-name token')
  if (name === httpsName) fail('cookie.legacyName.name', `a name other than the cookie's own (${httpsName})`, name)
  const until = l.until instanceof Date ? l.until.getTime() : typeof l.until === 'string' && isIsoDate(l.until) ? Date.parse(l.until) : NaN
  if (!Number.isFinite(until)) fail('cookie.legacyName.until', "a Date or an ISO 8601 date such as '2027-06-30'", l.until)
  return Object.freeze({ name, until })
}

function positiveNumber (name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(name, 'a positive number', value)
  return value
}

function section (name: string, value: unknown, keys: readonly string[]): Record<string, unknown> | false {
  if (value === false) return false
  if (value === undefined) value = {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(name, 'an object or false', value)
  rejectUnknown(value, keys, name + '.')
  return value as Record<string, unknown>
}

/** Validates, then defaults, the `reaper` option as resolveOptions() does (also used by the CLI's reaper flags). */
export function resolveReaperOptions (value: unknown): ResolvedReaperOptions | false {
  const r = section('reaper', value, REAPER_KEYS)
  if (r === false) return false
  let schedule: string | false = DEFAULT_REAPER_SCHEDULE
  if (r.schedule !== undefined) {
    if (r.schedule !== false && (typeof r.schedule !== 'string' || !validateCron(r.schedule))) {
      fail('reaper.schedule', 'a cron expression (e.g. \'* * * * *\') or false', r.schedule)
    }
    schedule = r.schedule
  }
  const segments = int('reaper.segments', r.segments, DEFAULT_REAPER_SEGMENTS, MIN_REAPER_SEGMENTS)
  if (segments > MAX_REAPER_SEGMENTS) fail('reaper.segments', `an integer from ${MIN_REAPER_SEGMENTS} to ${MAX_REAPER_SEGMENTS}`, segments)
  const strategy = oneOf('reaper.strategy', r.strategy, REAPER_STRATEGY_CHOICES, DEFAULT_REAPER_STRATEGY)
  const leases = int('reaper.leases', r.leases, DEFAULT_REAPER_LEASES, MIN_REAPER_LEASES)
  if (leases > MAX_REAPER_LEASES) fail('reaper.leases', `an integer from ${MIN_REAPER_LEASES} to ${MAX_REAPER_LEASES}`, leases)
  if (strategy === 'scan' && leases > segments) fail('reaper.leases', `at most reaper.segments (${segments}) with strategy 'scan'`, leases)
  return Object.freeze({
    schedule,
    strategy,
    segments,
    graceSeconds: int('reaper.graceSeconds', r.graceSeconds, DEFAULT_REAPER_GRACE_SECONDS, MIN_REAPER_GRACE_SECONDS),
    maxReadUnitsPerSecond: positiveNumber(
      'reaper.maxReadUnitsPerSecond',
      r.maxReadUnitsPerSecond,
      DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND
    ),
    maxWriteUnitsPerSecond: positiveNumber(
      'reaper.maxWriteUnitsPerSecond',
      r.maxWriteUnitsPerSecond,
      DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND
    ),
    leaseSeconds: int('reaper.leaseSeconds', r.leaseSeconds, DEFAULT_REAPER_LEASE_SECONDS, MIN_REAPER_LEASE_SECONDS),
    backfillReadUnitsPerSecond: positiveNumber(
      'reaper.backfillReadUnitsPerSecond',
      r.backfillReadUnitsPerSecond,
      DEFAULT_REAPER_BACKFILL_READ_UNITS_PER_SECOND
    ),
    backfillIntervalSeconds: int('reaper.backfillIntervalSeconds', r.backfillIntervalSeconds, DEFAULT_REAPER_BACKFILL_INTERVAL_SECONDS, 1),
    leases,
    maxPassSeconds: int('reaper.maxPassSeconds', r.maxPassSeconds, undefined, MIN_REAPER_MAX_PASS_SECONDS)
  })
}

/** reaper.maxPassSeconds's default for a schedule whose shortest period is `intervalSeconds` (0: no schedule). */
export function defaultMaxPassSeconds (intervalSeconds: number): number {
  if (intervalSeconds <= 0) return DEFAULT_REAPER_UNSCHEDULED_PASS_SECONDS
  return Math.max(MIN_REAPER_MAX_PASS_SECONDS, Math.floor(intervalSeconds * DEFAULT_REAPER_PASS_SHARE))
}

function isRegistry (value: unknown): value is Registry {
  // Duck-typed: the application may use another copy of prom-client.
  const r = value as Partial<Record<'registerMetric' | 'metrics' | 'getSingleMetric', unknown>> | null
  return typeof r === 'object' && r !== null && typeof r.registerMetric === 'function' && typeof r.metrics === 'function' &&
    typeof r.getSingleMetric === 'function'
}

function resolveMetrics (value: unknown): ResolvedMetricsOptions | false {
  const m = section('metrics', value, METRICS_KEYS)
  if (m === false) return false
  if (m.registry !== undefined && !isRegistry(m.registry)) fail('metrics.registry', 'a prom-client Registry', m.registry)
  let route: string | false = DEFAULT_METRICS_ROUTE
  if (m.route !== undefined) {
    if (m.route !== false && (typeof m.route !== 'string' || !m.route.startsWith('/'))) {
      fail('metrics.route', "a path starting with '/' or false", m.route)
    }
    route = m.route
  }
  const port = int('metrics.port', m.port, undefined, 0)
  if (port !== undefined && port > MAX_PORT) fail('metrics.port', `an integer from 0 to ${MAX_PORT}`, port)
  const host = str('metrics.host', m.host, DEFAULT_METRICS_HOST)
  if (port === undefined && m.host !== undefined) fail('metrics.host', 'metrics.port to be set as well', m.host)
  if (port !== undefined && route === false) fail('metrics.route', 'a path when metrics.port is set', route)
  return Object.freeze({ registry: m.registry as Registry | undefined, route, port, host })
}

type TableShapeInput = { readonly [K in keyof TableShape]?: unknown }

const TABLE_NAME_TEXT = '3 to 255 characters of A-Z a-z 0-9 _ . -'

/** Validates, then defaults, the `expiryIndex` option (its attribute names are checked with the table's). */
export function resolveExpiryIndex (value: unknown): ExpiryIndexShape | false {
  const x = section('expiryIndex', value, EXPIRY_INDEX_KEYS)
  if (x === false) return false
  const shards = int('expiryIndex.shards', x.shards, DEFAULT_EXPIRY_INDEX_SHARDS, MIN_EXPIRY_INDEX_SHARDS)
  if (shards > MAX_EXPIRY_INDEX_SHARDS) {
    fail('expiryIndex.shards', `an integer from ${MIN_EXPIRY_INDEX_SHARDS} to ${MAX_EXPIRY_INDEX_SHARDS}`, shards)
  }
  return Object.freeze({
    indexName: str('expiryIndex.indexName', x.indexName, DEFAULT_EXPIRY_INDEX_NAME, TABLE_NAME, TABLE_NAME_TEXT),
    attribute: str('expiryIndex.attribute', x.attribute, DEFAULT_BUCKET_ATTRIBUTE),
    shardAttribute: str('expiryIndex.shardAttribute', x.shardAttribute, DEFAULT_SHARD_ATTRIBUTE),
    shards,
    bucketSeconds: int('expiryIndex.bucketSeconds', x.bucketSeconds, DEFAULT_BUCKET_SECONDS, MIN_BUCKET_SECONDS)
  })
}

/** Validates, then defaults, the `ownerIndex` option (its attribute names are checked with the table's). */
export function resolveOwnerIndex (value: unknown): OwnerIndexShape | false {
  const x = section('ownerIndex', value, OWNER_INDEX_KEYS)
  if (x === false) return false
  return Object.freeze({
    indexName: str('ownerIndex.indexName', x.indexName, DEFAULT_OWNER_INDEX_NAME, TABLE_NAME, TABLE_NAME_TEXT),
    attribute: str('ownerIndex.attribute', x.attribute, DEFAULT_OWNER_ATTRIBUTE),
    labelAttribute: str('ownerIndex.labelAttribute', x.labelAttribute, DEFAULT_LABEL_ATTRIBUTE)
  })
}

/**
 * Validates, then defaults, the table name and attribute names as resolveOptions() does (also used by the CLI's
 * table flags). Other keys of `input` are ignored.
 */
export function resolveTableShape (input: TableShapeInput): TableShape {
  const tableName = str('tableName', input.tableName, DEFAULT_TABLE_NAME, TABLE_NAME, TABLE_NAME_TEXT)
  const attributes = {
    idAttribute: str('idAttribute', input.idAttribute, DEFAULT_ID_ATTRIBUTE),
    expiresAttribute: str('expiresAttribute', input.expiresAttribute, DEFAULT_EXPIRES_ATTRIBUTE),
    dataAttribute: str('dataAttribute', input.dataAttribute, DEFAULT_DATA_ATTRIBUTE),
    createdAttribute: str('createdAttribute', input.createdAttribute, DEFAULT_CREATED_ATTRIBUTE),
    touchedAttribute: str('touchedAttribute', input.touchedAttribute, DEFAULT_TOUCHED_ATTRIBUTE)
  }
  // The tombstone's marker is reserved: a session attribute of that name would make every row a tombstone.
  const seen = new Map<string, string>([[TOMBSTONE_ATTRIBUTE, 'the tombstone marker']])
  const expiryIndex = resolveExpiryIndex(input.expiryIndex)
  const indexAttributes = expiryIndex === false
    ? {}
    : { 'expiryIndex.attribute': expiryIndex.attribute, 'expiryIndex.shardAttribute': expiryIndex.shardAttribute }
  const ownerIndex = resolveOwnerIndex(input.ownerIndex)
  const ownerAttributes = ownerIndex === false
    ? {}
    : { 'ownerIndex.attribute': ownerIndex.attribute, 'ownerIndex.labelAttribute': ownerIndex.labelAttribute }
  for (const [key, attr] of Object.entries({ ...attributes, ...indexAttributes, ...ownerAttributes })) {
    const other = seen.get(attr)
    if (other !== undefined) fail(key, `an attribute name different from ${other}`, attr)
    seen.set(attr, key)
  }
  if (ownerIndex !== false && expiryIndex !== false && ownerIndex.indexName === expiryIndex.indexName) {
    fail('ownerIndex.indexName', 'an index name different from expiryIndex.indexName', ownerIndex.indexName)
  }
  return Object.freeze({ tableName, ...attributes, expiryIndex, ownerIndex })
}

/** Validates user options, then applies defaults, once. Throws a coded error on the first problem. */
export function resolveOptions (input: unknown): ResolvedOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('options', 'an object', input)
  rejectUnknown(input, TOP_LEVEL_KEYS, '')
  const o = input as Record<string, unknown>

  const secrets = resolveSecrets(o.secret)
  if (o.client !== undefined && !(o.client instanceof DynamoDBClient)) fail('client', 'a DynamoDBClient', o.client)
  if (o.now !== undefined && typeof o.now !== 'function') fail('now', 'a function returning milliseconds', o.now)
  const shape = resolveTableShape(o)
  const ttlSeconds = int('ttlSeconds', o.ttlSeconds, DEFAULT_TTL_SECONDS, 1)
  const touchAfterSeconds = int('touchAfterSeconds', o.touchAfterSeconds, Math.floor(ttlSeconds / DEFAULT_TOUCH_FRACTION), 0)
  if (touchAfterSeconds >= ttlSeconds) fail('touchAfterSeconds', `an integer below ttlSeconds (${ttlSeconds})`, touchAfterSeconds)
  const absoluteTimeoutSeconds = int('absoluteTimeoutSeconds', o.absoluteTimeoutSeconds, undefined, 1)
  const reaper = resolveReaperOptions(o.reaper)
  if (reaper !== false && reaper.strategy === 'index' && shape.expiryIndex === false) {
    fail('reaper.strategy', "'auto' or 'scan' with expiryIndex: false", reaper.strategy)
  }
  if (reaper !== false && reaper.strategy === 'index' && shape.expiryIndex !== false && reaper.leases > shape.expiryIndex.shards) {
    fail('reaper.leases', `at most expiryIndex.shards (${shape.expiryIndex.shards}) with strategy 'index'`, reaper.leases)
  }

  return Object.freeze({
    secrets: Object.freeze(secrets),
    client: o.client as DynamoDBClient | undefined,
    ...shape,
    ttlSeconds,
    touchAfterSeconds,
    absoluteTimeoutSeconds,
    tombstoneSeconds: int('tombstoneSeconds', o.tombstoneSeconds, DEFAULT_TOMBSTONE_SECONDS, 1),
    consistentRead: oneOf('consistentRead', o.consistentRead, CONSISTENT_READ_MODES, DEFAULT_CONSISTENT_READ),
    onStoreError: oneOf('onStoreError', o.onStoreError, ON_STORE_ERROR_MODES, DEFAULT_ON_STORE_ERROR),
    cookie: resolveCookie(o.cookie),
    requestTimeoutMs: int('requestTimeoutMs', o.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 1),
    transport: oneOf('transport', o.transport, TRANSPORT_MODES, DEFAULT_TRANSPORT),
    createTable: createTableMode(o.createTable),
    verifyTable: bool('verifyTable', o.verifyTable, DEFAULT_VERIFY_TABLE),
    now: (o.now as (() => number) | undefined) ?? Date.now,
    reaper,
    metrics: resolveMetrics(o.metrics)
  })
}
