import type { AttributeValue, QueryCommandInput, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb'
import type { ExpiryIndexShape, TableShape } from '../options.js'
import { bucketEnd, bucketOf } from '../expiry.js'
import { itemKey, numberAttribute } from '../store/marshal.js'
import { indexUpdateParts } from '../store/expiry-index.js'
import { NOT_TOMBSTONE, TOMBSTONE_NAMES } from '../store/tombstone.js'
import type { ReaperCalls } from './calls.js'
import type { ExpiryFinder, FinderPage, FoundRow, StartKey } from './sweep.js'

/** A table shape whose sessions carry the expiry index's attributes. */
export type IndexedShape = TableShape & { readonly expiryIndex: ExpiryIndexShape }

/**
 * Pure: one page of one shard's Query on the expiry index: every entry whose bucket is below `belowBucket` (the first
 * bucket not wholly due), oldest bucket first. KEYS_ONLY: the entries carry the id, the shard and the bucket.
 */
export function buildIndexQueryInput (
  shape: IndexedShape,
  shard: number,
  belowBucket: number,
  start: StartKey | undefined,
  limit: number
): QueryCommandInput {
  const index = shape.expiryIndex
  return {
    TableName: shape.tableName,
    IndexName: index.indexName,
    KeyConditionExpression: '#shard = :shard AND #bucket < :below',
    ExpressionAttributeNames: { '#shard': index.shardAttribute, '#bucket': index.attribute },
    ExpressionAttributeValues: { ':shard': { N: String(shard) }, ':below': { N: String(belowBucket) } },
    Limit: limit,
    ...(start === undefined ? {} : { ExclusiveStartKey: start })
  }
}

/**
 * Pure: an index entry as a found row. Its exact expiry is not in the index: `expiresAt` is the latest expiry its
 * bucket can hold (so the sweep treats it as due), `exactExpiry` false (the delete returns the real one).
 */
export function parseIndexEntry (shape: IndexedShape, item: Record<string, AttributeValue>): FoundRow {
  const bucket = numberAttribute(item[shape.expiryIndex.attribute])
  return {
    id: item[shape.idAttribute]?.S ?? '',
    expiresAt: bucket === undefined ? undefined : bucketEnd(bucket, shape.expiryIndex.bucketSeconds),
    bucket,
    exactExpiry: false
  }
}

const isNumberValue = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && Object.keys(value).length === 1 &&
  typeof (value as { N?: unknown }).N === 'string' && Number.isFinite(Number((value as { N: string }).N))

/**
 * Finds expired rows through the expiry index: one stream per shard, each a Query for the buckets that have wholly
 * passed the due cutoff. A pass reads what has expired, not the table.
 */
export class IndexFinder implements ExpiryFinder {
  readonly kind = 'index'
  readonly streams: number
  readonly seesLiveRows = false
  readonly #shape: IndexedShape
  readonly #belowBucket: () => number

  /** `belowBucket`: the first bucket not wholly due, read at each page (see firstUnfinishedBucket). */
  constructor (shape: IndexedShape, belowBucket: () => number) {
    this.#shape = shape
    this.streams = shape.expiryIndex.shards
    this.#belowBucket = belowBucket
  }

  async page (calls: ReaperCalls, stream: number, start: StartKey | undefined, limit: number): Promise<FinderPage> {
    const out = await calls.query(buildIndexQueryInput(this.#shape, stream, this.#belowBucket(), start, limit))
    const rows = (out.Items ?? []).map((item) => parseIndexEntry(this.#shape, item))
    return { rows, next: out.LastEvaluatedKey, evaluated: out.ScannedCount ?? rows.length }
  }

  /** An index Query starts after an index key: the table key, the shard and the bucket, nothing else. */
  isCursor (start: StartKey): boolean {
    const { idAttribute, expiryIndex } = this.#shape
    const names = Object.keys(start).sort()
    const expected = [idAttribute, expiryIndex.attribute, expiryIndex.shardAttribute].sort()
    if (names.length !== 3 || names.some((name, i) => name !== expected[i])) return false
    const id = start[idAttribute] as { S?: unknown } | undefined
    return typeof id?.S === 'string' && id.S.length > 0 && Object.keys(id).length === 1 &&
      isNumberValue(start[expiryIndex.attribute]) && isNumberValue(start[expiryIndex.shardAttribute])
  }

  after (stream: number, row: FoundRow): StartKey {
    const { idAttribute, expiryIndex } = this.#shape
    return {
      [idAttribute]: { S: row.id },
      [expiryIndex.shardAttribute]: { N: String(stream) },
      [expiryIndex.attribute]: { N: String(row.bucket ?? 0) }
    }
  }
}

/**
 * Pure: the repair of an index entry whose row is not due (a writer extended the expiry without moving the bucket):
 * the bucket rewritten from the row's expiry, or removed (the row leaves the index) when the row has no numeric
 * expiry, conditionally on the expiry as read, so that a concurrent write wins. Undefined when the bucket is already
 * right: nothing to write.
 */
export function buildRebucketInput (
  shape: IndexedShape,
  id: string,
  item: Record<string, AttributeValue>
): UpdateItemCommandInput | undefined {
  const index = shape.expiryIndex
  const expiresAt = numberAttribute(item[shape.expiresAttribute])
  const bucket = expiresAt === undefined ? undefined : bucketOf(expiresAt, index.bucketSeconds)
  const current = numberAttribute(item[index.attribute])
  if (bucket !== undefined && current === bucket) return undefined
  if (bucket === undefined && item[index.attribute] === undefined) return undefined
  const seen = item[shape.expiresAttribute]
  return {
    TableName: shape.tableName,
    Key: itemKey(shape, id),
    UpdateExpression: bucket === undefined ? 'REMOVE #bucket' : 'SET #bucket = :bucket',
    ConditionExpression: seen === undefined ? 'attribute_exists(#id) AND attribute_not_exists(#exp)' : '#exp = :seen',
    ExpressionAttributeNames: {
      '#bucket': index.attribute,
      '#exp': shape.expiresAttribute,
      ...(seen === undefined ? { '#id': shape.idAttribute } : {})
    },
    ...(bucket === undefined && seen === undefined
      ? {}
      : {
          ExpressionAttributeValues: {
            ...(bucket === undefined ? {} : { ':bucket': { N: String(bucket) } }),
            ...(seen === undefined ? {} : { ':seen': seen })
          }
        })
  }
}

/**
 * Pure: the backfill of a live row missing from the expiry index (a row of an older version or of other software):
 * its bucket from the expiry the scan read and, if it has none, its shard. Conditional on that very expiry and on the
 * row not being a tombstone, so it never creates, resurrects or extends a session, and a concurrent write wins.
 */
export function buildBackfillInput (shape: IndexedShape, id: string, expiresAt: number): UpdateItemCommandInput {
  const parts = indexUpdateParts(shape.expiryIndex, id, expiresAt)
  return {
    TableName: shape.tableName,
    Key: itemKey(shape, id),
    UpdateExpression: 'SET ' + parts.sets.join(', '),
    ConditionExpression: `#exp = :seen AND ${NOT_TOMBSTONE}`,
    ExpressionAttributeNames: { ...parts.names, '#exp': shape.expiresAttribute, ...TOMBSTONE_NAMES },
    ExpressionAttributeValues: { ...parts.values, ':seen': { N: String(expiresAt) } }
  }
}
