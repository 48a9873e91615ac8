import type {
  AttributeValue, DeleteItemCommandInput, GetItemCommandInput, PutItemCommandInput, UpdateItemCommandInput
} from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { LIVE_CONDITION, liveValues } from '../expiry.js'
import type { JsonValue, SessionRecord } from './json.js'
import { itemKey, toAttributeMap, toAttributeValue } from './marshal.js'
import { NOT_TOMBSTONE, TOMBSTONE_NAMES } from './tombstone.js'
import { indexItemAttributes, indexUpdateParts } from './expiry-index.js'
import { ownerItemAttributes, ownerUpdateParts } from './owner.js'

// The pure request-path command builders: the store sends what they return.

export function buildGetInput (shape: TableShape, id: string, consistent: boolean): GetItemCommandInput {
  return { TableName: shape.tableName, Key: itemKey(shape, id), ConsistentRead: consistent }
}

/** Deletes a session row, never a tombstone (the login that left it must not be undone by a late request). */
export function buildDeleteInput (shape: TableShape, id: string): DeleteItemCommandInput {
  return {
    TableName: shape.tableName,
    Key: itemKey(shape, id),
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
  /** The owner id (`session.setOwner()`), written only when set: a row without it is not in the owner index. */
  owner?: string | undefined
  /** The label (`session.setLabel()`), written only when set. */
  label?: string | undefined
}

/** A new row; fails rather than overwrite an existing one. */
export function buildCreateInput (shape: TableShape, spec: CreateSpec): PutItemCommandInput {
  // Built by assignment: spreading objects with computed keys is the slow path of object literals, on every login.
  const item = itemKey(shape, spec.id)
  item[shape.expiresAttribute] = { N: String(spec.expiresAt) }
  item[shape.createdAttribute] = { N: String(spec.createdAt) }
  item[shape.touchedAttribute] = { N: String(spec.nowSec) }
  item[shape.dataAttribute] = { M: toAttributeMap(spec.data) }
  if (shape.expiryIndex !== false) Object.assign(item, indexItemAttributes(shape.expiryIndex, spec.id, spec.expiresAt))
  if (shape.ownerIndex !== false) Object.assign(item, ownerItemAttributes(shape.ownerIndex, spec.owner, spec.label))
  return {
    TableName: shape.tableName,
    Item: item,
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
  /** A new owner to write (set in this request); undefined leaves the row's owner, and its index entry, alone. */
  owner?: string | undefined
  /** A new label to write; undefined leaves the row's label alone. */
  label?: string | undefined
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
    ...liveValues(spec.nowSec)
  }
  const sets = ['#exp = :exp', '#touched = :now', '#created = if_not_exists(#created, :now)']
  for (const part of indexParts(shape, spec)) {
    sets.push(...part.sets)
    Object.assign(names, part.names)
    Object.assign(values, part.values)
  }
  const removes: string[] = []
  let condition = `attribute_exists(#id) AND ${LIVE_CONDITION} AND ${NOT_TOMBSTONE}`
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
    Key: itemKey(shape, spec.id),
    UpdateExpression: expression,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values
  }
}

/**
 * What an UpdateItem adds for the indexes: the expiry bucket (it follows the expiry; the shard is written once), and
 * the owner and label only when this write sets them (a refresh leaves the owner index alone).
 */
function indexParts (shape: TableShape, spec: UpdateSpec): Array<ReturnType<typeof indexUpdateParts>> {
  const parts: Array<ReturnType<typeof indexUpdateParts>> = []
  if (shape.expiryIndex !== false) parts.push(indexUpdateParts(shape.expiryIndex, spec.id, spec.expiresAt))
  if (shape.ownerIndex !== false && (spec.owner !== undefined || spec.label !== undefined)) {
    parts.push(ownerUpdateParts(shape.ownerIndex, spec.owner, spec.label))
  }
  return parts
}
