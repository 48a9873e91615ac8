import type { AttributeValue, PutItemCommandInput } from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { LIVE_CONDITION, liveValues } from '../expiry.js'
import { itemKey } from './marshal.js'

/**
 * What `regenerate()` leaves under the old id: a short-lived tombstone instead of nothing, so that a request still
 * carrying the pre-login cookie, answered after the login, is recognised and leaves the client's (new) cookie alone.
 * A tombstone holds the key, the expiry (when TTL or the reaper removes it) and this marker (epoch seconds of the
 * login that superseded the session), and nothing else: no data, no creation time, no other attribute a session
 * or an index might carry. This module owns its shape and its predicate.
 */
export const TOMBSTONE_ATTRIBUTE = 'Superseded_At'

/** The condition fragment every conditional session write carries, with its name: the row is not a tombstone. */
export const NOT_TOMBSTONE = 'attribute_not_exists(#tomb)'
export const TOMBSTONE_NAMES: Readonly<Record<'#tomb', string>> = Object.freeze({ '#tomb': TOMBSTONE_ATTRIBUTE })

/** True when a stored item (or a projection holding the marker) is a tombstone. */
export function isTombstoneItem (item: Record<string, AttributeValue>): boolean {
  return item[TOMBSTONE_ATTRIBUTE] !== undefined
}

/**
 * One PutItem that replaces a live session row by its tombstone, whole, so no attribute of the session survives.
 * Its condition is the one a session delete at login had (the row exists and has not expired) and the row is not
 * a tombstone already: of two concurrent logins from one session, one fails.
 */
export function buildTombstoneInput (shape: TableShape, id: string, nowSec: number, lifetimeSeconds: number): PutItemCommandInput {
  return {
    TableName: shape.tableName,
    Item: {
      ...itemKey(shape, id),
      [shape.expiresAttribute]: { N: String(nowSec + lifetimeSeconds) },
      [TOMBSTONE_ATTRIBUTE]: { N: String(nowSec) }
    },
    ConditionExpression: `attribute_exists(#id) AND ${LIVE_CONDITION} AND ${NOT_TOMBSTONE}`,
    ExpressionAttributeNames: { '#id': shape.idAttribute, '#exp': shape.expiresAttribute, ...TOMBSTONE_NAMES },
    ExpressionAttributeValues: liveValues(nowSec)
  }
}
