import { createHmac } from 'node:crypto'
import type {
  AttributeValue, BatchGetItemCommandInput, DeleteItemCommandInput, QueryCommandInput
} from '@aws-sdk/client-dynamodb'
import type { OwnerIndexShape, TableShape } from '../options.js'
import { LIVE_CONDITION, liveValues } from '../expiry.js'
import { InvalidLabelError, InvalidOwnerError } from '../errors.js'
import { describe } from '../options.js'
import { itemKey } from './marshal.js'
import { NOT_TOMBSTONE, TOMBSTONE_NAMES } from './tombstone.js'

/*
 * What a session row carries for its owner (see docs/sessions-of-a-user.md): the owner id, the partition key of a
 * sparse KEYS_ONLY global secondary index, written only when set (rows without it are not in the index and cost no
 * index write), and an optional label, which is not in the index. The pure builders of the owner calls live here;
 * store/owner-directory.ts sends them.
 */

/** An index key cannot be longer than 2048 bytes; owners and labels are kept far below. */
export const MAX_OWNER_LENGTH = 256
export const MAX_LABEL_LENGTH = 256
/** BatchGetItem reads at most 100 keys a call. */
export const BATCH_GET_MAX_KEYS = 100
/** Characters of a handle: 22 base64url characters, 132 bits of an HMAC-SHA-256. */
export const HANDLE_LENGTH = 22
const HANDLE_CONTEXT = 'fastify-dynamo-session owner handle\0'

/** The owner id, validated: a non-empty string of at most 256 characters. The value never appears in the error. */
export function validateOwner (owner: unknown): string {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > MAX_OWNER_LENGTH) {
    const got = typeof owner === 'string' ? `a string of ${owner.length} characters` : describe(owner)
    throw new InvalidOwnerError(MAX_OWNER_LENGTH, got)
  }
  return owner
}

/** The label, validated: a string of at most 256 characters. */
export function validateLabel (label: unknown): string {
  if (typeof label !== 'string' || label.length > MAX_LABEL_LENGTH) {
    const got = typeof label === 'string' ? `a string of ${label.length} characters` : describe(label)
    throw new InvalidLabelError(MAX_LABEL_LENGTH, got)
  }
  return label
}

/**
 * A listed session's handle: a truncated HMAC-SHA-256 of its id under the first secret. Stable while that secret
 * signs cookies, useless as a cookie, and only honoured together with the owner (destroyByOwner).
 */
export function handleOf (secret: string, id: string): string {
  return createHmac('sha256', secret).update(HANDLE_CONTEXT + id).digest('base64url').slice(0, HANDLE_LENGTH)
}

/** The attributes a new row of an owned (or labelled) session carries: only those that are set. */
export function ownerItemAttributes (
  index: OwnerIndexShape,
  owner: string | undefined,
  label: string | undefined
): Record<string, AttributeValue> {
  return {
    ...(owner === undefined ? {} : { [index.attribute]: { S: owner } }),
    ...(label === undefined ? {} : { [index.labelAttribute]: { S: label } })
  }
}

/** The SET clauses, names and values an UpdateItem adds to write the owner and the label that changed. */
export function ownerUpdateParts (index: OwnerIndexShape, owner: string | undefined, label: string | undefined): {
  sets: string[]
  names: Record<string, string>
  values: Record<string, AttributeValue>
} {
  const parts = { sets: [] as string[], names: {} as Record<string, string>, values: {} as Record<string, AttributeValue> }
  if (owner !== undefined) {
    parts.sets.push('#owner = :owner')
    parts.names['#owner'] = index.attribute
    parts.values[':owner'] = { S: owner }
  }
  if (label !== undefined) {
    parts.sets.push('#label = :label')
    parts.names['#label'] = index.labelAttribute
    parts.values[':label'] = { S: label }
  }
  return parts
}

/** One page of the owner's index entries (KEYS_ONLY: the table key and the owner). */
export function buildOwnerQueryInput (
  shape: TableShape,
  index: OwnerIndexShape,
  owner: string,
  startKey: Record<string, AttributeValue> | undefined,
  limit: number | undefined
): QueryCommandInput {
  return {
    TableName: shape.tableName,
    IndexName: index.indexName,
    KeyConditionExpression: '#owner = :owner',
    ExpressionAttributeNames: { '#owner': index.attribute },
    ExpressionAttributeValues: { ':owner': { S: owner } },
    ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
    ...(limit === undefined ? {} : { Limit: limit }),
    ReturnConsumedCapacity: 'TOTAL'
  }
}

/** Up to 100 rows by id, only the attributes a listing shows (which saves bandwidth, not read units). */
export function buildBatchGetInput (
  shape: TableShape, index: OwnerIndexShape, ids: readonly string[], consistent: boolean
): BatchGetItemCommandInput {
  const names = {
    '#id': shape.idAttribute,
    '#exp': shape.expiresAttribute,
    '#created': shape.createdAttribute,
    '#touched': shape.touchedAttribute,
    '#owner': index.attribute,
    '#label': index.labelAttribute,
    ...TOMBSTONE_NAMES
  }
  return {
    RequestItems: {
      [shape.tableName]: {
        Keys: ids.map((id) => itemKey(shape, id)),
        ConsistentRead: consistent,
        ProjectionExpression: Object.keys(names).join(', '),
        ExpressionAttributeNames: names
      }
    },
    ReturnConsumedCapacity: 'TOTAL'
  }
}

/**
 * Deletes a live session of this owner: the condition (the row still has this owner, has not expired and is not a
 * tombstone) keeps a revocation from counting a row that changed hands, expired or was superseded meanwhile.
 */
export function buildOwnerDeleteInput (
  shape: TableShape, index: OwnerIndexShape, id: string, owner: string, nowSec: number
): DeleteItemCommandInput {
  return {
    TableName: shape.tableName,
    Key: itemKey(shape, id),
    ConditionExpression: `#owner = :owner AND ${LIVE_CONDITION} AND ${NOT_TOMBSTONE}`,
    ExpressionAttributeNames: { '#owner': index.attribute, '#exp': shape.expiresAttribute, ...TOMBSTONE_NAMES },
    ExpressionAttributeValues: { ':owner': { S: owner }, ...liveValues(nowSec) },
    ReturnConsumedCapacity: 'TOTAL'
  }
}
