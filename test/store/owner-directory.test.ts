import t from 'tap'
import { BatchWriteItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb'
import { startDynalite, makeClient, createTable, countCalls, getRow } from '../helpers/dynamo.js'
import { SECRET, fakeClock } from '../helpers/app.js'
import { resolveOptions } from '../../src/options.js'
import { DynamoStore } from '../../src/store/dynamo-store.js'
import { OwnerDirectory } from '../../src/store/owner-directory.js'
import { TOMBSTONE_ATTRIBUTE } from '../../src/store/tombstone.js'
import { handleOf } from '../../src/store/owner.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { unitsFor } from '../helpers/target.js'

// The owner directory against dynalite: the index Query pages, BatchGetItem chunks of 100, and what is left out.

function row (id: string, owner: string, expiresAt: number, extra: Record<string, AttributeValue> = {}): Record<string, AttributeValue> {
  return {
    Sesion_Id: { S: id },
    Owner_Id: { S: owner },
    Expire_Session: { N: String(expiresAt) },
    Created_At: { N: String(expiresAt - 300) },
    Touched_At: { N: String(expiresAt - 300) },
    Data: { M: {} },
    ...extra
  }
}

t.test('owner directory', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const clock = fakeClock()

  async function putAll (table: string, items: Array<Record<string, AttributeValue>>): Promise<void> {
    for (let i = 0; i < items.length; i += 25) {
      const chunk = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }))
      await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: chunk } }))
    }
  }

  t.test('listByOwner pages the index, reads rows 100 keys a BatchGetItem, leaves out expired rows and tombstones', async (t) => {
    const table = await createTable(client)
    const now = clock.seconds
    const live = Array.from({ length: 203 }, (_, i) => row(`live-session-${String(i).padStart(4, '0')}`, 'owner-a', now + 100 + i))
    const expired = row('expired-session-0001', 'owner-a', now - 1)
    // A tombstone never carries an owner; one that did (another writer) must still not be listed nor counted.
    const tombstone = row('tombstone-session-01', 'owner-a', now + 60, { [TOMBSTONE_ATTRIBUTE]: { N: String(now) } })
    const other = row('other-owner-session1', 'owner-b', now + 100)
    await putAll(table, [...live, expired, tombstone, other])

    const options = resolveOptions({ secret: SECRET, tableName: table, now: clock.now })
    const counter = countCalls(client)
    const directory = new OwnerDirectory(new DynamoStore(client, options, clock.now), options, 50)
    const listed = await directory.list('owner-a', { withIds: true })
    t.equal(listed.length, 203, 'every live session, nothing else')
    t.strictSame(new Set(listed.map((s) => s.id)), new Set(live.map((r) => r.Sesion_Id!.S)))
    t.ok(counter.count('Query') >= 5, `the index was read in pages of 50 (${counter.count('Query')} Query calls)`)
    t.equal(counter.count('BatchGetItem'), 3, '205 keys: 100 + 100 + 5')
    t.equal(listed[0]!.touchedAt?.getTime(), (now + 100 + 202 - 300) * 1000, 'most recently refreshed first')
    t.equal(listed[0]!.handle, handleOf(SECRET, listed[0]!.id!))

    counter.reset()
    const revoked = await directory.destroy('owner-a', { maxWriteUnitsPerSecond: 10_000 })
    t.strictSame(revoked, { deleted: 203, remaining: 0, writeUnits: 205 },
      'the expired row and the tombstone are not counted as deleted; their failed deletes count one unit each')
    t.not(await getRow(client, table, 'tombstone-session-01'), undefined, 'the tombstone is left to expire')
    t.not(await getRow(client, table, 'other-owner-session1'), undefined)
    t.equal(counter.count('DeleteItem'), 205, 'one conditional delete per index entry')
  })

  t.test('current: marks the request session, and never lists a session of another owner', async (t) => {
    const table = await createTable(client)
    const now = clock.seconds
    await putAll(table, [row('current-session-0001', 'owner-c', now + 100), row('sibling-session-0001', 'owner-c', now + 50)])
    const options = resolveOptions({ secret: SECRET, tableName: table, now: clock.now })
    const directory = new OwnerDirectory(new DynamoStore(client, options, clock.now), options)
    const listed = await directory.list('owner-c', { current: 'current-session-0001' })
    t.strictSame(listed.map((s) => s.current), [true, false])
    t.strictSame(await directory.list('owner-d', { current: 'current-session-0001' }), [], 'not listed for another owner')
  })

  t.test('BatchGetItem: UnprocessedKeys are retried (backing off), and a read that never completes is a coded error', async (t) => {
    const table = await createTable(client)
    const now = clock.seconds
    await putAll(table, [row('unprocessed-session-1', 'owner-e', now + 100), row('unprocessed-session-2', 'owner-e', now + 100)])
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const proxied = makeClient(t, proxy.endpoint)
    const options = resolveOptions({ secret: SECRET, tableName: table, now: clock.now })
    const waits: number[] = []
    const sleep = async (ms: number): Promise<void> => { waits.push(ms) }
    const directory = new OwnerDirectory(new DynamoStore(proxied, options, clock.now), options, undefined, sleep)

    proxy.inject({ kind: 'unprocessed' }, { operations: ['BatchGetItem'], times: 2 })
    const listed = await directory.list('owner-e', { withIds: true })
    t.strictSame(listed.map((s) => s.id).sort(), ['unprocessed-session-1', 'unprocessed-session-2'])
    t.equal(proxy.seen.filter((op) => op === 'BatchGetItem').length, 3, 'two answers with every key unprocessed, then the read')
    t.strictSame(waits, [50, 100], 'backing off')

    proxy.inject({ kind: 'unprocessed' }, { operations: ['BatchGetItem'] })
    waits.length = 0
    await t.rejects(directory.list('owner-e'), { code: 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE' })
    t.strictSame(waits, [50, 100, 200, 400, 800, 1000, 1000], 'eight attempts, the waits capped at one second')
  })
})

t.test('owner methods: what reaches the application', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const clock = fakeClock()
  const table = await createTable(client)
  const now = clock.seconds
  await client.send(new BatchWriteItemCommand({
    RequestItems: { [table]: [row('handle-session-00001', 'owner-h', now + 100), row('handle-session-00002', 'owner-h', now + 100)].map((Item) => ({ PutRequest: { Item } })) }
  }))
  const options = resolveOptions({ secret: SECRET, tableName: table, now: clock.now })

  t.test('regression: destroyByOwner with a handle left undefined deletes nothing (not every session)', async (t) => {
    const directory = new OwnerDirectory(new DynamoStore(client, options, clock.now), options)
    await t.rejects(directory.destroy('owner-h', { handle: undefined }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
    await t.rejects(directory.destroy('owner-h', { handle: 'short' }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
    t.equal((await directory.list('owner-h')).length, 2, 'both sessions still there')
  })

  t.test('regression: the revocation counts DynamoDB\'s write units (about 1 a KB), not one a delete', async (t) => {
    // Two rows of about 2.6 KB: a delete costs ceil(2.6) = 3 write units each.
    const pad = { Data: { M: { pad: { S: 'x'.repeat(2_500) } } } }
    await client.send(new BatchWriteItemCommand({
      RequestItems: { [table]: [row('large-session-000001', 'owner-w', now + 100, pad), row('large-session-000002', 'owner-w', now + 100, pad)].map((Item) => ({ PutRequest: { Item } })) }
    }))
    const directory = new OwnerDirectory(new DynamoStore(client, options, clock.now), options)
    t.strictSame(await directory.destroy('owner-w'), { deleted: 2, remaining: 0, writeUnits: 2 * unitsFor('DeleteItem', 3) })
  })

  t.test('regression: a DynamoDB refusal of an owner method is FST_DYNAMO_SESSION_STORE_UNAVAILABLE, its message only in the cause', async (t) => {
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const proxied = makeClient(t, proxy.endpoint)
    const directory = new OwnerDirectory(new DynamoStore(proxied, options, clock.now), options)
    const arn = 'arn:aws:iam::123456789012:role/app is not authorized to perform: dynamodb:Query on resource: index/Owner_Index'
    proxy.inject({ kind: 'refuse', type: 'AccessDeniedException', message: arn }, { operations: ['Query'] })
    for (const call of [async () => await directory.list('owner-h'), async () => await directory.destroy('owner-h')]) {
      const err = await call().then(() => undefined, (e: unknown) => e as { code?: string, statusCode?: number, message: string, cause?: { message?: string } })
      t.equal(err?.code, 'FST_DYNAMO_SESSION_STORE_UNAVAILABLE')
      t.equal(err?.statusCode, 503)
      t.equal(err?.message.includes('123456789012'), false, 'no account id in the message a response may carry')
      t.equal(err?.cause?.message?.includes('123456789012'), true, 'DynamoDB\'s message kept as the cause, for the log')
    }
  })
})
