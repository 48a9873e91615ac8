import { InvalidKeyError, NotSerializableError } from '../errors.js'

/** A JSON value as stored in the session's data map. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }
export type SessionRecord = Record<string, JsonValue>

/** Longest accepted session key. */
export const MAX_KEY_LENGTH = 255
// DynamoDB allows 32 levels of nesting; the data map itself is one.
const MAX_DEPTH = 30
// DynamoDB numbers: magnitude from 1e-130 up to, not including, 1e126 (9.999999999999999e125 is 1e126 as a double).
const NUMBER_LIMIT = 1e126
const MIN_NUMBER = 1e-130

/** Sets an own property, even for keys such as `__proto__`, which an assignment would take as a prototype change. */
export function setOwn<T> (record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true })
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
