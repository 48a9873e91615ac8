import t from 'tap'
import { startDynalite, makeClient, createTable, getRow } from '../helpers/dynamo.js'
import { fakeTime, reaperOptions } from '../helpers/reaper.js'
import { ReaperCalls } from '../../src/reaper/calls.js'
import {
  LEASE_ID, LEASE_ATTRIBUTES, Lease, LeaseWatch, MAX_TICK_DISTANCE_MS, buildAcquireInput, buildRenewInput, readLease, parseLease
} from '../../src/reaper/lease.js'
import { SESSION_ID_PATTERN } from '../../src/ids.js'

const shape = reaperOptions('sessions')

t.test('no cookie can name the lease item', async (t) => {
  t.notOk(SESSION_ID_PATTERN.test(LEASE_ID))
})

t.test('pure inputs', async (t) => {
  const plain = buildAcquireInput(shape, 'me', 1000, 31_000)
  t.equal(plain.UpdateExpression, 'SET #owner = :me, #until = :until ADD #version :one')
  t.equal(plain.ConditionExpression, '(attribute_not_exists(#owner) OR #until = :free OR #owner = :me)', 'no clock in the condition')
  t.strictSame(plain.Key, { Sesion_Id: { S: LEASE_ID } })
  t.strictSame(plain.ExpressionAttributeValues, { ':me': { S: 'me' }, ':until': { N: '31000' }, ':one': { N: '1' }, ':free': { N: '0' } })
  const ticked = buildAcquireInput(shape, 'me', 1000, 31_000, 500)
  t.equal(ticked.UpdateExpression, 'SET #owner = :me, #until = :until, #tick = :tick ADD #version :one')
  t.match(ticked.ConditionExpression, /AND \(attribute_not_exists\(#tick\) OR #tick < :tick OR #tick > :horizon\)$/)
  t.strictSame(ticked.ExpressionAttributeValues?.[':horizon'], { N: String(1000 + MAX_TICK_DISTANCE_MS) })
  t.equal(ticked.ExpressionAttributeNames?.['#tick'], LEASE_ATTRIBUTES.tick)
  const takeover = buildAcquireInput(shape, 'me', 1000, 31_000, undefined, { owner: 'other', version: 7 })
  t.equal(takeover.ConditionExpression, '(#owner = :holder AND #version = :seen)', 'a takeover names the version it saw')
  t.strictSame(takeover.ExpressionAttributeValues?.[':seen'], { N: '7' })
  const legacy = buildAcquireInput(shape, 'me', 1000, 31_000, undefined, { owner: 'other', version: undefined })
  t.equal(legacy.ConditionExpression, '(#owner = :holder AND attribute_not_exists(#version))')
  const renew = buildRenewInput(shape, 'me', 0, { lastSuccessAt: 5 })
  t.equal(renew.ConditionExpression, '#owner = :me')
  t.equal(renew.UpdateExpression, 'SET #until = :until, #state = :state ADD #version :one')
  t.strictSame(renew.ExpressionAttributeValues?.[':state'], { S: '{"lastSuccessAt":5}' })
  const bare = buildRenewInput(shape, 'me', 0, undefined)
  t.equal(bare.UpdateExpression, 'SET #until = :until ADD #version :one', 'without a state, the stored one is kept')
  t.strictSame(Object.keys(bare.ExpressionAttributeValues ?? {}), [':me', ':until', ':one'])
  for (const input of [plain, ticked, takeover, renew]) {
    t.notOk(JSON.stringify(input).includes('Expire_Session'), 'the lease never carries the expiry attribute')
  }
})

t.test('parseLease: no item is no lease, a bare item a free lease with no state', async (t) => {
  t.equal(parseLease(undefined), undefined)
  t.strictSame(parseLease({ Sesion_Id: { S: LEASE_ID } }), { owner: undefined, untilMs: 0, version: undefined, tickMs: undefined, state: {} })
})

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  type Setup = { time: ReturnType<typeof fakeTime>, lease: (owner: string, watch?: LeaseWatch) => Lease, calls: ReaperCalls, tableShape: ReturnType<typeof reaperOptions> }
  const setup = async (): Promise<Setup> => {
    const table = await createTable(client)
    const tableShape = reaperOptions(table)
    const time = fakeTime()
    const calls = new ReaperCalls(client, undefined)
    return { time, calls, tableShape, lease: (owner, watch) => new Lease(calls, tableShape, owner, 30_000, time.now, watch ?? new LeaseWatch(time.now)) }
  }

  t.test('one holder at a time; a lease left unrenewed for its length can be taken over', async (t) => {
    const { time, lease, calls, tableShape } = await setup()
    t.equal(await readLease(calls, tableShape), undefined, 'no lease before the first pass')
    const a = lease('a')
    const b = lease('b')
    t.strictSame(await a.acquire(), { acquired: true, state: {} })
    const row = await getRow(client, tableShape.tableName, LEASE_ID)
    t.equal(row?.[LEASE_ATTRIBUTES.owner]?.S, 'a')
    t.equal(row?.[LEASE_ATTRIBUTES.until]?.N, String(time.now() + 30_000))
    t.equal(row?.[LEASE_ATTRIBUTES.version]?.N, '1')
    t.equal(row?.Expire_Session, undefined, 'no TTL attribute on the lease')
    t.strictSame(await b.acquire(), { acquired: false, reason: 'held', state: {} })
    t.equal((await a.acquire()).acquired, true, 'the holder may take its own lease again')
    t.strictSame(await b.acquire(), { acquired: false, reason: 'held', state: {} }, 'a new version: watched afresh')
    time.advance(29_999)
    t.equal((await b.acquire()).acquired, false, 'not yet a lease length')
    time.advance(1)
    t.equal((await b.acquire()).acquired, true, 'unchanged for a lease length: taken over')
    t.equal((await readLease(calls, tableShape))?.version, 3)
    await t.rejects(a.renew({}), { code: 'FST_DYNAMO_SESSION_REAPER_LEASE_LOST' }, 'the old holder cannot renew')
    t.equal(await a.release({}), false, 'nor release')
    t.equal((await readLease(calls, tableShape))?.owner, 'b')
  })

  t.test('renewal extends the lease and saves the state; release frees it', async (t) => {
    const { time, lease, calls, tableShape } = await setup()
    const a = lease('a')
    await a.acquire()
    t.equal(a.renewDue, false)
    time.advance(10_000)
    t.equal(a.renewDue, true, 'a third of the lease has passed')
    await a.renew({ lastSuccessAt: 1 })
    t.equal(a.renewDue, false)
    const renewed = await readLease(calls, tableShape)
    t.equal(renewed?.untilMs, time.now() + 30_000)
    t.strictSame(renewed?.state, { lastSuccessAt: 1 })
    time.advance(25_000)
    t.strictSame(await lease('b').acquire(), { acquired: false, reason: 'held', state: { lastSuccessAt: 1 } }, 'renewed past the first expiry')
    t.equal(await a.release({ lastSuccessAt: 2 }), true)
    const released = await readLease(calls, tableShape)
    t.equal(released?.untilMs, 0)
    t.equal(released?.owner, 'a', 'the last holder stays visible')
    t.strictSame((await lease('b').acquire()), { acquired: true, state: { lastSuccessAt: 2 } }, 'free at once after release')
    t.equal(await lease('b').release(undefined), true)
    t.strictSame(await readLease(calls, tableShape), { owner: 'b', untilMs: 0, version: 5, tickMs: undefined, state: { lastSuccessAt: 2 } }, 'a bare release keeps the state')
  })

  t.test('one pass per scheduled tick across instances', async (t) => {
    const { lease, calls, tableShape } = await setup()
    const a = lease('a')
    const b = lease('b')
    t.equal((await a.acquire(60_000)).acquired, true)
    await a.release({})
    t.strictSame(await b.acquire(60_000), { acquired: false, reason: 'tick-done', state: {} }, 'the lease is free, but the tick was taken')
    t.strictSame(await b.acquire(0), { acquired: false, reason: 'tick-done', state: {} }, 'an older tick too')
    t.equal((await b.acquire(120_000)).acquired, true, 'the next tick')
    t.equal((await readLease(calls, tableShape))?.tickMs, 120_000)
    t.strictSame(await a.acquire(), { acquired: false, reason: 'held', state: {} }, 'an unscheduled pass still respects the holder')
  })

  t.test('errors other than a lost condition propagate', async (t) => {
    const { lease } = await setup()
    const missing = new Lease(new ReaperCalls(client, undefined), reaperOptions('no_such_table'), 'a', 30_000, Date.now)
    await t.rejects(missing.acquire(), { name: 'ResourceNotFoundException' })
    await t.rejects(missing.renew({}), { name: 'ResourceNotFoundException' })
    await t.rejects(missing.release({}), { name: 'ResourceNotFoundException' })
    t.ok(lease('x'))
  })
})
