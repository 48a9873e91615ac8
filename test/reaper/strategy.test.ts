import t from 'tap'
import { startDynalite, makeClient, createTable, countCalls } from '../helpers/dynamo.js'
import { fakeTime, makeReaper, reaperOptions, seedRows, sessionId, tableIds, type FakeTime } from '../helpers/reaper.js'
import { ReaperCalls } from '../../src/reaper/calls.js'
import { LEASE_ID, readLease } from '../../src/reaper/lease.js'
import { STRATEGY_RECHECK_PASSES } from '../../src/reaper/reaper.js'
import type { ReaperLogger } from '../../src/reaper/pass.js'
import { tableStateOf, type LeaseState } from '../../src/reaper/lease-state.js'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'

type Line = { level: string, obj: object, msg: string }

function captureLog (): ReaperLogger & { lines: Line[] } {
  const lines: Line[] = []
  const at = (level: string) => (obj: object, msg: string) => { lines.push({ level, obj, msg }) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

const restarts = (log: { lines: Line[] }): object[] =>
  log.lines.filter((l) => l.level === 'warn' && /sweep restarted: the saved cursors do not fit/.test(l.msg)).map((l) => l.obj)

async function leaseState (client: DynamoDBClient, table: string): Promise<LeaseState | undefined> {
  return (await readLease(new ReaperCalls(client, undefined), reaperOptions(table)))?.state
}

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  /** Runs passes of a slow reaper with `strategy` until one leaves a partial sweep saved; returns the rows it deleted. */
  async function partialSweep (table: string, time: FakeTime, strategy: 'scan' | 'index'): Promise<number> {
    // Three units a second and two seconds a pass: a pass stops long before the end of these tables.
    const slow = makeReaper(t, client, table, { strategy, maxReadUnitsPerSecond: 3, maxWriteUnitsPerSecond: 3, maxPassSeconds: 2 }, { now: time.now, sleep: time.sleep })
    const report = await slow.runOnce()
    t.match(report, { result: 'success', strategy })
    const saved = (await leaseState(client, table))?.sweep
    t.equal(saved?.finder, strategy, `a partial ${strategy} sweep is saved`)
    t.ok(saved?.cursors.some((cursor) => !cursor.done), 'with cursors to resume from')
    return report.deleted
  }

  t.test('a change of strategy discards the saved cursors: scan to index, and back', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const base = time.seconds
    await seedRows(client, table, [
      ...Array.from({ length: 200 }, (_, i) => ({ id: sessionId(i, 'live'), expiresAt: base + 86_400, padding: 900 })),
      ...Array.from({ length: 20 }, (_, i) => ({ id: sessionId(i, 'dead'), expiresAt: base - 600, padding: 900 }))
    ])
    const deletedByScan = await partialSweep(table, time, 'scan')

    const log = captureLog()
    const fast = makeReaper(t, client, table, {}, { now: time.now, sleep: time.sleep, log })
    const index = await fast.runOnce({ strategy: 'index' })
    t.strictSame(restarts(log), [{ finder: 'scan', streams: 1 }], 'the scan cursors are dropped, with a warning')
    t.match(index, { result: 'success', strategy: 'index', scanned: 20 - deletedByScan, deleted: 20 - deletedByScan },
      'the index pass starts over: every expired row left, nothing else')
    t.equal((await leaseState(client, table))?.sweep, undefined, 'and completes')
    t.equal((await tableIds(client, table)).length, 201)

    await seedRows(client, table, Array.from({ length: 40 }, (_, i) => ({ id: sessionId(i, 'late'), expiresAt: base - 600 })))
    const deletedByIndex = await partialSweep(table, time, 'index')
    const scan = await fast.runOnce({ strategy: 'scan' })
    t.strictSame(restarts(log).at(-1), { finder: 'index', streams: 16 }, 'the index cursors are dropped, with a warning')
    t.equal(restarts(log).length, 2)
    t.match(scan, { result: 'success', strategy: 'scan', scanned: 200 + 40 - deletedByIndex, active: 200, deleted: 40 - deletedByIndex },
      'the scan starts over: the whole table')
    t.match((await leaseState(client, table))?.table, { active: 200, expiredFound: 40 - deletedByIndex, expiredBacklog: 0 })
  })

  t.test('auto: scan on a table without the index, re-read after a failed index pass and every few passes', async (t) => {
    const table = await createTable(client, 'noindex', { expiryIndex: false })
    const time = fakeTime()
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: time.seconds - 600 }, { id: sessionId(2), expiresAt: time.seconds + 600 }])
    const own = makeClient(t, dynamo.endpoint)
    const calls = countCalls(own)
    const log = captureLog()
    const reaper = makeReaper(t, own, table, { strategy: 'auto' }, { now: time.now, sleep: time.sleep, log })
    t.match(await reaper.runOnce(), { result: 'success', strategy: 'scan', scanned: 2, deleted: 1, active: 1 })
    t.equal(calls.count('DescribeTable'), 1)
    t.match(log.lines.filter((l) => l.level === 'info' && /reaper strategy/.test(l.msg)), [{ obj: { strategy: 'scan' } }], 'the choice is logged')
    t.match(await reaper.runOnce(), { strategy: 'scan' })
    t.equal(calls.count('DescribeTable'), 1, 'not read again at every pass')

    const forced = await reaper.runOnce({ strategy: 'index' })
    t.match(forced, { result: 'failure', strategy: 'index' }, 'runOnce({ strategy }) overrides; the index does not exist')
    // DynamoDB and dynalite: ValidationException (no such index); moto: ResourceNotFoundException.
    t.match(log.lines.filter((l) => l.level === 'error').at(-1), { obj: { err: { name: /^(ValidationException|ResourceNotFoundException)$/ } } })
    t.equal(calls.count('DescribeTable'), 1, 'an override reads nothing')
    t.match(await reaper.runOnce(), { result: 'success', strategy: 'scan' })
    t.equal(calls.count('DescribeTable'), 2, 'after a failed index pass, auto reads DescribeTable again')

    for (let pass = 1; pass < STRATEGY_RECHECK_PASSES; pass++) await reaper.runOnce()
    t.equal(calls.count('DescribeTable'), 2)
    t.match(await reaper.runOnce(), { strategy: 'scan' })
    t.equal(calls.count('DescribeTable'), 3, `read again after ${STRATEGY_RECHECK_PASSES} passes`)
    t.equal(log.lines.filter((l) => /reaper strategy/.test(l.msg)).length, 2,
      'logged at the first choice and after the failed index pass, not when a periodic read finds it unchanged')
    t.strictSame(await tableIds(client, table), [LEASE_ID, sessionId(2)].sort())
  })

  t.test('auto: the index on a table with it; runOnce({ strategy: \'scan\' }) overrides for one pass', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: time.seconds - 600 }, { id: sessionId(2), expiresAt: time.seconds + 600 }])
    const own = makeClient(t, dynamo.endpoint)
    const calls = countCalls(own)
    const log = captureLog()
    const reaper = makeReaper(t, own, table, { strategy: 'auto' }, { now: time.now, sleep: time.sleep, log })
    const first = await reaper.runOnce()
    t.match(first, { result: 'success', strategy: 'index', scanned: 1, deleted: 1 })
    t.ok(first.censusReadUnits > 0 && first.backfillReadUnits > 0, 'the only Scans are the census\'s and the backfill\'s, their units apart')
    t.ok(calls.count('Query') >= 16, 'a Query per shard')
    t.match(log.lines.filter((l) => /reaper strategy/.test(l.msg)), [{ level: 'info', obj: { strategy: 'index' } }])
    t.equal(tableStateOf((await leaseState(client, table))!).strategy, 'index', 'the table state says which')
    calls.reset()
    t.match(await reaper.runOnce({ strategy: 'scan' }), { result: 'success', strategy: 'scan', scanned: 1, active: 1 })
    t.ok(calls.count('Scan') >= 1)
    t.equal(calls.count('DescribeTable'), 0)
    t.match(await reaper.runOnce(), { result: 'success', strategy: 'index' }, 'back to the choice of auto')
  })
})
