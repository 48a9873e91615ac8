import { BatchWriteItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { resolveExpiryIndex, resolveOptions, type ExpiryIndexShape, type ReaperOptions, type ResolvedOptions } from '../../src/options.js'
import { bucketOf } from '../../src/expiry.js'
import { shardOf } from '../../src/store/expiry-index.js'
import { Reaper, type ReaperDeps } from '../../src/reaper/reaper.js'
import type { Sleep } from '../../src/reaper/budget.js'
import type { ExpiryFinder } from '../../src/reaper/sweep.js'
import { SECRET, TEST_REAPER_STRATEGY } from './app.js'

export { TEST_REAPER_STRATEGY }

interface Teardown { teardown (fn: () => unknown): void }

/** A clock in milliseconds that only moves when told to, and a sleep that moves it instead of waiting. */
export interface FakeTime {
  readonly now: () => number
  readonly sleep: Sleep
  /** Every sleep asked for, in milliseconds. */
  readonly slept: number[]
  readonly seconds: number
  advance (ms: number): void
}

export function fakeTime (startMs = 1_800_000_000_000): FakeTime {
  let ms = startMs
  const slept: number[] = []
  return {
    now: () => ms,
    sleep: async (duration, signal) => {
      slept.push(duration)
      if (signal?.aborted === true) return
      ms += duration
      // Let other segments run, as a real wait would.
      await new Promise((resolve) => setImmediate(resolve))
    },
    slept,
    get seconds () { return Math.floor(ms / 1000) },
    advance (delta: number) { ms += delta }
  }
}

/** A session id a cookie could name. */
export function sessionId (i: number, prefix = 'sess'): string {
  return `${prefix}${String(i).padStart(16, '0')}`
}

export interface SeedRow {
  id: string
  /** Epoch seconds; a string or null makes an invalid expiry, undefined none at all. */
  expiresAt?: number | string | null
  /** Extra bytes of data, to make rows cost more to read. */
  padding?: number
  /**
   * Write the expiry index's shard and bucket (default index options), as the plugin does, when the expiry is a
   * number. Defaults to true; false gives a tutorial-shaped row, invisible to the index.
   */
  indexed?: boolean
  /** The bucket to write instead of the expiry's own (a stale bucket, as an older writer leaves it). */
  bucket?: number
}

const DEFAULT_INDEX = resolveExpiryIndex(undefined) as ExpiryIndexShape


/** Writes rows directly (not through the plugin). */
export async function seedRows (client: DynamoDBClient, tableName: string, rows: readonly SeedRow[]): Promise<void> {
  const items = rows.map((row): Record<string, AttributeValue> => {
    const item: Record<string, AttributeValue> = { Sesion_Id: { S: row.id }, Data: { M: { pad: { S: 'x'.repeat(row.padding ?? 10) } } } }
    if (typeof row.expiresAt === 'number') item.Expire_Session = { N: String(row.expiresAt) }
    if (typeof row.expiresAt === 'number' && row.indexed !== false) {
      item[DEFAULT_INDEX.shardAttribute] = { N: String(shardOf(row.id, DEFAULT_INDEX.shards)) }
      item[DEFAULT_INDEX.attribute] = { N: String(row.bucket ?? bucketOf(row.expiresAt, DEFAULT_INDEX.bucketSeconds)) }
    }
    else if (typeof row.expiresAt === 'string') item.Expire_Session = { S: row.expiresAt }
    else if (row.expiresAt === null) item.Expire_Session = { NULL: true }
    return item
  })
  for (let i = 0; i < items.length; i += 25) {
    const batch = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }))
    let pending: Record<string, typeof batch> | undefined = { [tableName]: batch }
    while (pending !== undefined && Object.keys(pending).length > 0) {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: pending }))
      pending = out.UnprocessedItems as Record<string, typeof batch> | undefined
    }
  }
}

/** Every id in the table (lease item included), sorted. */
export async function tableIds (client: DynamoDBClient, tableName: string): Promise<string[]> {
  const ids: string[] = []
  let start: Record<string, AttributeValue> | undefined
  do {
    const out = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }))
    for (const item of out.Items ?? []) ids.push(item.Sesion_Id?.S ?? '')
    start = out.LastEvaluatedKey
  } while (start !== undefined)
  return ids.sort()
}

/**
 * Resolved options for a table, with reaper options (not scheduled unless given; no grace unless given, since tests
 * seed rows seconds past their expiry: the default grace is tested by name).
 */
export function reaperOptions (tableName: string, reaper: ReaperOptions = {}): ResolvedOptions {
  // The shared tests run with TEST_REAPER_STRATEGY unless they ask for one.
  return resolveOptions({ secret: SECRET, tableName, reaper: { schedule: false, graceSeconds: 0, strategy: TEST_REAPER_STRATEGY, ...reaper } })
}

/** A Reaper on `client`/`tableName`, closed at teardown. */
export function makeReaper (t: Teardown, client: DynamoDBClient, tableName: string, reaper: ReaperOptions = {}, deps: Partial<ReaperDeps> = {}): Reaper {
  const options = reaperOptions(tableName, reaper)
  if (options.reaper === false) throw new Error('reaper options resolved to false')
  const instance = new Reaper({ client, shape: options, options: options.reaper, now: Date.now, ...deps })
  t.teardown(() => instance.close())
  return instance
}

/** `inner` with its pages read through `page` (which may call `inner.page`), to act between pages. */
export function withPages (inner: ExpiryFinder, page: ExpiryFinder['page']): ExpiryFinder {
  return {
    kind: inner.kind,
    streams: inner.streams,
    seesLiveRows: inner.seesLiveRows,
    page,
    isCursor: (start) => inner.isCursor(start),
    after: (stream, row) => inner.after(stream, row)
  }
}
