import type { AttributeValue, ScanCommandInput } from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { itemKey, numberAttribute } from '../store/marshal.js'
import { bucketOf } from '../expiry.js'
import { TOMBSTONE_NAMES, isTombstoneItem } from '../store/tombstone.js'
import type { ReaperCalls } from './calls.js'
import type { ExpiryFinder, FinderPage, FoundRow, StartKey } from './sweep.js'

/**
 * Pure: one page of a (parallel) Scan that reads only the key, the expiry and the tombstone marker, and with
 * `withIndex` the expiry index's shard and bucket (a backfill's scan).
 */
export function buildScanInput (
  shape: TableShape,
  segment: number,
  segments: number,
  start: StartKey | undefined,
  limit: number,
  withIndex = false
): ScanCommandInput {
  const index = withIndex && shape.expiryIndex !== false ? shape.expiryIndex : undefined
  return {
    TableName: shape.tableName,
    ProjectionExpression: index === undefined ? '#id, #exp, #tomb' : '#id, #exp, #tomb, #shard, #bucket',
    ExpressionAttributeNames: {
      '#id': shape.idAttribute,
      '#exp': shape.expiresAttribute,
      ...TOMBSTONE_NAMES,
      ...(index === undefined ? {} : { '#shard': index.shardAttribute, '#bucket': index.attribute })
    },
    Limit: limit,
    ...(segments > 1 ? { Segment: segment, TotalSegments: segments } : {}),
    ...(start === undefined ? {} : { ExclusiveStartKey: start })
  }
}

/**
 * Pure: a scanned row; the expiry is undefined unless it is a finite Number (what DynamoDB's TTL would act on). With
 * `withIndex`, `needsBucket` says whether a session row with a numeric expiry is missing from the expiry index (no
 * shard or no bucket) or in the wrong bucket.
 */
export function parseScannedRow (shape: TableShape, item: Record<string, AttributeValue>, withIndex = false): FoundRow {
  const expiresAt = numberAttribute(item[shape.expiresAttribute])
  const tombstone = isTombstoneItem(item)
  const row = { id: item[shape.idAttribute]?.S ?? '', expiresAt, tombstone }
  if (!withIndex || shape.expiryIndex === false || tombstone || expiresAt === undefined) return row
  const index = shape.expiryIndex
  const bucket = numberAttribute(item[index.attribute])
  const needsBucket = numberAttribute(item[index.shardAttribute]) === undefined || bucket !== bucketOf(expiresAt, index.bucketSeconds)
  return { ...row, needsBucket }
}

/** Pure: true when `start` is exactly the table's key, `{ [idAttribute]: { S: non-empty string } }`, and nothing else. */
export function isTableKey (shape: TableShape, start: StartKey): boolean {
  const names = Object.keys(start)
  if (names.length !== 1 || names[0] !== shape.idAttribute) return false
  const value: unknown = start[shape.idAttribute]
  if (typeof value !== 'object' || value === null) return false
  const types = Object.keys(value)
  const id = (value as { S?: unknown }).S
  return types.length === 1 && typeof id === 'string' && id.length > 0
}

/**
 * Finds expired rows by scanning the whole table in `segments` parallel segments. With `withIndex` (the backfill's
 * scan, kind `backfill`) it also reads each row's shard and bucket, to find the rows the expiry index misses.
 */
export class ScanFinder implements ExpiryFinder {
  readonly kind: string
  readonly streams: number
  readonly seesLiveRows = true
  readonly #shape: TableShape
  readonly #withIndex: boolean

  constructor (shape: TableShape, segments: number, withIndex = false) {
    this.#shape = shape
    this.streams = segments
    this.#withIndex = withIndex && shape.expiryIndex !== false
    this.kind = this.#withIndex ? 'backfill' : 'scan'
  }

  async page (calls: ReaperCalls, stream: number, start: StartKey | undefined, limit: number): Promise<FinderPage> {
    const out = await calls.scan(buildScanInput(this.#shape, stream, this.streams, start, limit, this.#withIndex))
    return {
      rows: (out.Items ?? []).map((item) => parseScannedRow(this.#shape, item, this.#withIndex)),
      next: out.LastEvaluatedKey,
      evaluated: out.ScannedCount ?? 0
    }
  }

  /** A Scan starts after any key of the table (of the same segment), present or not. */
  isCursor (start: StartKey): boolean {
    return isTableKey(this.#shape, start)
  }

  after (_stream: number, row: FoundRow): StartKey {
    return itemKey(this.#shape, row.id)
  }
}
