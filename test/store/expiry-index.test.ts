import t from 'tap'
import fc from 'fast-check'
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { bucketEnd, bucketOf, dueCutoff, firstUnfinishedBucket, isDue } from '../../src/expiry.js'
import { resolveExpiryIndex, type ExpiryIndexShape } from '../../src/options.js'
import { indexItemAttributes, indexUpdateParts, shardOf } from '../../src/store/expiry-index.js'
import { createHash } from 'node:crypto'
import { TOMBSTONE_ATTRIBUTE } from '../../src/store/tombstone.js'
import { assertProperty } from '../helpers/property.js'
import { buildApp, cookieFrom, fakeClock } from '../helpers/app.js'
import { createTable, getRow, makeClient, startDynalite } from '../helpers/dynamo.js'

const INDEX = resolveExpiryIndex(undefined) as ExpiryIndexShape
// Epoch seconds from 1970 to well past 2100, and bucket widths from 1 s to a day.
const expiry = fc.integer({ min: 0, max: 2 ** 33 })
const width = fc.integer({ min: 1, max: 86_400 })

t.test('shardOf: FNV-1a (32 bits) of the id, stable across versions', async (t) => {
  // Published FNV-1a 32-bit hashes: '' is the offset basis 0x811c9dc5, 'abc' is 0x1a47e90b.
  t.equal(shardOf('', 2 ** 31), 0x811c9dc5 % 2 ** 31)
  t.equal(shardOf('abc', 2 ** 31), 0x1a47e90b % 2 ** 31)
  t.equal(shardOf('abc', 16), 0x1a47e90b % 16)
  // Rows written by this version keep these shards in every later one: changing them would strand index entries.
  t.strictSame(
    ['abc', 'sess0000000000000001', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'é'].map((id) => [shardOf(id, 16), shardOf(id, 1000)]),
    [[11, 331], [0, 504], [5, 405], [4, 940]]
  )
  t.equal(shardOf('anything', 1), 0, 'one shard: always 0')
})

t.test('shardOf: an integer in [0, shards) for any id and shard count', async () => {
  await assertProperty(fc.asyncProperty(fc.string({ maxLength: 200 }), fc.integer({ min: 1, max: 1000 }), async (id, shards) => {
    const shard = shardOf(id, shards)
    if (!Number.isInteger(shard) || shard < 0 || shard >= shards) throw new Error(`shardOf(${JSON.stringify(id)}, ${shards}) = ${shard}`)
    if (shardOf(id, shards) !== shard) throw new Error('not deterministic')
  }))
})

/** Fails unless every shard of `counts` is within `sigmas` standard deviations of an even spread of `total` ids. */
function assertEven (counts: readonly number[], total: number, sigmas: number): void {
  const p = 1 / counts.length
  const expected = total * p
  const deviation = sigmas * Math.sqrt(total * p * (1 - p))
  counts.forEach((count, shard) => {
    if (Math.abs(count - expected) > deviation) throw new Error(`shard ${shard}: ${count} ids, expected ${expected} ± ${deviation.toFixed(1)}`)
  })
}

t.test('shardOf spreads ids evenly over the shards (property)', async (t) => {
  // 3,200 ids over 16 shards: 200 ± 13.7 each (binomial); 6σ makes a false failure about one in 10^8 runs per shard.
  // Ids like the plugin's (32 base64url characters of random bytes), derived from the property's seed to replay.
  await assertProperty(fc.asyncProperty(fc.integer({ min: 2, max: 64 }), fc.integer(), async (shards, seed) => {
    const total = shards * 200
    const counts = new Array<number>(shards).fill(0)
    for (let i = 0; i < total; i++) counts[shardOf(createHash('sha256').update(`${seed}:${i}`).digest('base64url').slice(0, 32), shards)]!++
    assertEven(counts, total, 6)
  }), { numRuns: 20 })
  // The ids the suite seeds differ in their last digits only: they spread too.
  const counts = new Array<number>(16).fill(0)
  for (let i = 0; i < 3200; i++) counts[shardOf(`sess${String(i).padStart(16, '0')}`, 16)]!++
  t.doesNotThrow(() => assertEven(counts, 3200, 6), 'sequential ids')
})

t.test('bucketOf, bucketEnd and firstUnfinishedBucket at their boundaries', async (t) => {
  t.strictSame([0, 299, 300, 599, 600].map((e) => bucketOf(e, 300)), [0, 0, 1, 1, 2])
  t.strictSame([0, 1, 2].map((b) => bucketEnd(b, 300)), [299, 599, 899])
  t.equal(bucketOf(1_800_000_123, 1), 1_800_000_123, 'one-second buckets: the expiry itself')
  // At cutoff 600 every expiry of buckets 0 and 1 (0..599) is below it; bucket 2 starts at 600.
  t.strictSame([599, 600, 601, 899, 900].map((c) => firstUnfinishedBucket(c, 300)), [1, 2, 2, 2, 3])
})

t.test('every bucket below firstUnfinishedBucket(cutoff) holds only expiries below the cutoff (property)', async () => {
  await assertProperty(fc.asyncProperty(expiry, expiry, width, async (expiresAt, cutoff, seconds) => {
    const below = bucketOf(expiresAt, seconds) < firstUnfinishedBucket(cutoff, seconds)
    if (below && !(expiresAt < cutoff)) throw new Error(`expiry ${expiresAt} in a finished bucket at cutoff ${cutoff}`)
    // And no expired row waits more than one bucket: an expiry a whole bucket before the cutoff is found.
    if (expiresAt < cutoff - seconds + 1 && !below) throw new Error(`expiry ${expiresAt} missed at cutoff ${cutoff}`)
  }), { numRuns: 2000 })
})

t.test('bucketEnd is the latest expiry of its bucket; an index entry of a finished bucket is due (property)', async () => {
  await assertProperty(fc.asyncProperty(expiry, width, fc.integer({ min: 0, max: 3600 }), async (expiresAt, seconds, grace) => {
    const bucket = bucketOf(expiresAt, seconds)
    const end = bucketEnd(bucket, seconds)
    if (!(expiresAt <= end) || bucketOf(end, seconds) !== bucket || bucketOf(end + 1, seconds) !== bucket + 1) {
      throw new Error(`bucketEnd(${bucket}, ${seconds}) = ${end} for expiry ${expiresAt}`)
    }
    // The finder reports an entry's expiry as its bucket's end: the sweep must classify it due at the same cutoff.
    const nowSec = expiresAt + grace
    const cutoff = dueCutoff(nowSec, grace)
    if (bucket < firstUnfinishedBucket(cutoff, seconds) && !isDue(end, nowSec, grace)) throw new Error(`bucket ${bucket} not due at ${nowSec}`)
  }), { numRuns: 2000 })
})

t.test('indexItemAttributes and indexUpdateParts: the shard of the id, the bucket of the expiry', async (t) => {
  const custom: ExpiryIndexShape = { indexName: 'I', attribute: 'B', shardAttribute: 'S', shards: 7, bucketSeconds: 60 }
  t.strictSame(indexItemAttributes(INDEX, 'abc', 1_800_000_299), {
    Expire_Shard: { N: String(0x1a47e90b % 16) },
    Expire_Bucket: { N: String(Math.floor(1_800_000_299 / 300)) }
  })
  t.strictSame(indexItemAttributes(custom, 'abc', 125), { S: { N: String(0x1a47e90b % 7) }, B: { N: '2' } }, 'the configured names, shards and width')
  t.strictSame(indexUpdateParts(custom, 'abc', 125), {
    sets: ['#bucket = :bucket', '#shard = if_not_exists(#shard, :shard)'],
    names: { '#bucket': 'B', '#shard': 'S' },
    values: { ':bucket': { N: '2' }, ':shard': { N: String(0x1a47e90b % 7) } }
  }, 'the bucket always, the shard only where the row has none')
})

/** Every entry of the expiry index (a Query per shard): what a reaper pass could find. */
async function indexEntries (client: DynamoDBClient, tableName: string): Promise<Array<{ id: string, shard: number, bucket: number }>> {
  const entries: Array<{ id: string, shard: number, bucket: number }> = []
  for (let shard = 0; shard < INDEX.shards; shard++) {
    let start: Record<string, AttributeValue> | undefined
    do {
      const out = await client.send(new QueryCommand({
        TableName: tableName,
        IndexName: INDEX.indexName,
        KeyConditionExpression: '#shard = :shard',
        ExpressionAttributeNames: { '#shard': INDEX.shardAttribute },
        ExpressionAttributeValues: { ':shard': { N: String(shard) } },
        ExclusiveStartKey: start
      }))
      for (const item of out.Items ?? []) {
        entries.push({ id: item.Sesion_Id?.S ?? '', shard: Number(item[INDEX.shardAttribute]?.N), bucket: Number(item[INDEX.attribute]?.N) })
      }
      start = out.LastEvaluatedKey
    } while (start !== undefined)
  }
  return entries.sort((a, b) => a.id.localeCompare(b.id))
}

t.test('through the plugin: every session write sets the bucket; the index follows', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  // 100-second buckets, sessions of 120 s refreshed after 10 s; the clock starts at a bucket boundary.
  const options = { ttlSeconds: 120, touchAfterSeconds: 10, expiryIndex: { bucketSeconds: 100 } }
  const bucket = (expiresAt: number): number => Math.floor(expiresAt / 100)
  const entry = (id: string, expiresAt: number): { id: string, shard: number, bucket: number } =>
    ({ id, shard: shardOf(id, INDEX.shards), bucket: bucket(expiresAt) })

  t.test('create, refresh inside a bucket, refresh across one, change, regenerate', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { ...options, now: clock.now })
    const created = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const id = created.json().id as string
    const cookie = cookieFrom(created.headers['set-cookie'])!
    let expiresAt = clock.seconds + 120
    t.match(await getRow(client, table, id), { Expire_Session: { N: String(expiresAt) }, Expire_Bucket: { N: String(bucket(expiresAt)) } })
    t.strictSame(await indexEntries(client, table), [entry(id, expiresAt)], 'create: the new row is in the index')

    // A refresh that moves the expiry by 11 s, inside its bucket (…120 to …131).
    clock.advance(11)
    await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    const refreshed = await getRow(client, table, id)
    t.equal(refreshed?.Expire_Session?.N, String(clock.seconds + 120), 'the expiry was refreshed')
    t.strictSame(await indexEntries(client, table), [entry(id, expiresAt)], 'inside the bucket: the index entry is unchanged')
    expiresAt = clock.seconds + 120

    // A refresh across the boundary (…131 to …211): the entry moves to the next bucket.
    clock.advance(80)
    await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    expiresAt = clock.seconds + 120
    t.equal(bucket(expiresAt), Number(refreshed?.Expire_Bucket?.N) + 1)
    t.strictSame(await indexEntries(client, table), [entry(id, expiresAt)], 'across a bucket: the entry moved, none left behind')

    // A change (before a refresh is due) writes the expiry, and so the bucket, too.
    clock.advance(100)
    await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { b: 2 } })
    expiresAt = clock.seconds + 120
    t.match(await getRow(client, table, id), { Data: { M: { b: { N: '2' } } }, Expire_Bucket: { N: String(bucket(expiresAt)) } })
    t.strictSame(await indexEntries(client, table), [entry(id, expiresAt)], 'change: the entry follows the expiry')

    // Regenerate: the new id has both attributes; the old id's tombstone has neither and is not in the index.
    const regenerated = await app.inject({ method: 'POST', url: '/regenerate', headers: { cookie } })
    const after = regenerated.json().after as string
    t.not(after, id)
    t.match(await getRow(client, table, after), { Expire_Shard: { N: String(shardOf(after, INDEX.shards)) }, Expire_Bucket: { N: String(bucket(expiresAt)) } })
    const tombstone = await getRow(client, table, id)
    t.ok(tombstone?.[TOMBSTONE_ATTRIBUTE] !== undefined, 'the old id holds a tombstone')
    t.strictSame([tombstone?.Expire_Bucket, tombstone?.Expire_Shard], [undefined, undefined], 'the tombstone has no bucket, no shard')
    t.strictSame(await indexEntries(client, table), [entry(after, expiresAt)], 'only the new session is in the index')
  })

  t.test('expiryIndex: false writes neither attribute', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { ttlSeconds: 120, touchAfterSeconds: 10, expiryIndex: false, now: clock.now })
    const created = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const id = created.json().id as string
    const cookie = cookieFrom(created.headers['set-cookie'])!
    clock.advance(100)
    await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    const row = await getRow(client, table, id)
    t.equal(row?.Expire_Session?.N, String(clock.seconds + 120), 'refreshed')
    t.strictSame([row?.Expire_Bucket, row?.Expire_Shard], [undefined, undefined])
    t.strictSame(await indexEntries(client, table), [], 'nothing in the index')
  })
})
