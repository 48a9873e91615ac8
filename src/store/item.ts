import { randomBytes } from 'node:crypto'
import type {
  AttributeValue, DeleteItemCommandInput, GetItemCommandInput, PutItemCommandInput, UpdateItemCommandInput
} from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { InvalidKeyError, NotSerializableError } from '../errors.js'
import { NOT_TOMBSTONE, TOMBSTONE_NAMES, isTombstoneItem } from './tombstone.js'

/** A JSON value as stored in the session's data map. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }
export type SessionRecord = Record<string, JsonValue>

/** DynamoDB's item size limit (400 KB). */
export const MAX_ITEM_BYTES = 400 * 1024
/** Longest accepted session key. */
export const MAX_KEY_LENGTH = 255
// DynamoDB allows 32 levels of nesting; the data map itself is one.
const MAX_DEPTH = 30
// DynamoDB numbers: magnitude from 1e-130 up to, not including, 1e126 (9.999999999999999e125 is 1e126 as a double).
const NUMBER_LIMIT = 1e126
const MIN_NUMBER = 1e-130
// Session ids: 24 random bytes, base64url, 192 bits.
const ID_BYTES = 24
// What a cookie may name: ours (32 characters) and other software's (UUIDs and the like), never an internal row.
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{16,128}$/

/** Sets an own property, even for keys such as `__proto__`, which an assignment would take as a prototype change. */
export function setOwn<T> (record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true })
}

/** The reaper's lease item's id. No cookie can name it ('#' is outside SESSION_ID_PATTERN). */
export const LEASE_ID = '#reaper-lease'

// The library's own rows, by exact id: another application's rows whose ids merely start with '#' stay sessions.
const INTERNAL_IDS: ReadonlySet<string> = new Set([LEASE_ID])

/** True for the library's own rows (the lease item): never read, deleted or counted as sessions. */
export function isInternalId (id: string): boolean {
  return INTERNAL_IDS.has(id)
}

export function newSessionId (): string {
  return randomBytes(ID_BYTES).toString('base64url')
}

export function isSessionId (value: string): boolean {
  return SESSION_ID_PATTERN.test(value)
}

export function epochSeconds (ms: number): number {
  return Math.floor(ms / 1000)
}

/** The expiry a write at `nowSec` gives a session: the idle lifetime, capped by the absolute timeout. */
export function computeExpiry (nowSec: number, ttlSeconds: number, createdAt: number, absoluteTimeoutSeconds: number | undefined): number {
  const idle = nowSec + ttlSeconds
  return absoluteTimeoutSeconds === undefined ? idle : Math.min(idle, createdAt + absoluteTimeoutSeconds)
}

export function validateKey (key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || !key.isWellFormed()) {
    throw new InvalidKeyError(MAX_KEY_LENGTH, typeof key === 'string' ? `a string of ${key.length} characters` : typeof key)
  }
  return key
}

function isPlainObject (value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Checks that `value` is JSON-compatible and storable in DynamoDB, and returns a deep copy, so later mutation by
 * the caller cannot change what is saved.
 */
export function cloneJson (key: string, value: unknown): JsonValue {
  const ancestors = new Set<object>()
  const walk = (v: unknown, path: string, depth: number): JsonValue => {
    switch (typeof v) {
      case 'string':
        if (!v.isWellFormed()) throw new NotSerializableError(key, `${path} is a string with a lone surrogate`)
        return v
      case 'boolean':
        return v
      case 'number': {
        const abs = Math.abs(v)
        if (!Number.isFinite(v)) throw new NotSerializableError(key, `${path} is ${v}`)
        if (abs >= NUMBER_LIMIT || (abs !== 0 && abs < MIN_NUMBER)) {
          throw new NotSerializableError(key, `${path} (${v}) is outside DynamoDB's number range`)
        }
        return Object.is(v, -0) ? 0 : v
      }
      case 'object': {
        if (v === null) return null
        if (ancestors.has(v)) throw new NotSerializableError(key, `${path} is a cyclic reference`)
        if (depth > MAX_DEPTH) throw new NotSerializableError(key, `${path} is nested deeper than ${MAX_DEPTH} levels`)
        ancestors.add(v)
        try {
          // Index by index: map() would keep holes, which are undefined, not JSON.
          if (Array.isArray(v)) return Array.from(v, (item, i) => walk(item, `${path}[${i}]`, depth + 1))
          if (!isPlainObject(v)) {
            const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object'
            throw new NotSerializableError(key, `${path} is a ${name}, only plain objects and arrays are stored`)
          }
          const out: Record<string, JsonValue> = {}
          for (const k of Object.keys(v)) {
            if (k === '') throw new NotSerializableError(key, `${path} has an empty key`)
            if (!k.isWellFormed()) throw new NotSerializableError(key, `${path} has a key with a lone surrogate`)
            setOwn(out, k, walk((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1))
          }
          if (Object.getOwnPropertySymbols(v).length > 0) throw new NotSerializableError(key, `${path} has symbol keys`)
          return out
        } finally {
          ancestors.delete(v)
        }
      }
      default:
        // undefined, function, symbol, bigint
        throw new NotSerializableError(key, `${path} is a ${typeof v}`)
    }
  }
  return walk(value, 'value', 0)
}

export function toAttributeValue (value: JsonValue): AttributeValue {
  if (value === null) return { NULL: true }
  switch (typeof value) {
    case 'string': return { S: value }
    case 'number': return { N: String(value) }
    case 'boolean': return { BOOL: value }
  }
  if (Array.isArray(value)) return { L: value.map(toAttributeValue) }
  return { M: toAttributeMap(value) }
}

export function toAttributeMap (record: Record<string, JsonValue>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {}
  for (const [k, v] of Object.entries(record)) setOwn(out, k, toAttributeValue(v))
  return out
}

/** Reads any DynamoDB value as JSON; sets become arrays and binaries base64 strings (rows written by other software). */
export function fromAttributeValue (av: AttributeValue): JsonValue {
  if (av.S !== undefined) return av.S
  if (av.N !== undefined) return Number(av.N)
  if (av.BOOL !== undefined) return av.BOOL
  if (av.NULL !== undefined) return null
  if (av.L !== undefined) return av.L.map(fromAttributeValue)
  if (av.M !== undefined) return fromAttributeMap(av.M)
  if (av.SS !== undefined) return [...av.SS]
  if (av.NS !== undefined) return av.NS.map(Number)
  if (av.B !== undefined) return Buffer.from(av.B).toString('base64')
  if (av.BS !== undefined) return av.BS.map((b) => Buffer.from(b).toString('base64'))
  return null
}

export function fromAttributeMap (map: Record<string, AttributeValue>): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {}
  for (const [k, v] of Object.entries(map)) setOwn(out, k, fromAttributeValue(v))
  return out
}

// DynamoDB stores two digits per byte aligned on the decimal exponent (which can cost one byte more than "one byte
// per two digits"), one byte of exponent and one more for negative numbers: this is that size's upper bound.
function numberSize (n: number): number {
  const digits = String(Math.abs(n)).replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length
  return Math.floor(Math.max(digits, 1) / 2) + 2 + (n < 0 ? 1 : 0)
}

/** DynamoDB's size of a value in bytes, by its documented rules (rounded up where they are approximate). */
export function valueSize (value: JsonValue): number {
  if (value === null || typeof value === 'boolean') return 1
  if (typeof value === 'string') return Buffer.byteLength(value)
  if (typeof value === 'number') return numberSize(value)
  let size = 3
  if (Array.isArray(value)) {
    for (const item of value) size += 1 + valueSize(item)
  } else {
    for (const [k, v] of Object.entries(value)) size += 1 + Buffer.byteLength(k) + valueSize(v)
  }
  return size
}

/** Size of one entry of the data map: key, value, and the per-element overhead. */
export function entrySize (key: string, value: JsonValue): number {
  return 1 + Buffer.byteLength(key) + valueSize(value)
}

/** Size of a whole session item except its data entries (which the caller sums with entrySize). */
export function itemOverhead (shape: TableShape, id: string): number {
  const numberAttr = (name: string): number => Buffer.byteLength(name) + 12
  return Buffer.byteLength(shape.idAttribute) + Buffer.byteLength(id) +
    numberAttr(shape.expiresAttribute) + numberAttr(shape.createdAttribute) + numberAttr(shape.touchedAttribute) +
    Buffer.byteLength(shape.dataAttribute) + 3
}

/** A session row as read from the table. */
export interface StoredSession {
  readonly id: string
  /** Epoch seconds; NaN when the row has no numeric expiry (never live). */
  readonly expiresAt: number
  readonly createdAt: number | undefined
  readonly touchedAt: number | undefined
  readonly data: SessionRecord
  /** False for rows written by other software without the data map: the first write creates it. */
  readonly hasDataMap: boolean
  /** True for the tombstone `regenerate()` leaves under the old id: never a session (see tombstone.ts). */
  readonly superseded: boolean
}

function numberAttribute (av: AttributeValue | undefined): number | undefined {
  if (av?.N === undefined) return undefined
  const n = Number(av.N)
  return Number.isFinite(n) ? n : undefined
}

export function parseItem (shape: TableShape, item: Record<string, AttributeValue>): StoredSession {
  const data = item[shape.dataAttribute]
  return {
    id: item[shape.idAttribute]?.S ?? '',
    expiresAt: numberAttribute(item[shape.expiresAttribute]) ?? Number.NaN,
    createdAt: numberAttribute(item[shape.createdAttribute]),
    touchedAt: numberAttribute(item[shape.touchedAttribute]),
    data: data?.M !== undefined ? fromAttributeMap(data.M) : {},
    hasDataMap: data?.M !== undefined,
    superseded: isTombstoneItem(item)
  }
}

/**
 * Live means the expiry is strictly in the future (a row without a numeric expiry is never live) and, with an
 * absolute timeout, the session is younger than it (rows without a creation time have no cap).
 */
export function isLive (session: StoredSession, nowSec: number, absoluteTimeoutSeconds?: number): boolean {
  if (session.superseded || !(session.expiresAt > nowSec)) return false
  return absoluteTimeoutSeconds === undefined || session.createdAt === undefined || nowSec < session.createdAt + absoluteTimeoutSeconds
}

/** A tombstone that has not expired: its id was superseded by a login moments ago. */
export function isLiveTombstone (session: StoredSession, nowSec: number): boolean {
  return session.superseded && session.expiresAt > nowSec
}

export function buildGetInput (shape: TableShape, id: string, consistent: boolean): GetItemCommandInput {
  return { TableName: shape.tableName, Key: { [shape.idAttribute]: { S: id } }, ConsistentRead: consistent }
}

/** Deletes a session row, never a tombstone (the login that left it must not be undone by a late request). */
export function buildDeleteInput (shape: TableShape, id: string): DeleteItemCommandInput {
  return {
    TableName: shape.tableName,
    Key: { [shape.idAttribute]: { S: id } },
    ConditionExpression: NOT_TOMBSTONE,
    ExpressionAttributeNames: { ...TOMBSTONE_NAMES }
  }
}

export interface CreateSpec {
  id: string
  data: SessionRecord
  nowSec: number
  createdAt: number
  expiresAt: number
}

/** A new row; fails rather than overwrite an existing one. */
export function buildCreateInput (shape: TableShape, spec: CreateSpec): PutItemCommandInput {
  return {
    TableName: shape.tableName,
    Item: {
      [shape.idAttribute]: { S: spec.id },
      [shape.expiresAttribute]: { N: String(spec.expiresAt) },
      [shape.createdAttribute]: { N: String(spec.createdAt) },
      [shape.touchedAttribute]: { N: String(spec.nowSec) },
      [shape.dataAttribute]: { M: toAttributeMap(spec.data) }
    },
    ConditionExpression: 'attribute_not_exists(#id)',
    ExpressionAttributeNames: { '#id': shape.idAttribute }
  }
}

export interface UpdateSpec {
  id: string
  nowSec: number
  expiresAt: number
  /** Keys to set (value) or remove (undefined), applied per key so concurrent writers of other keys survive. */
  changes?: ReadonlyMap<string, JsonValue | undefined>
  /** For a row without the data map: write this whole map, only if the map is still missing. */
  wholeData?: SessionRecord
}

/**
 * One conditional UpdateItem: refreshes the expiry and applies the data changes. The condition (the row exists, has
 * not expired and is not a tombstone) is what keeps a write from resurrecting a session destroyed, expired or
 * superseded by a login meanwhile.
 */
export function buildUpdateInput (shape: TableShape, spec: UpdateSpec): UpdateItemCommandInput {
  const names: Record<string, string> = {
    '#id': shape.idAttribute,
    '#exp': shape.expiresAttribute,
    '#touched': shape.touchedAttribute,
    '#created': shape.createdAttribute,
    ...TOMBSTONE_NAMES
  }
  const values: Record<string, AttributeValue> = {
    ':exp': { N: String(spec.expiresAt) },
    ':now': { N: String(spec.nowSec) }
  }
  const sets = ['#exp = :exp', '#touched = :now', '#created = if_not_exists(#created, :now)']
  const removes: string[] = []
  let condition = `attribute_exists(#id) AND #exp > :now AND ${NOT_TOMBSTONE}`
  if (spec.wholeData !== undefined || (spec.changes !== undefined && spec.changes.size > 0)) names['#data'] = shape.dataAttribute
  if (spec.wholeData !== undefined) {
    values[':data'] = { M: toAttributeMap(spec.wholeData) }
    sets.push('#data = :data')
    condition += ' AND attribute_not_exists(#data)'
  } else if (spec.changes !== undefined) {
    let i = 0
    for (const [key, value] of spec.changes) {
      names[`#k${i}`] = key
      if (value === undefined) {
        removes.push(`#data.#k${i}`)
      } else {
        values[`:v${i}`] = toAttributeValue(value)
        sets.push(`#data.#k${i} = :v${i}`)
      }
      i++
    }
  }
  let expression = 'SET ' + sets.join(', ')
  if (removes.length > 0) expression += ' REMOVE ' + removes.join(', ')
  return {
    TableName: shape.tableName,
    Key: { [shape.idAttribute]: { S: spec.id } },
    UpdateExpression: expression,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values
  }
}
