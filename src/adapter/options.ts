import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { InvalidOptionError, UnknownOptionError } from '../errors.js'
import {
  DEFAULT_REQUEST_TIMEOUT_MS, describe, resolveTableShape, type DynamoSessionOptions, type TableShape
} from '../options.js'

/** Lifetime of a session whose cookie has no expiry (a browser-session cookie): one day, as connect-dynamodb's. */
export const DEFAULT_STORE_TTL_SECONDS = 86_400
/** An unchanged session's expiry is rewritten only when it moves by at least this (or a fifth of its lifetime, if less). */
export const DEFAULT_STORE_TOUCH_AFTER_SECONDS = 60
/** Sessions whose last-read state the store keeps per process, to write only what a request changed. */
export const DEFAULT_STORE_MAX_CACHED_SESSIONS = 10_000

/** The table options shared with the plugin, with the same meaning and defaults (see its options table). */
type SharedOptions = 'client' | 'tableName' | 'idAttribute' | 'expiresAttribute' | 'dataAttribute' | 'createdAttribute' |
  'touchedAttribute' | 'expiryIndex' | 'ownerIndex' | 'now'

/**
 * The options of `DynamoSessionStore` and of the class `connectDynamoSession()` returns: the plugin's table options
 * (the data map holds the session object's JSON form, one entry per top-level key), and these.
 */
export interface DynamoSessionStoreOptions extends Pick<DynamoSessionOptions, SharedOptions> {
  /** Lifetime in seconds of a session whose `cookie.expires` is not set. Defaults to `86400`. */
  ttlSeconds?: number
  /**
   * A `set` or `touch` that changes nothing but the expiry writes only when the expiry moves by at least this many
   * seconds, or a fifth of the session's lifetime when that is less. Defaults to `60`.
   */
  touchAfterSeconds?: number
  /** How many sessions' last-read state this process keeps (least recently used dropped first). Defaults to `10000`. */
  maxCachedSessions?: number
  /**
   * The owner of a session (see docs/sessions-of-a-user.md), from the session object `set` receives, e.g.
   * `(session) => session.userId`: written to the owner attribute when it first appears or changes, so the plugin's
   * `listByOwner`/`destroyByOwner` find the store's sessions too. `undefined` writes nothing. Defaults to none.
   */
  // The session object is the application's own type (@fastify/session's or express-session's, augmented).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ownerOf?: (session: any) => string | undefined
}

export interface ResolvedStoreOptions {
  readonly client: DynamoDBClient | undefined
  readonly shape: TableShape
  readonly ttlSeconds: number
  readonly touchAfterSeconds: number
  readonly maxCachedSessions: number
  readonly now: () => number
  readonly requestTimeoutMs: number
  readonly ownerOf: ((session: unknown) => string | undefined) | undefined
}

export const STORE_OPTION_KEYS = [
  'client', 'tableName', 'idAttribute', 'expiresAttribute', 'dataAttribute', 'createdAttribute', 'touchedAttribute',
  'expiryIndex', 'ownerIndex', 'ttlSeconds', 'touchAfterSeconds', 'maxCachedSessions', 'ownerOf', 'now'
] as const

function integer (name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidOptionError(name, `an integer of at least ${min}`, describe(value))
  }
  return value
}

/** Validates, then defaults, the store's options (the table shape exactly as the plugin's). */
export function resolveStoreOptions (input: unknown): ResolvedStoreOptions {
  const o = (input ?? {}) as Record<string, unknown>
  if (typeof o !== 'object' || Array.isArray(o)) throw new InvalidOptionError('options', 'an object', describe(input))
  for (const key of Object.keys(o)) {
    if (!(STORE_OPTION_KEYS as readonly string[]).includes(key)) throw new UnknownOptionError(key, STORE_OPTION_KEYS.join(', '))
  }
  if (o.client !== undefined && !(o.client instanceof DynamoDBClient)) {
    throw new InvalidOptionError('client', 'a DynamoDBClient', describe(o.client))
  }
  if (o.ownerOf !== undefined && typeof o.ownerOf !== 'function') {
    throw new InvalidOptionError('ownerOf', 'a function of the session returning its owner id or undefined', describe(o.ownerOf))
  }
  if (o.now !== undefined && typeof o.now !== 'function') {
    throw new InvalidOptionError('now', 'a function returning milliseconds', describe(o.now))
  }
  return Object.freeze({
    client: o.client as DynamoDBClient | undefined,
    shape: resolveTableShape(o),
    ttlSeconds: integer('ttlSeconds', o.ttlSeconds, DEFAULT_STORE_TTL_SECONDS, 1),
    touchAfterSeconds: integer('touchAfterSeconds', o.touchAfterSeconds, DEFAULT_STORE_TOUCH_AFTER_SECONDS, 0),
    maxCachedSessions: integer('maxCachedSessions', o.maxCachedSessions, DEFAULT_STORE_MAX_CACHED_SESSIONS, 1),
    now: (o.now as (() => number) | undefined) ?? Date.now,
    requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
    ownerOf: o.ownerOf as ((session: unknown) => string | undefined) | undefined
  })
}
