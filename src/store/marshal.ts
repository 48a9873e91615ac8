// Not @aws-sdk/util-dynamodb's marshall(): session values are JSON only (no sets, binaries, undefined or class
// instances to convert or reject after the fact, see json.ts), rows written by other software must still read as JSON
// (sets as arrays, binaries as base64), and the size check before a write must follow DynamoDB's own sizing rules,
// which that library does not model.
import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { setOwn, type JsonValue } from './json.js'

/** DynamoDB's item size limit (400 KB). */
export const MAX_ITEM_BYTES = 400 * 1024

/** The key of the row `id` in a table of this shape: `{ [idAttribute]: { S: id } }`. */
export function itemKey (shape: Pick<TableShape, 'idAttribute'>, id: string): Record<string, AttributeValue> {
  return { [shape.idAttribute]: { S: id } }
}

/** A Number attribute's value; undefined when absent, of another type, or not a finite number. */
export function numberAttribute (av: AttributeValue | undefined): number | undefined {
  if (av?.N === undefined) return undefined
  const n = Number(av.N)
  return Number.isFinite(n) ? n : undefined
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

/** A session's owner and label, as far as they are set. */
interface Owned { readonly owner?: string | undefined, readonly label?: string | undefined }

/**
 * Size of a whole session item except its data entries (which the caller sums with entrySize): the key, the three
 * times, the map's own overhead, with the expiry index the shard and the bucket, and the owner and label when set.
 */
export function itemOverhead (shape: TableShape, id: string, owned: Owned = {}): number {
  const numberAttr = (name: string): number => Buffer.byteLength(name) + 12
  const index = shape.expiryIndex === false ? 0 : numberAttr(shape.expiryIndex.attribute) + numberAttr(shape.expiryIndex.shardAttribute)
  return Buffer.byteLength(shape.idAttribute) + Buffer.byteLength(id) +
    numberAttr(shape.expiresAttribute) + numberAttr(shape.createdAttribute) + numberAttr(shape.touchedAttribute) +
    Buffer.byteLength(shape.dataAttribute) + 3 + index + ownedBytes(shape, owned)
}

/** The owner and label attributes a row carries (only those set). */
function ownedBytes (shape: TableShape, owned: Owned): number {
  if (shape.ownerIndex === false) return 0
  const text = (name: string, value: string | undefined): number =>
    value === undefined ? 0 : Buffer.byteLength(name) + Buffer.byteLength(value)
  return text(shape.ownerIndex.attribute, owned.owner) + text(shape.ownerIndex.labelAttribute, owned.label)
}
