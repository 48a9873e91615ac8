import t from 'tap'
import { resolveTableShape } from '../../src/options.js'
import { NOT_TOMBSTONE, TOMBSTONE_ATTRIBUTE, buildTombstoneInput, isTombstoneItem } from '../../src/store/tombstone.js'

const SHAPE = resolveTableShape({})

t.test('the tombstone: key, expiry and marker only, replacing a live session row whole', async (t) => {
  t.strictSame(buildTombstoneInput(SHAPE, 'abc', 1000, 60), {
    TableName: 'ManejoSesion',
    Item: { Sesion_Id: { S: 'abc' }, Expire_Session: { N: '1060' }, Superseded_At: { N: '1000' } },
    ConditionExpression: 'attribute_exists(#id) AND #exp > :now AND attribute_not_exists(#tomb)',
    ExpressionAttributeNames: { '#id': 'Sesion_Id', '#exp': 'Expire_Session', '#tomb': 'Superseded_At' },
    ExpressionAttributeValues: { ':now': { N: '1000' } }
  })
  const custom = resolveTableShape({ tableName: 'other', idAttribute: 'pk', expiresAttribute: 'ttl' })
  t.strictSame(buildTombstoneInput(custom, 'abc', 5, 1).Item, { pk: { S: 'abc' }, ttl: { N: '6' }, Superseded_At: { N: '5' } })
})

t.test('the predicate and the condition fragment', async (t) => {
  t.equal(TOMBSTONE_ATTRIBUTE, 'Superseded_At')
  t.equal(NOT_TOMBSTONE, 'attribute_not_exists(#tomb)')
  t.equal(isTombstoneItem({ Sesion_Id: { S: 'a' }, Superseded_At: { N: '1' } }), true)
  t.equal(isTombstoneItem({ Sesion_Id: { S: 'a' }, Expire_Session: { N: '1' }, Data: { M: {} } }), false)
})
