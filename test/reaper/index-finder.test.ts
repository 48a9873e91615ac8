import t from 'tap'
import { resolveOptions } from '../../src/options.js'
import { IndexFinder, buildIndexQueryInput, buildRebucketInput, parseIndexEntry, type IndexedShape } from '../../src/reaper/index-finder.js'
import { SECRET } from '../helpers/app.js'

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
