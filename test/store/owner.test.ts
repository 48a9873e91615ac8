import t from 'tap'
import { resolveTableShape } from '../../src/options.js'
import { buildCreateInput, buildUpdateInput } from '../../src/store/commands.js'
import {
  BATCH_GET_MAX_KEYS, HANDLE_LENGTH, buildBatchGetInput, buildOwnerDeleteInput, buildOwnerQueryInput, handleOf, validateLabel, validateOwner
} from '../../src/store/owner.js'
import { buildTombstoneInput } from '../../src/store/tombstone.js'

// The owner's pure builders: what a row carries, and the calls of listByOwner and destroyByOwner.

const shape = resolveTableShape({ tableName: 'sessions' })
const index = shape.ownerIndex === false ? undefined : shape.ownerIndex
if (index === undefined) throw new Error('the owner index is on by default')
const SECRET_A = 'a'.repeat(32)
const SECRET_B = 'b'.repeat(32)

t.test('validateOwner: a non-empty string of at most 256 characters; validateLabel: a string of at most 256', async (t) => {
  t.equal(validateOwner('u'), 'u')
  t.equal(validateOwner('x'.repeat(256)), 'x'.repeat(256))
  for (const bad of ['', 'x'.repeat(257), 42, null, undefined, ['u']]) {
    t.throws(() => validateOwner(bad), { code: 'FST_DYNAMO_SESSION_INVALID_OWNER' }, String(bad).slice(0, 20))
  }
  const err = t.throws(() => validateOwner('secret-user@example.com'.repeat(20))) as Error
  t.notMatch(err.message, /example\.com/, 'the owner is never in the message')
  t.equal(validateLabel(''), '')
  t.equal(validateLabel('y'.repeat(256)), 'y'.repeat(256))
  for (const bad of ['y'.repeat(257), 1, null]) t.throws(() => validateLabel(bad), { code: 'FST_DYNAMO_SESSION_INVALID_LABEL' })
})

t.test('handleOf: stable, short, per secret, per id, and not the id', async (t) => {
  const id = 'q0Vb0Zz7d3Yk2m2r0GQ8hW5lI1xQ9cPe'
  t.equal(handleOf(SECRET_A, id), handleOf(SECRET_A, id))
  t.equal(handleOf(SECRET_A, id).length, HANDLE_LENGTH)
  t.match(handleOf(SECRET_A, id), /^[A-Za-z0-9_-]+$/)
  t.not(handleOf(SECRET_A, id), handleOf(SECRET_B, id))
  t.not(handleOf(SECRET_A, id), handleOf(SECRET_A, id.slice(1) + 'x'))
  t.notOk(handleOf(SECRET_A, id).includes(id.slice(0, 8)))
})

t.test('rows carry the owner and the label only when set; a refresh writes neither; a tombstone never has them', async (t) => {
  const base = { id: 'sid', data: {}, nowSec: 100, createdAt: 100, expiresAt: 400 }
  const plain = buildCreateInput(shape, base).Item!
  t.equal(plain.Owner_Id, undefined)
  t.equal(plain.Session_Label, undefined)
  const owned = buildCreateInput(shape, { ...base, owner: 'u', label: 'phone' }).Item!
  t.strictSame([owned.Owner_Id, owned.Session_Label], [{ S: 'u' }, { S: 'phone' }])

  const refresh = buildUpdateInput(shape, { id: 'sid', nowSec: 200, expiresAt: 500 })
  t.notMatch(refresh.UpdateExpression!, /#owner|#label/)
  t.notOk(Object.values(refresh.ExpressionAttributeNames!).includes('Owner_Id'))
  const login = buildUpdateInput(shape, { id: 'sid', nowSec: 200, expiresAt: 500, owner: 'u' })
  t.match(login.UpdateExpression!, /#owner = :owner/)
  t.notMatch(login.UpdateExpression!, /#label/)
  t.strictSame(login.ExpressionAttributeValues![':owner'], { S: 'u' })

  const tombstone = buildTombstoneInput(shape, 'sid', 200, 60).Item!
  t.strictSame(Object.keys(tombstone).sort(), ['Expire_Session', 'Sesion_Id', 'Superseded_At'])
  const off = resolveTableShape({ tableName: 'sessions', ownerIndex: false })
  t.equal(buildCreateInput(off, { ...base, owner: 'u' }).Item!.Owner_Id, undefined, 'ownerIndex: false writes no owner')
})

t.test('the owner calls: a Query of the index, BatchGetItem of at most 100 keys, a conditional delete', async (t) => {
  const query = buildOwnerQueryInput(shape, index, 'u', { Sesion_Id: { S: 'x' }, Owner_Id: { S: 'u' } }, 2)
  t.match(query, { IndexName: 'Owner_Index', KeyConditionExpression: '#owner = :owner', Limit: 2, ExclusiveStartKey: { Sesion_Id: { S: 'x' } } })
  t.equal(buildOwnerQueryInput(shape, index, 'u', undefined, undefined).Limit, undefined)
  t.equal(BATCH_GET_MAX_KEYS, 100)
  const batch = buildBatchGetInput(shape, index, ['a', 'b'], false)
  t.strictSame(batch.RequestItems!.sessions!.Keys, [{ Sesion_Id: { S: 'a' } }, { Sesion_Id: { S: 'b' } }])
  t.equal(batch.RequestItems!.sessions!.ConsistentRead, false)
  const del = buildOwnerDeleteInput(shape, index, 'sid', 'u', 300)
  t.equal(del.ConditionExpression, '#owner = :owner AND #exp > :now AND attribute_not_exists(#tomb)')
  t.strictSame(del.ExpressionAttributeValues, { ':owner': { S: 'u' }, ':now': { N: '300' } })
})
