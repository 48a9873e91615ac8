import t from 'tap'
import { Registry } from 'prom-client'
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb'
import { bucketOf, dueCutoff, firstUnfinishedBucket } from '../../src/expiry.js'
import { LEASE_ID } from '../../src/ids.js'
import { createMetrics, METRIC_NAMES } from '../../src/metrics.js'
import { resolveOptions } from '../../src/options.js'
import { IndexFinder, buildIndexQueryInput, buildRebucketInput, parseIndexEntry, type IndexedShape } from '../../src/reaper/index-finder.js'
import type { ExpiryFinder, FoundRow } from '../../src/reaper/sweep.js'
import { buildUpdateInput } from '../../src/store/commands.js'
import { SECRET, recordCommands } from '../helpers/app.js'
import { createTable, getRow, makeClient, startDynalite } from '../helpers/dynamo.js'
import { fakeTime, makeReaper, reaperOptions, seedRows, sessionId, tableIds, withPages, type FakeTime } from '../helpers/reaper.js'
import { CAN } from '../helpers/target.js'

const SHAPE = resolveOptions({ secret: SECRET }) as IndexedShape
const CUSTOM = resolveOptions({
  secret: SECRET,
  tableName: 'Tbl',
  idAttribute: 'Id',
  expiresAttribute: 'Exp',
  expiryIndex: { indexName: 'ByBucket', attribute: 'B', shardAttribute: 'S', shards: 4, bucketSeconds: 60 }
}) as IndexedShape

t.test('buildIndexQueryInput: one shard, the buckets below the first unfinished one', async (t) => {
  t.strictSame(buildIndexQueryInput(SHAPE, 3, 6_000_000, undefined, 100), {
    TableName: 'ManejoSesion',
    IndexName: 'Expire_Bucket_Index',
    KeyConditionExpression: '#shard = :shard AND #bucket < :below',
    ExpressionAttributeNames: { '#shard': 'Expire_Shard', '#bucket': 'Expire_Bucket' },
    ExpressionAttributeValues: { ':shard': { N: '3' }, ':below': { N: '6000000' } },
    Limit: 100
  })
  const start = { Id: { S: 'abc' }, S: { N: '1' }, B: { N: '7' } }
  t.strictSame(buildIndexQueryInput(CUSTOM, 1, 9, start, 5), {
    TableName: 'Tbl',
    IndexName: 'ByBucket',
    KeyConditionExpression: '#shard = :shard AND #bucket < :below',
    ExpressionAttributeNames: { '#shard': 'S', '#bucket': 'B' },
    ExpressionAttributeValues: { ':shard': { N: '1' }, ':below': { N: '9' } },
    Limit: 5,
    ExclusiveStartKey: start
  }, 'the configured names, and the start key')
})

t.test('parseIndexEntry: the id, the bucket, and the bucket\'s end as an upper bound of the expiry', async (t) => {
  t.strictSame(parseIndexEntry(CUSTOM, { Id: { S: 'abc' }, S: { N: '2' }, B: { N: '10' } }),
    { id: 'abc', expiresAt: 659, bucket: 10, exactExpiry: false })
  t.strictSame(parseIndexEntry(SHAPE, { Sesion_Id: { S: 'x' }, Expire_Bucket: { N: '0' } }),
    { id: 'x', expiresAt: 299, bucket: 0, exactExpiry: false })
  t.strictSame(parseIndexEntry(CUSTOM, { Id: { S: 'abc' }, B: { S: '10' } }),
    { id: 'abc', expiresAt: undefined, bucket: undefined, exactExpiry: false }, 'a bucket that is not a number: no expiry')
  t.strictSame(parseIndexEntry(CUSTOM, { B: { N: '1' } }), { id: '', expiresAt: 119, bucket: 1, exactExpiry: false }, 'no id')
})

t.test('IndexFinder: the cursor is exactly an index key; after() makes one', async (t) => {
  const finder = new IndexFinder(CUSTOM, () => 0)
  t.equal(finder.kind, 'index')
  t.equal(finder.streams, 4, 'one stream per shard')
  t.equal(finder.seesLiveRows, false)
  const key = { Id: { S: 'abc' }, S: { N: '2' }, B: { N: '10' } }
  t.equal(finder.isCursor(key), true)
  const after = finder.after(2, { id: 'abc', expiresAt: 659, bucket: 10, exactExpiry: false })
  t.strictSame(after, key, 'the row\'s table key, its shard (the stream) and its bucket')
  t.equal(finder.isCursor(after), true)
  t.strictSame(finder.after(1, { id: 'x', expiresAt: undefined }), { Id: { S: 'x' }, S: { N: '1' }, B: { N: '0' } }, 'no bucket read: 0')
  const rejected: Array<[string, Record<string, unknown>]> = [
    ['the table key only (a scan cursor)', { Id: { S: 'abc' } }],
    ['no bucket', { Id: { S: 'abc' }, S: { N: '2' } }],
    ['an extra attribute', { ...key, Exp: { N: '5' } }],
    ['another name', { Sesion_Id: { S: 'abc' }, S: { N: '2' }, B: { N: '10' } }],
    ['an empty id', { ...key, Id: { S: '' } }],
    ['a numeric id', { ...key, Id: { N: '1' } }],
    ['an id with two types', { ...key, Id: { S: 'abc', N: '1' } }],
    ['a string bucket', { ...key, B: { S: '10' } }],
    ['a bucket that is not a number', { ...key, B: { N: 'ten' } }],
    ['a shard with two types', { ...key, S: { N: '2', S: '2' } }],
    ['a null shard', { ...key, S: null }],
    ['the default shape\'s names', { Sesion_Id: { S: 'abc' }, Expire_Shard: { N: '2' }, Expire_Bucket: { N: '10' } }]
  ]
  for (const [name, start] of rejected) t.equal(finder.isCursor(start as never), false, name)
})

t.test('buildRebucketInput: every case', async (t) => {
  t.equal(buildRebucketInput(CUSTOM, 'abc', { Id: { S: 'abc' }, Exp: { N: '125' }, B: { N: '2' } }), undefined,
    'the bucket is right: nothing to write')
  t.strictSame(buildRebucketInput(CUSTOM, 'abc', { Id: { S: 'abc' }, Exp: { N: '725' }, B: { N: '2' } }), {
    TableName: 'Tbl',
    Key: { Id: { S: 'abc' } },
    UpdateExpression: 'SET #bucket = :bucket',
    ConditionExpression: '#exp = :seen',
    ExpressionAttributeNames: { '#bucket': 'B', '#exp': 'Exp' },
    ExpressionAttributeValues: { ':bucket': { N: '12' }, ':seen': { N: '725' } }
  }, 'stale: the bucket of the expiry read, conditionally on that expiry')
  t.strictSame(buildRebucketInput(CUSTOM, 'abc', { Id: { S: 'abc' }, Exp: { N: '725' } })?.ExpressionAttributeValues,
    { ':bucket': { N: '12' }, ':seen': { N: '725' } }, 'no bucket at all: set it')
  t.strictSame(buildRebucketInput(CUSTOM, 'abc', { Id: { S: 'abc' }, Exp: { S: 'never' }, B: { N: '2' } }), {
    TableName: 'Tbl',
    Key: { Id: { S: 'abc' } },
    UpdateExpression: 'REMOVE #bucket',
    ConditionExpression: '#exp = :seen',
    ExpressionAttributeNames: { '#bucket': 'B', '#exp': 'Exp' },
    ExpressionAttributeValues: { ':seen': { S: 'never' } }
  }, 'an expiry that is not a number: the row leaves the index, if the expiry is still the one read')
  t.strictSame(buildRebucketInput(CUSTOM, 'abc', { Id: { S: 'abc' }, B: { N: '2' } }), {
    TableName: 'Tbl',
    Key: { Id: { S: 'abc' } },
    UpdateExpression: 'REMOVE #bucket',
    ConditionExpression: 'attribute_exists(#id) AND attribute_not_exists(#exp)',
    ExpressionAttributeNames: { '#bucket': 'B', '#exp': 'Exp', '#id': 'Id' }
  }, 'no expiry at all: removed while the row exists and still has none')
  t.equal(buildRebucketInput(CUSTOM, 'abc', { Id: { S: 'abc' } }), undefined, 'no expiry and no bucket: not in the index')
  t.equal(buildRebucketInput(CUSTOM, 'abc', { Id: { S: 'abc' }, Exp: { S: 'never' } }), undefined, 'invalid expiry, no bucket: nothing')
  t.strictSame(buildRebucketInput(SHAPE, 'abc', { Sesion_Id: { S: 'abc' }, Expire_Session: { N: '1800000300' }, Expire_Bucket: { N: '5' } })
    ?.ExpressionAttributeValues, { ':bucket': { N: '6000001' }, ':seen': { N: '1800000300' } }, 'the default names and width')
})

t.test('index passes against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const recorded = recordCommands(client)
  // 1_800_000_000 (the fake clock's start) is a multiple of 300: the default buckets end there.
  const indexed = (table: string): IndexedShape => reaperOptions(table, { strategy: 'index' }) as IndexedShape
  /** The index finder of `table`, counting the entries its Queries return, with `between` run after each page. */
  function countingFinder (table: string, time: FakeTime, between: (rows: readonly FoundRow[]) => Promise<void> = async () => {}): {
    finder: ExpiryFinder
    entries: () => number
  } {
    const shape = indexed(table)
    const inner = new IndexFinder(shape, () => firstUnfinishedBucket(dueCutoff(time.seconds, 0), shape.expiryIndex.bucketSeconds))
    let entries = 0
    const finder = withPages(inner, async (calls, stream, start, limit) => {
      const page = await inner.page(calls, stream, start, limit)
      entries += page.rows.length
      await between(page.rows)
      return page
    })
    return { finder, entries: () => entries }
  }

  t.test('deletes exactly the rows of finished buckets; the lag is each row\'s real expiry', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const base = time.seconds
    await seedRows(client, table, [
      { id: sessionId(1, 'dead'), expiresAt: base - 1000 },
      { id: sessionId(2, 'dead'), expiresAt: base - 400 },
      { id: sessionId(3, 'dead'), expiresAt: base - 1 },
      { id: sessionId(4, 'soon'), expiresAt: base + 50 },
      { id: sessionId(5, 'soon'), expiresAt: base + 60 },
      { id: sessionId(6, 'live'), expiresAt: base + 86_400 }
    ])
    const registry = new Registry()
    const metrics = createMetrics(registry)
    const lags: number[] = []
    const reaper = makeReaper(t, client, table, { strategy: 'index' }, {
      now: time.now, sleep: time.sleep, observer: { ...metrics, ttlLag: (lag) => { lags.push(lag); metrics.ttlLag(lag) } }
    })
    time.advance(100_000)
    const first = await reaper.runOnce()
    // Bucket 6,000,000 (base to base + 299) is not finished at base + 100: its expired row waits for the next pass.
    t.match(first, { result: 'success', strategy: 'index', scanned: 3, expired: 3, deleted: 3, conflicts: 0, repaired: 0, active: 0, maxLagSeconds: 1100 })
    t.strictSame(lags.sort((a, b) => a - b), [101, 500, 1100], 'from the expiry each delete returned, not the bucket\'s end')
    const histogram = await registry.getSingleMetric(METRIC_NAMES.ttlLagSeconds)!.get()
    const sum = histogram.values.find((v) => (v as { metricName?: string }).metricName === `${METRIC_NAMES.ttlLagSeconds}_sum`)
    t.equal(sum?.value, 1701, 'the lag histogram\'s sum')
    t.strictSame(await tableIds(client, table), [LEASE_ID, sessionId(6, 'live'), sessionId(4, 'soon'), sessionId(5, 'soon')].sort())

    time.advance(200_000)
    const second = await reaper.runOnce()
    t.match(second, { result: 'success', scanned: 2, deleted: 2 }, 'the bucket has passed: both of its rows')
    // The fake clock moves while the pass waits on its budgets (more on moto, whose capacity figures are constants).
    t.ok(second.maxLagSeconds >= 250 && second.maxLagSeconds <= 250 + Math.ceil(second.durationSeconds), `the older one's lag (${second.maxLagSeconds} s)`)
    t.strictSame(await tableIds(client, table), [LEASE_ID, sessionId(6, 'live')].sort(), 'the live row stays')
  })

  t.test('a row refreshed into a later bucket between the Query and the delete is kept', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const base = time.seconds
    const refreshed = sessionId(1, 'kept')
    await seedRows(client, table, [{ id: refreshed, expiresAt: base - 10 }, { id: sessionId(2, 'dead'), expiresAt: base - 10 }])
    const shape = indexed(table)
    let refreshes = 0
    const { finder, entries } = countingFinder(table, time, async (rows) => {
      if (!rows.some((row) => row.id === refreshed)) return
      // An instance whose clock is 20 s behind still sees the session live and refreshes it, as the plugin does.
      await client.send(new UpdateItemCommand(buildUpdateInput(shape, { id: refreshed, nowSec: base - 20, expiresAt: base + 3580 })))
      refreshes++
    })
    const reaper = makeReaper(t, client, table, { strategy: 'index' }, { now: time.now, sleep: time.sleep, finder })
    t.match(await reaper.runOnce(), { result: 'success', scanned: 2, expired: 2, deleted: 1, conflicts: 1, repaired: 0 })
    t.equal(refreshes, 1)
    t.match(await getRow(client, table, refreshed), { Expire_Session: { N: String(base + 3580) }, Expire_Bucket: { N: String(bucketOf(base + 3580, 300)) } },
      'kept, in its new bucket (the plugin moved it: nothing to repair)')
    t.equal(await getRow(client, table, sessionId(2, 'dead')), undefined)
    const before = entries()
    time.advance(300_000)
    t.match(await reaper.runOnce(), { result: 'success', scanned: 0, conflicts: 0 })
    t.equal(entries() - before, 0, 'the next pass does not read it')
  })

  t.test('a stale bucket is re-bucketed on its first conflict and not read again', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const base = time.seconds
    const stale = sessionId(1, 'stale')
    // An older writer extended the expiry by an hour without moving the bucket.
    await seedRows(client, table, [{ id: stale, expiresAt: base + 3600, bucket: bucketOf(base - 600, 300) }, { id: sessionId(2, 'dead'), expiresAt: base - 600 }])
    const { finder, entries } = countingFinder(table, time)
    const reaper = makeReaper(t, client, table, { strategy: 'index' }, { now: time.now, sleep: time.sleep, finder })
    recorded.reset()
    t.match(await reaper.runOnce(), { result: 'success', scanned: 2, deleted: 1, conflicts: 1, repaired: 1 })
    // The pass's reads of the row, before this test reads it.
    const reads = recorded.commands.filter((c) => c.name === 'GetItem' && (c.input.Key as { Sesion_Id?: { S?: string } }).Sesion_Id?.S === stale)
    const row = await getRow(client, table, stale)
    t.equal(row?.Expire_Session?.N, String(base + 3600), 'the row is kept')
    t.equal(row?.Expire_Bucket?.N, String(bucketOf(base + 3600, 300)), 'its bucket now follows its expiry')
    const deletes = recorded.commands.filter((c) => c.name === 'DeleteItem')
    t.ok(deletes.every((c) => c.input.ReturnValues === 'ALL_OLD' && c.input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD'))
    t.equal(reads.length, CAN.returnValuesOnConditionCheckFailure ? 0 : 1,
      CAN.returnValuesOnConditionCheckFailure ? 'the failed delete returned the row: no GetItem' : 'the target returns nothing on a failed condition: one GetItem')
    const before = entries()
    for (let pass = 0; pass < 3; pass++) {
      time.advance(300_000)
      t.match(await reaper.runOnce(), { result: 'success', scanned: 0, conflicts: 0, repaired: 0 }, `pass ${pass + 2}: nothing found`)
    }
    t.equal(entries() - before, 0, 'no Query returned it again')
  })
})

t.test('regression: an index pass over 16 shards sets off no MaxListenersExceededWarning', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = await createTable(client)
  const time = fakeTime()
  await seedRows(client, table, Array.from({ length: 32 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 600 })))
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(warning.name) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  // Sixteen Queries in flight at once, each listening on the pass's abort signal (the default shards).
  const report = await makeReaper(t, client, table, { strategy: 'index' }, { now: time.now, sleep: time.sleep }).runOnce()
  t.match(report, { result: 'success', deleted: 32 })
  // Warnings are emitted on the next tick.
  await new Promise((resolve) => setImmediate(resolve))
  t.strictSame(warnings.filter((name) => name === 'MaxListenersExceededWarning'), [])
})
