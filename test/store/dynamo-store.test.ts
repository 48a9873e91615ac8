import t from 'tap'
import { DeleteItemCommand, type ConsumedCapacity, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { resolveOptions, type TableShape } from '../../src/options.js'
import { DynamoStore } from '../../src/store/dynamo-store.js'
import type { OperationResult, StoreOperation } from '../../src/instrumentation.js'
import { newSessionId } from '../../src/ids.js'
import type { JsonValue } from '../../src/store/json.js'
import { countCalls, createTable, getRow, makeClient, putRow, startDynalite } from '../helpers/dynamo.js'
import { unitsFor } from '../helpers/target.js'

const SECRET = 'a-test-secret-that-is-long-enough-0123456789'
const NOW = 1_800_000_000
const TTL = 300

interface Seen { operation: StoreOperation, result: OperationResult, seconds: number, consumed: ConsumedCapacity | undefined }

/** Records the inputs of the commands a client sends, by SDK middleware. */
function recordInputs (t: { teardown (fn: () => unknown): void }, client: DynamoDBClient): Array<{ name: string, input: Record<string, unknown> }> {
  const seen: Array<{ name: string, input: Record<string, unknown> }> = []
  client.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push({ name: String(context.commandName).replace(/Command$/, ''), input: args.input as Record<string, unknown> })
      return await next(args)
    },
    { step: 'initialize', name: 'recordInputs' }
  )
  t.teardown(() => client.middlewareStack.remove('recordInputs'))
  return seen
}

const changes = (entries: Array<[string, JsonValue | undefined]>): Map<string, JsonValue | undefined> => new Map(entries)

t.test('DynamoStore against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await createTable(client, 'store')
  const shape: TableShape = resolveOptions({ secret: SECRET, tableName })
  let clockMs = NOW * 1000
  const seen: Seen[] = []
  const store = new DynamoStore(client, shape, () => clockMs, {
    operation: (operation, result, seconds, consumed) => { seen.push({ operation, result, seconds, consumed }) }
  })
  const row = async (id: string): Promise<Record<string, unknown> | undefined> => await getRow(client, tableName, id)
  const create = async (id: string, data: Record<string, JsonValue> = {}, createdAt = NOW, expiresAt = NOW + TTL): Promise<void> =>
    await store.create({ id, data, nowSec: createdAt, createdAt, expiresAt })
  const tutorialRow = async (id: string, expiresAt = NOW + TTL): Promise<void> =>
    await putRow(client, tableName, { Sesion_Id: { S: id }, Expire_Session: { N: String(expiresAt) } })
  t.beforeEach(() => { seen.length = 0; clockMs = NOW * 1000 })

  t.test('create then load', async (t) => {
    const id = newSessionId()
    await create(id, { user: 'ana', n: [1, 2] })
    t.strictSame(await store.load(id, true), {
      id, expiresAt: NOW + TTL, createdAt: NOW, touchedAt: NOW, data: { user: 'ana', n: [1, 2] }, hasDataMap: true, superseded: false
    })
    t.strictSame(await store.load(newSessionId(), false), undefined, 'an absent row loads as undefined')
  })

  t.test('load passes the requested consistency', async (t) => {
    const inputs = recordInputs(t, client)
    const id = newSessionId()
    await store.load(id, false)
    await store.load(id, true)
    t.strictSame(inputs.filter((c) => c.name === 'GetItem').map((c) => c.input.ConsistentRead), [false, true])
  })

  t.test('create never overwrites an existing row', async (t) => {
    const id = newSessionId()
    await create(id, { owner: 'first' })
    await t.rejects(create(id, { owner: 'second' }), { name: 'ConditionalCheckFailedException' })
    t.strictSame((await store.load(id, true))?.data, { owner: 'first' })
    // Not even an expired one, nor one written by other software.
    const expired = newSessionId()
    await create(expired, { old: true }, NOW - 1000, NOW - 700)
    await t.rejects(create(expired, { fresh: true }), { name: 'ConditionalCheckFailedException' })
    t.strictSame((await store.load(expired, true))?.data, { old: true })
    const tutorial = newSessionId()
    await tutorialRow(tutorial)
    await t.rejects(create(tutorial), { name: 'ConditionalCheckFailedException' })
    t.equal((await store.load(tutorial, true))?.hasDataMap, false)
  })

  t.test('update applies per-key changes and refreshes the expiry', async (t) => {
    const id = newSessionId()
    await create(id, { keep: 1, drop: 2, change: 3 })
    const ok = await store.update(id, NOW + 60, NOW + 60 + TTL, changes([['drop', undefined], ['change', 'new'], ['add', { x: [true] }]]), false)
    t.equal(ok, true)
    t.strictSame(await store.load(id, true), {
      id, expiresAt: NOW + 60 + TTL, createdAt: NOW, touchedAt: NOW + 60, data: { keep: 1, change: 'new', add: { x: [true] } }, hasDataMap: true, superseded: false
    })
    // No changes: only the expiry (and the touch time) move.
    t.equal(await store.update(id, NOW + 120, NOW + 120 + TTL, new Map(), false), true)
    const touched = await store.load(id, true)
    t.strictSame([touched?.expiresAt, touched?.touchedAt, touched?.createdAt], [NOW + 120 + TTL, NOW + 120, NOW])
    t.strictSame(touched?.data, { keep: 1, change: 'new', add: { x: [true] } })
  })

  t.test('keys DynamoDB would misread without attribute-name placeholders', async (t) => {
    const id = newSessionId()
    await create(id)
    const keys = ['a.b', 'Data', 'name', 'size', '#x', ':v0', 'with space', 'ü😀', '[0]', 'k'.repeat(255), 'é'.repeat(255)]
    t.equal(await store.update(id, NOW, NOW + TTL, changes(keys.map((k, i) => [k, i])), false), true)
    t.strictSame((await store.load(id, true))?.data, Object.fromEntries(keys.map((k, i) => [k, i])))
    t.equal(await store.update(id, NOW, NOW + TTL, changes(keys.map((k) => [k, undefined])), false), true)
    t.strictSame((await store.load(id, true))?.data, {})
  })

  t.test('update refuses a missing row and does not create it', async (t) => {
    const id = newSessionId()
    t.equal(await store.update(id, NOW, NOW + TTL, changes([['a', 1]]), false), false)
    t.equal(await store.update(id, NOW, NOW + TTL, new Map(), false), false, 'not even an expiry refresh')
    t.equal(await store.update(id, NOW, NOW + TTL, changes([['a', 1]]), true), false, 'nor with createMap')
    t.equal(await row(id), undefined)
  })

  t.test('update refuses an expired row and does not resurrect it', async (t) => {
    const id = newSessionId()
    await create(id, { a: 1 }, NOW - TTL - 10, NOW - 10)
    t.equal(await store.update(id, NOW, NOW + TTL, changes([['a', 2]]), false), false)
    t.equal(await store.update(id, NOW, NOW + TTL, new Map(), false), false)
    const after = await store.load(id, true)
    t.strictSame([after?.expiresAt, after?.data], [NOW - 10, { a: 1 }], 'the row is as it was')
    // Expiring this very second counts as expired, as on reads.
    const edge = newSessionId()
    await create(edge, {}, NOW - TTL, NOW)
    t.equal(await store.update(edge, NOW, NOW + TTL, changes([['b', 1]]), false), false)
    // A tutorial row that has expired cannot get a map either.
    const tutorial = newSessionId()
    await tutorialRow(tutorial, NOW - 1)
    t.equal(await store.update(tutorial, NOW, NOW + TTL, changes([['b', 1]]), true), false)
    t.equal((await store.load(tutorial, true))?.hasDataMap, false)
  })

  t.test('update after delete does not resurrect the row', async (t) => {
    const id = newSessionId()
    await create(id, { a: 1 })
    await store.delete(id)
    t.equal(await store.update(id, NOW, NOW + TTL, changes([['a', 2]]), false), false)
    t.equal(await row(id), undefined)
  })

  t.test('two writers changing different keys of one session both survive', async (t) => {
    const id = newSessionId()
    await create(id, { shared: 0, removeMe: true })
    const results = await Promise.all([
      store.update(id, NOW + 1, NOW + 1 + TTL, changes([['cart', ['book']], ['removeMe', undefined]]), false),
      store.update(id, NOW + 1, NOW + 1 + TTL, changes([['theme', 'dark']]), false),
      store.update(id, NOW + 1, NOW + 1 + TTL, changes([['visits', 3]]), false)
    ])
    t.strictSame(results, [true, true, true])
    t.strictSame((await store.load(id, true))?.data, { shared: 0, cart: ['book'], theme: 'dark', visits: 3 })
  })

  t.test('createMap on a tutorial row (id and expiry only) creates the map', async (t) => {
    const id = newSessionId()
    await tutorialRow(id)
    t.strictSame((await store.load(id, true))?.hasDataMap, false)
    seen.length = 0
    t.equal(await store.update(id, NOW + 5, NOW + 5 + TTL, changes([['user', 'ana'], ['never', undefined]]), true), true)
    t.strictSame(seen.map((s) => [s.operation, s.result]), [['UpdateItem', 'success']], 'one write')
    t.strictSame(await store.load(id, true), {
      id, expiresAt: NOW + 5 + TTL, createdAt: NOW + 5, touchedAt: NOW + 5, data: { user: 'ana' }, hasDataMap: true, superseded: false
    })
  })

  t.test('without createMap, a per-key write to a row without the map fails in DynamoDB', async (t) => {
    // This is why the session passes createMap for rows read without the map.
    const id = newSessionId()
    await tutorialRow(id)
    await t.rejects(store.update(id, NOW, NOW + TTL, changes([['a', 1]]), false), { name: 'ValidationException' })
  })

  t.test('createMap falls back to per-key writes when another request created the map first', async (t) => {
    const id = newSessionId()
    await tutorialRow(id)
    // Both requests read the row without the map; the first one creates it.
    t.equal(await store.update(id, NOW + 1, NOW + 1 + TTL, changes([['a', 1]]), true), true)
    seen.length = 0
    t.equal(await store.update(id, NOW + 2, NOW + 2 + TTL, changes([['b', 2], ['gone', undefined]]), true), true)
    t.strictSame(seen.map((s) => [s.operation, s.result]), [['UpdateItem', 'conflict'], ['UpdateItem', 'success']])
    const after = await store.load(id, true)
    t.strictSame(after?.data, { a: 1, b: 2 }, "the first request's key survives")
    t.equal(after?.expiresAt, NOW + 2 + TTL)
  })

  t.test('more than 150 changed keys are all applied', async (t) => {
    const id = newSessionId()
    await create(id, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`old${i}`, i])))
    const many = changes([
      ...Array.from({ length: 280 }, (_, i): [string, JsonValue] => [`key${i}`, `value ${i}`]),
      ...Array.from({ length: 20 }, (_, i): [string, undefined] => [`old${i}`, undefined])
    ])
    seen.length = 0
    t.equal(await store.update(id, NOW + 1, NOW + 1 + TTL, many, false), true)
    t.strictSame((await store.load(id, true))?.data, Object.fromEntries(Array.from({ length: 280 }, (_, i) => [`key${i}`, `value ${i}`])))
    t.equal(seen.filter((s) => s.operation === 'UpdateItem').length, 2, '300 keys in writes of at most 150')

    // Creating the map writes them all at once.
    const tutorial = newSessionId()
    await tutorialRow(tutorial)
    seen.length = 0
    t.equal(await store.update(tutorial, NOW + 1, NOW + 1 + TTL, many, true), true)
    t.equal(Object.keys((await store.load(tutorial, true))?.data ?? {}).length, 280)
    t.equal(seen.filter((s) => s.operation === 'UpdateItem').length, 1)
  })

  t.test('a session that ends between the writes of a large change is reported as not saved', async (t) => {
    const id = newSessionId()
    await create(id)
    // Another instance destroys the session right after the first of the writes lands.
    let updates = 0
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args)
        if (context.commandName === 'UpdateItemCommand' && ++updates === 1) {
          await client.send(new DeleteItemCommand({ TableName: tableName, Key: { Sesion_Id: { S: id } } }))
        }
        return out
      },
      { step: 'initialize', name: 'destroyMidway' }
    )
    t.teardown(() => client.middlewareStack.remove('destroyMidway'))
    const many = changes(Array.from({ length: 200 }, (_, i): [string, JsonValue] => [`k${i}`, i]))
    t.equal(await store.update(id, NOW + 1, NOW + 1 + TTL, many, false), false)
    t.equal(await row(id), undefined, 'and nothing was resurrected')
  })

  t.test('delete removes the row; deleting an absent row is fine', async (t) => {
    const id = newSessionId()
    await create(id)
    await store.delete(id)
    t.equal(await row(id), undefined)
    await t.resolves(store.delete(id))
    await t.resolves(store.destroy(newSessionId()))
  })

  t.test('supersede(): one conditional PutItem turns a live row into its tombstone, whole', async (t) => {
    const id = newSessionId()
    await create(id, { user: 'ana' }, NOW - 10, NOW + 100)
    seen.length = 0
    t.equal(await store.supersede(id, NOW, 60), true)
    t.strictSame(seen.map((s) => [s.operation, s.result]), [['PutItem', 'success']], 'one write on the old id')
    const tombstone = await row(id)
    t.strictSame(tombstone, { Sesion_Id: { S: id }, Expire_Session: { N: String(NOW + 60) }, Superseded_At: { N: String(NOW) } },
      'key, expiry and marker only: no data, no other attribute')
    t.equal((await store.load(id, true))?.superseded, true)
    t.equal(await store.get(id), undefined, 'a tombstone is no session')

    t.equal(await store.supersede(id, NOW + 1, 60), false, 'a second login from the same session fails')
    t.equal(await store.update(id, NOW + 1, NOW + 1 + TTL, new Map(), false), false, 'an expiry refresh fails')
    t.equal(await store.update(id, NOW + 1, NOW + 1 + TTL, changes([['x', 1]]), false), false, 'a change fails')
    t.equal(await store.update(id, NOW + 1, NOW + 1 + TTL, changes([['x', 1]]), true), false, 'a whole-map write fails')
    t.equal(await store.delete(id), false, 'a session delete leaves it')
    await store.destroy(id)
    t.strictSame(await row(id), tombstone, 'untouched by all of them')

    const gone = newSessionId()
    t.equal(await store.supersede(gone, NOW, 60), false, 'an absent row gets no tombstone')
    t.equal(await row(gone), undefined)
    const expired = newSessionId()
    await create(expired, {}, NOW - TTL, NOW)
    t.equal(await store.supersede(expired, NOW, 60), false, 'an expired row gets none either')
  })

  t.test('get(): live sessions only, strongly consistent', async (t) => {
    const id = newSessionId()
    await create(id, { user: 'ana' }, NOW - 10, NOW + 100)
    const inputs = recordInputs(t, client)
    t.strictSame(await store.get(id), {
      id, expiresAt: new Date((NOW + 100) * 1000), createdAt: new Date((NOW - 10) * 1000), data: { user: 'ana' }
    })
    t.equal(inputs.at(-1)?.input.ConsistentRead, true)

    clockMs = (NOW + 100) * 1000
    t.equal(await store.get(id), undefined, 'expired (still in the table) reads as absent')
    t.ok(await row(id), 'the row is still there: TTL deletes late')
    clockMs = NOW * 1000

    t.equal(await store.get(newSessionId()), undefined)
    const tutorial = newSessionId()
    await tutorialRow(tutorial)
    t.strictSame(await store.get(tutorial), { id: tutorial, expiresAt: new Date((NOW + TTL) * 1000), createdAt: undefined, data: {} })

    const calls = countCalls(client)
    t.teardown(() => client.middlewareStack.remove('countCalls'))
    t.equal(await store.get(''), undefined)
    t.equal(await store.get(42 as unknown as string), undefined)
    await store.destroy('')
    t.equal(calls.count(), 0, 'no call for an empty id')
  })

  t.test('regression: get() and destroy() cannot reach internal rows such as the reaper lease', async (t) => {
    const internal = '#reaper-lease'
    await putRow(client, tableName, { Sesion_Id: { S: internal }, Expire_Session: { N: String(NOW + TTL) } })
    const calls = countCalls(client)
    t.teardown(() => client.middlewareStack.remove('countCalls'))
    t.equal(await store.get(internal), undefined)
    await store.destroy(internal)
    t.equal(calls.count(), 0, 'no call for an internal id')
    t.ok(await row(internal), 'the internal row is untouched')
  })

  t.test('get() honours an absolute timeout', async (t) => {
    const capped = new DynamoStore(client, { ...shape, absoluteTimeoutSeconds: 60 }, () => NOW * 1000)
    const young = newSessionId()
    await create(young, {}, NOW - 30, NOW + TTL)
    const old = newSessionId()
    await create(old, {}, NOW - 60, NOW + TTL)
    t.ok(await capped.get(young))
    t.equal(await capped.get(old), undefined)
  })

  t.test('the observer sees every operation, its result and the capacity consumed', async (t) => {
    const id = newSessionId()
    await create(id, { a: 1 })
    await store.load(id, true)
    await store.load(id, false)
    await store.update(id, NOW + 1, NOW + 1 + TTL, changes([['b', 2]]), false)
    await t.rejects(create(id))
    await store.update(newSessionId(), NOW, NOW + TTL, new Map(), false)
    await store.delete(id)
    t.strictSame(seen.map((s) => [s.operation, s.result]), [
      ['PutItem', 'success'],
      ['GetItem', 'success'],
      ['GetItem', 'success'],
      ['UpdateItem', 'success'],
      ['PutItem', 'conflict'],
      ['UpdateItem', 'conflict'],
      ['DeleteItem', 'success']
    ])
    for (const s of seen) {
      t.ok(s.seconds >= 0, `${s.operation} has a duration`)
      if (s.result === 'success') t.match(s.consumed, { TableName: tableName, CapacityUnits: Number }, `${s.operation} consumed capacity`)
    }
    t.equal(seen[1]!.consumed?.CapacityUnits, unitsFor('GetItem', 1), 'a strongly consistent read of a small item: 1 unit')
    t.equal(seen[2]!.consumed?.CapacityUnits, unitsFor('GetItem', 0.5), 'eventually consistent: half')
    t.equal(seen[0]!.consumed?.CapacityUnits, unitsFor('PutItem', 1), 'a small write: 1 unit')

    // Any other failure is an 'error', and is thrown.
    seen.length = 0
    const missing = new DynamoStore(client, { ...shape, tableName: 'no_such_table' }, () => clockMs, {
      operation: (operation, result, seconds, consumed) => { seen.push({ operation, result, seconds, consumed }) }
    })
    await t.rejects(missing.load(id, true), { name: 'ResourceNotFoundException' })
    await t.rejects(missing.update(id, NOW, NOW + TTL, changes([['a', 1]]), false), { name: 'ResourceNotFoundException' })
    t.strictSame(seen.map((s) => [s.operation, s.result, s.consumed]), [['GetItem', 'error', undefined], ['UpdateItem', 'error', undefined]])
  })

  t.test('a store without an observer works the same', async (t) => {
    const plain = new DynamoStore(client, shape, () => NOW * 1000)
    const id = newSessionId()
    await plain.create({ id, data: { a: 1 }, nowSec: NOW, createdAt: NOW, expiresAt: NOW + TTL })
    await t.rejects(plain.create({ id, data: {}, nowSec: NOW, createdAt: NOW, expiresAt: NOW + TTL }))
    t.equal(await plain.update(id, NOW, NOW + TTL, changes([['b', 2]]), false), true)
    t.strictSame((await plain.get(id))?.data, { a: 1, b: 2 })
  })
})
