import t from 'tap'
import { resolveOptions } from '../../src/options.js'
import { buildCreateInput, buildDeleteInput, buildGetInput, buildUpdateInput } from '../../src/store/commands.js'
import type { JsonValue } from '../../src/store/json.js'
import { shardOf } from '../../src/store/expiry-index.js'

const SHAPE = resolveOptions({ secret: 'a-test-secret-that-is-long-enough-0123456789' })
const NO_INDEX = resolveOptions({ secret: 'a-test-secret-that-is-long-enough-0123456789', expiryIndex: false })
const INDEX_SETS = ', #bucket = :bucket, #shard = if_not_exists(#shard, :shard)'
const INDEX_NAMES = { '#bucket': 'Expire_Bucket', '#shard': 'Expire_Shard' }
const indexValues = (id: string, expiresAt: number): Record<string, { N: string }> =>
  ({ ':bucket': { N: String(Math.floor(expiresAt / 300)) }, ':shard': { N: String(shardOf(id, 16)) } })

t.test('get, delete and create inputs', async (t) => {
  t.strictSame(buildGetInput(SHAPE, 'abc', true), { TableName: 'ManejoSesion', Key: { Sesion_Id: { S: 'abc' } }, ConsistentRead: true })
  t.strictSame(buildGetInput(SHAPE, 'abc', false).ConsistentRead, false)
  t.strictSame(buildDeleteInput(SHAPE, 'abc'), {
    TableName: 'ManejoSesion',
    Key: { Sesion_Id: { S: 'abc' } },
    ConditionExpression: 'attribute_not_exists(#tomb)',
    ExpressionAttributeNames: { '#tomb': 'Superseded_At' }
  }, 'never a tombstone')
  const create = buildCreateInput(SHAPE, { id: 'abc', data: { a: 1 }, nowSec: 10, createdAt: 9, expiresAt: 310 })
  t.strictSame(create.Item, {
    Sesion_Id: { S: 'abc' }, Expire_Session: { N: '310' }, Created_At: { N: '9' }, Touched_At: { N: '10' }, Data: { M: { a: { N: '1' } } },
    Expire_Shard: { N: String(shardOf('abc', 16)) }, Expire_Bucket: { N: '1' }
  }, 'with its shard and its bucket, floor(310 / 300)')
  t.notOk('Expire_Bucket' in (buildCreateInput(NO_INDEX, { id: 'abc', data: {}, nowSec: 1, createdAt: 1, expiresAt: 2 }).Item ?? {}), 'expiryIndex: false writes no bucket')
  t.equal(create.ConditionExpression, 'attribute_not_exists(#id)')
  t.strictSame(create.ExpressionAttributeNames, { '#id': 'Sesion_Id' })
  t.strictSame(buildCreateInput(SHAPE, { id: 'abc', data: {}, nowSec: 1, createdAt: 1, expiresAt: 2 }).Item?.Data, { M: {} }, 'rows we create always carry the map')
})

t.test('buildUpdateInput: per-key SET and REMOVE, conditional on a live row', async (t) => {
  const input = buildUpdateInput(SHAPE, {
    id: 'abc',
    nowSec: 1000,
    expiresAt: 1300,
    changes: new Map<string, JsonValue | undefined>([['name', 'ana'], ['gone', undefined], ['a.b', { x: [1] }]])
  })
  t.equal(input.TableName, 'ManejoSesion')
  t.strictSame(input.Key, { Sesion_Id: { S: 'abc' } })
  t.equal(input.UpdateExpression,
    'SET #exp = :exp, #touched = :now, #created = if_not_exists(#created, :now)' + INDEX_SETS + ', #data.#k0 = :v0, #data.#k2 = :v2 REMOVE #data.#k1')
  t.equal(input.ConditionExpression, 'attribute_exists(#id) AND #exp > :now AND attribute_not_exists(#tomb)')
  t.strictSame(input.ExpressionAttributeNames, {
    '#id': 'Sesion_Id', '#exp': 'Expire_Session', '#touched': 'Touched_At', '#created': 'Created_At', '#data': 'Data',
    '#tomb': 'Superseded_At', '#k0': 'name', '#k1': 'gone', '#k2': 'a.b', ...INDEX_NAMES
  })
  t.strictSame(input.ExpressionAttributeValues, {
    ':exp': { N: '1300' }, ':now': { N: '1000' }, ':v0': { S: 'ana' }, ':v2': { M: { x: { L: [{ N: '1' }] } } }, ...indexValues('abc', 1300)
  })

  const touchOnly = buildUpdateInput(SHAPE, { id: 'abc', nowSec: 1000, expiresAt: 1300 })
  t.equal(touchOnly.UpdateExpression, 'SET #exp = :exp, #touched = :now, #created = if_not_exists(#created, :now)' + INDEX_SETS)
  t.equal(buildUpdateInput(NO_INDEX, { id: 'abc', nowSec: 1000, expiresAt: 1300 }).UpdateExpression,
    'SET #exp = :exp, #touched = :now, #created = if_not_exists(#created, :now)', 'expiryIndex: false: no bucket, no shard')
  t.notOk('#data' in (touchOnly.ExpressionAttributeNames ?? {}), 'an expiry refresh does not name the data map')
  t.equal(buildUpdateInput(SHAPE, { id: 'abc', nowSec: 1, expiresAt: 2, changes: new Map() }).UpdateExpression, touchOnly.UpdateExpression)

  const onlyRemove = buildUpdateInput(SHAPE, { id: 'abc', nowSec: 1, expiresAt: 2, changes: new Map([['x', undefined]]) })
  t.match(onlyRemove.UpdateExpression, / REMOVE #data\.#k0$/)
  t.strictSame(onlyRemove.ExpressionAttributeValues, { ':exp': { N: '2' }, ':now': { N: '1' }, ...indexValues('abc', 2) }, 'no unused values (DynamoDB rejects them)')
})

t.test('buildUpdateInput: whole-map mode for a row without the map', async (t) => {
  const input = buildUpdateInput(SHAPE, { id: 'abc', nowSec: 1000, expiresAt: 1300, wholeData: { a: 1, b: 'x' } })
  t.equal(input.UpdateExpression, 'SET #exp = :exp, #touched = :now, #created = if_not_exists(#created, :now)' + INDEX_SETS + ', #data = :data')
  t.equal(input.ConditionExpression, 'attribute_exists(#id) AND #exp > :now AND attribute_not_exists(#tomb) AND attribute_not_exists(#data)')
  t.strictSame(input.ExpressionAttributeValues?.[':data'], { M: { a: { N: '1' }, b: { S: 'x' } } })
  t.equal(input.ExpressionAttributeNames?.['#data'], 'Data')
  const empty = buildUpdateInput(SHAPE, { id: 'abc', nowSec: 1, expiresAt: 2, wholeData: {} })
  t.strictSame(empty.ExpressionAttributeValues?.[':data'], { M: {} })
})
