import { createHash } from 'node:crypto'
import { NotSerializableError, SessionTooLargeError } from '../errors.js'
import { DEFAULT_TOUCH_FRACTION, type TableShape } from '../options.js'
import { cloneJson, setOwn, validateKey, type JsonValue, type SessionRecord } from '../store/json.js'
import { MAX_ITEM_BYTES, entrySize, itemOverhead } from '../store/marshal.js'

/*
 * Pure: what the store adapter writes of a session object, and what it compares. A session object is stored as its
 * JSON form (Dates become ISO strings, the cookie its toJSON()), one data-map entry per top-level key, so that the
 * plugin's per-key writes apply. The cookie's `expires` (and `originalExpires`) move on every request of a rolling
 * session: they are left out of the comparison, the row's expiry attribute holds them, and `get` puts it back.
 */

/** The cookie fields that follow the expiry: not compared, restored from the row by `get`. */
const EXPIRY_FIELDS = ['expires', 'originalExpires'] as const

function isRecord (value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The session object's JSON form, checked as the plugin checks values and sized against DynamoDB's item limit. */
export function sessionRecord (shape: TableShape, id: string, session: unknown, owner?: string): SessionRecord {
  let parsed: unknown
  try {
    const text = JSON.stringify(session) as string | undefined
    parsed = text === undefined ? undefined : JSON.parse(text)
  } catch (err) {
    throw new NotSerializableError('session', `JSON.stringify failed (${(err as Error).name})`)
  }
  if (!isRecord(parsed)) throw new NotSerializableError('session', 'the session is not an object')
  const record: SessionRecord = {}
  let size = itemOverhead(shape, id, { owner })
  for (const [key, value] of Object.entries(parsed)) {
    const checked = cloneJson(validateKey(key), value)
    size += entrySize(key, checked)
    setOwn(record, key, checked)
  }
  if (size > MAX_ITEM_BYTES) throw new SessionTooLargeError(size, MAX_ITEM_BYTES)
  return record
}

/** The expiry (epoch seconds) the session's cookie asks for, rounded up; `nowSec + ttlSeconds` when it sets none. */
export function cookieExpiry (record: SessionRecord, nowSec: number, ttlSeconds: number): number {
  const cookie = record.cookie
  const expires = isRecord(cookie) && typeof cookie.expires === 'string' ? Date.parse(cookie.expires) : Number.NaN
  return Number.isFinite(expires) ? Math.ceil(expires / 1000) : nowSec + ttlSeconds
}

/** cookieExpiry of a session object, reading only its cookie (`touch` needs nothing else). */
export function sessionExpiry (session: unknown, nowSec: number, ttlSeconds: number): number {
  const cookie = typeof session === 'object' && session !== null ? (session as { cookie?: unknown }).cookie : undefined
  const text = JSON.stringify(cookie) as string | undefined
  const parsed: unknown = text === undefined ? undefined : JSON.parse(text)
  return cookieExpiry(isRecord(parsed) ? { cookie: parsed } : {}, nowSec, ttlSeconds)
}

/** A value as compared: object keys sorted (DynamoDB returns map entries in any order), the cookie's expiry left out. */
export function canonical (key: string, value: JsonValue): string {
  const sorted = (v: JsonValue): JsonValue => {
    if (Array.isArray(v)) return v.map(sorted)
    if (!isRecord(v)) return v
    const out: Record<string, JsonValue> = {}
    for (const k of Object.keys(v).sort()) setOwn(out, k, sorted(v[k] as JsonValue))
    return out
  }
  if (key === 'cookie' && isRecord(value)) {
    const rest = { ...value }
    for (const field of EXPIRY_FIELDS) delete rest[field]
    return JSON.stringify(sorted(rest))
  }
  return JSON.stringify(sorted(value))
}

/** The session object `get` hands back: the stored form, with a set `cookie.expires` replaced by the row's expiry. */
export function sessionObject (data: SessionRecord, expiresAt: number): SessionRecord {
  const cookie = data.cookie
  if (!isRecord(cookie) || cookie.expires === null || cookie.expires === undefined) return data
  const expires = new Date(expiresAt * 1000).toISOString()
  const restored: Record<string, JsonValue> = { ...cookie, expires }
  if (cookie.originalExpires !== undefined && cookie.originalExpires !== null) restored.originalExpires = expires
  return { ...data, cookie: restored }
}

/** What a write at this point knows of the row: its entries' fingerprints, its expiry, whether it has the data map. */
export interface Baseline {
  readonly entries: ReadonlyMap<string, string>
  readonly expiresAt: number
  readonly hasDataMap: boolean
  /** The owner the row has (written by `ownerOf`, or by the plugin's `setOwner()`), if any. */
  readonly owner?: string | undefined
}

/** What a baseline keeps of a value: a digest of its canonical form, so a cached session costs bytes, not its size. */
function fingerprint (key: string, value: JsonValue): string {
  return createHash('sha256').update(canonical(key, value)).digest('base64')
}

export function baselineOf (data: SessionRecord, expiresAt: number, hasDataMap = true, owner?: string): Baseline {
  return { entries: new Map(Object.entries(data).map(([k, v]) => [k, fingerprint(k, v)])), expiresAt, hasDataMap, owner }
}

/** The per-key changes from `baseline` to `record`: a value to set, or undefined to remove. */
export function changesSince (baseline: Baseline, record: SessionRecord): Map<string, JsonValue | undefined> {
  const changes = new Map<string, JsonValue | undefined>()
  for (const [key, value] of Object.entries(record)) {
    if (baseline.entries.get(key) !== fingerprint(key, value)) changes.set(key, value)
  }
  for (const key of baseline.entries.keys()) if (!Object.hasOwn(record, key)) changes.set(key, undefined)
  return changes
}

/**
 * Whether an expiry-only write is worth sending: the expiry moves back, or forward by at least `touchAfterSeconds`
 * or a fifth of the lifetime it sets, whichever is less (a short session is refreshed often enough to stay alive).
 */
export function expiryNeedsWrite (storedExpiry: number, expiresAt: number, nowSec: number, touchAfterSeconds: number): boolean {
  const moved = expiresAt - storedExpiry
  const threshold = Math.min(touchAfterSeconds, Math.floor((expiresAt - nowSec) / DEFAULT_TOUCH_FRACTION))
  return moved < 0 || moved >= threshold
}

/** The last-known state per session id, least recently used dropped first. */
export class RecentSessions {
  readonly #entries = new Map<string, Baseline>()
  readonly #max: number

  constructor (max: number) {
    this.#max = max
  }

  get (id: string): Baseline | undefined {
    const entry = this.#entries.get(id)
    if (entry !== undefined) {
      this.#entries.delete(id)
      this.#entries.set(id, entry)
    }
    return entry
  }

  set (id: string, baseline: Baseline): void {
    this.#entries.delete(id)
    this.#entries.set(id, baseline)
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string)
  }

  delete (id: string): void {
    this.#entries.delete(id)
  }

  get size (): number {
    return this.#entries.size
  }
}
