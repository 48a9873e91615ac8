import type { AttributeValue, ScanCommandInput } from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { itemKey, numberAttribute } from '../store/marshal.js'
import { TOMBSTONE_NAMES, isTombstoneItem } from '../store/tombstone.js'
import type { ReaperCalls } from './calls.js'
import type { ExpiryFinder, FinderPage, FoundRow, StartKey } from './sweep.js'

/** Pure: one page of a (parallel) Scan that reads only the key, the expiry and the tombstone marker. */
export function buildScanInput (
  shape: TableShape,
  segment: number,
  segments: number,
  start: StartKey | undefined,
  limit: number
): ScanCommandInput {
  return {
    TableName: shape.tableName,
    ProjectionExpression: '#id, #exp, #tomb',
    ExpressionAttributeNames: { '#id': shape.idAttribute, '#exp': shape.expiresAttribute, ...TOMBSTONE_NAMES },
    Limit: limit,
    ...(segments > 1 ? { Segment: segment, TotalSegments: segments } : {}),
    ...(start === undefined ? {} : { ExclusiveStartKey: start })
  }
}

/** Pure: a scanned row; the expiry is undefined unless it is a finite Number (what DynamoDB's TTL would act on). */
export function parseScannedRow (shape: TableShape, item: Record<string, AttributeValue>): FoundRow {
  return {
    id: item[shape.idAttribute]?.S ?? '',
    expiresAt: numberAttribute(item[shape.expiresAttribute]),
    tombstone: isTombstoneItem(item)
  }
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

/** Finds expired rows by scanning the whole table in `segments` parallel segments. */
export class ScanFinder implements ExpiryFinder {
  readonly kind = 'scan'
  readonly streams: number
  readonly seesLiveRows = true
  readonly #shape: TableShape

  constructor (shape: TableShape, segments: number) {
    this.#shape = shape
    this.streams = segments
  }

  async page (calls: ReaperCalls, stream: number, start: StartKey | undefined, limit: number): Promise<FinderPage> {
    const out = await calls.scan(buildScanInput(this.#shape, stream, this.streams, start, limit))
    return {
      rows: (out.Items ?? []).map((item) => parseScannedRow(this.#shape, item)),
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
