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

/**
 * Sets an own property, even for `__proto__`, which an assignment would take as a prototype change, and for any other
 * name Object.prototype has (an accessor there would intercept an assignment, and a frozen one would refuse it).
 */
export function setOwn<T> (record: Record<string, T>, key: string, value: T): void {
  if (key in Object.prototype) Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true })
  else record[key] = value
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
  return new JsonCopy(key).walk(value, 0)
}

/** One cloneJson() call: the copy, with the path of the value being copied kept only as steps until an error. */
class JsonCopy {
  readonly #key: string
  readonly #ancestors = new Set<object>()
  // The keys and indexes from the value down to the one being copied.
  readonly #trail: Array<string | number> = []

  constructor (key: string) {
    this.#key = key
  }

  #fail (what: string): never {
    const path = this.#trail.reduce<string>((p, step) => typeof step === 'number' ? `${p}[${step}]` : `${p}.${step}`, 'value')
    throw new NotSerializableError(this.#key, `${path} ${what}`)
  }

  walk (v: unknown, depth: number): JsonValue {
    switch (typeof v) {
      case 'string':
        return v.isWellFormed() ? v : this.#fail('is a string with a lone surrogate')
      case 'boolean':
        return v
      case 'number': {
        const abs = Math.abs(v)
        if (!Number.isFinite(v)) this.#fail(`is ${v}`)
        if (abs >= NUMBER_LIMIT || (abs !== 0 && abs < MIN_NUMBER)) this.#fail(`(${v}) is outside DynamoDB's number range`)
        return Object.is(v, -0) ? 0 : v
      }
      case 'object': {
        if (v === null) return null
        if (this.#ancestors.has(v)) this.#fail('is a cyclic reference')
        if (depth > MAX_DEPTH) this.#fail(`is nested deeper than ${MAX_DEPTH} levels`)
        this.#ancestors.add(v)
        try {
          return Array.isArray(v) ? this.#array(v, depth) : this.#record(v, depth)
        } finally {
          this.#ancestors.delete(v)
        }
      }
      default:
        // undefined, function, symbol, bigint
        return this.#fail(`is a ${typeof v}`)
    }
  }

  #array (v: unknown[], depth: number): JsonValue[] {
    // Index by index: map() would keep holes, which are undefined, not JSON.
    const out = new Array<JsonValue>(v.length)
    for (let i = 0; i < v.length; i++) {
      this.#trail.push(i)
      out[i] = this.walk(v[i], depth + 1)
      this.#trail.pop()
    }
    return out
  }

  #record (v: object, depth: number): Record<string, JsonValue> {
    if (!isPlainObject(v)) {
      const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object'
      this.#fail(`is a ${name}, only plain objects and arrays are stored`)
    }
    const out: Record<string, JsonValue> = {}
    for (const k of Object.keys(v)) {
      if (k === '') this.#fail('has an empty key')
      if (!k.isWellFormed()) this.#fail('has a key with a lone surrogate')
      this.#trail.push(k)
      setOwn(out, k, this.walk((v as Record<string, unknown>)[k], depth + 1))
      this.#trail.pop()
    }
    if (Object.getOwnPropertySymbols(v).length > 0) this.#fail('has symbol keys')
    return out
  }
}
