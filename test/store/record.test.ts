import t from 'tap'
import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import { isLiveSession } from '../../src/expiry.js'
import { resolveOptions } from '../../src/options.js'
import { parseItem } from '../../src/store/record.js'

const SHAPE = resolveOptions({ secret: 'a-test-secret-that-is-long-enough-0123456789' })

t.test('parseItem: a tutorial row (id and expiry only) is an empty session without the data map', async (t) => {
  const stored = parseItem(SHAPE, { Sesion_Id: { S: 'tutorial-row-0000001' }, Expire_Session: { N: '1800000300' } })
  t.strictSame(stored, {
    id: 'tutorial-row-0000001',
    expiresAt: 1800000300,
    createdAt: undefined,
    touchedAt: undefined,
    data: {},
    hasDataMap: false,
    superseded: false
  })
  t.ok(isLiveSession(stored, 1800000299))
  t.notOk(isLiveSession(stored, 1800000300), 'expired at the expiry second')

  const ours = parseItem(SHAPE, {
    Sesion_Id: { S: 'x'.repeat(32) }, Expire_Session: { N: '200' }, Created_At: { N: '100' }, Touched_At: { N: '150' },
    Data: { M: { a: { N: '1' } } }
  })
  t.strictSame([ours.createdAt, ours.touchedAt, ours.data, ours.hasDataMap], [100, 150, { a: 1 }, true])
  // An empty map is still a map.
  t.equal(parseItem(SHAPE, { Sesion_Id: { S: 'a' }, Expire_Session: { N: '1' }, Data: { M: {} } }).hasDataMap, true)

  // Expiry in another type or unit than DynamoDB's TTL reads: never live.
  for (const expiry of [{ S: '1800000300' }, { NULL: true }, undefined] as Array<AttributeValue | undefined>) {
    const row: Record<string, AttributeValue> = { Sesion_Id: { S: 'a' } }
    if (expiry !== undefined) row.Expire_Session = expiry
    const s = parseItem(SHAPE, row)
    t.ok(Number.isNaN(s.expiresAt))
    t.notOk(isLiveSession(s, 0))
  }
  // A data attribute of another type is not a map.
  t.equal(parseItem(SHAPE, { Sesion_Id: { S: 'a' }, Expire_Session: { N: '1' }, Data: { S: 'x' } }).hasDataMap, false)
  // Custom attribute names.
  const custom = { ...SHAPE, idAttribute: 'pk', expiresAttribute: 'ttl', dataAttribute: 'd' }
  t.strictSame(parseItem(custom, { pk: { S: 'id' }, ttl: { N: '5' }, d: { M: { k: { S: 'v' } } } }).data, { k: 'v' })
})
