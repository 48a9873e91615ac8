import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import type { SessionRecord } from './json.js'
import { fromAttributeMap, numberAttribute } from './marshal.js'
import { isTombstoneItem } from './tombstone.js'

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
  /** The owner id (`session.setOwner()`); undefined on rows without one. */
  readonly owner?: string
  /** The label (`session.setLabel()`); undefined on rows without one. */
  readonly label?: string
  /** True for the tombstone `regenerate()` leaves under the old id: never a session (see tombstone.ts). */
  readonly superseded: boolean
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
    superseded: isTombstoneItem(item),
    ...ownerFields(shape, item)
  }
}

/** The owner and label of a row, each only when present (rows without an owner are most rows). */
function ownerFields (shape: TableShape, item: Record<string, AttributeValue>): { owner?: string, label?: string } {
  if (shape.ownerIndex === false) return {}
  const owner = item[shape.ownerIndex.attribute]?.S
  const label = item[shape.ownerIndex.labelAttribute]?.S
  return { ...(owner === undefined ? {} : { owner }), ...(label === undefined ? {} : { label }) }
}
