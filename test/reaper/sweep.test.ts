import t from 'tap'
import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { startDynalite, makeClient, createTable, getRow, countCalls } from '../helpers/dynamo.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { fakeTime, seedRows, sessionId, tableIds, reaperOptions, withPages, type FakeTime } from '../helpers/reaper.js'
import { NO_GUARD, UnitBudget, type WaitGuard } from '../../src/reaper/budget.js'
import { ReaperCalls, type Budgets } from '../../src/reaper/calls.js'
import { LEASE_ID } from '../../src/reaper/lease.js'
import { DynamoStore } from '../../src/store/dynamo-store.js'
import { ScanFinder } from '../../src/reaper/scan-finder.js'
import {
  Sweep, newProgress, isComplete, buildReapDeleteInput, pageLimit, backoffMs, MAX_PAGE_LIMIT, MAX_THROTTLED_PAGE_RETRIES,
  THROTTLE_BACKOFF_MS, type ExpiryFinder, type SweepProgress
} from '../../src/reaper/sweep.js'
import type { ReaperObserver, ReapSkipReason, ReaperOperation } from '../../src/instrumentation.js'

interface Recorded {
  reaped: number
  lags: number[]
  skipped: ReapSkipReason[]
  throttled: ReaperOperation[]
  consumed: Array<{ operation: ReaperOperation, units: number, at: number }>
}

function recorder (time: FakeTime): ReaperObserver & { log: Recorded } {
  const r: Recorded = { reaped: 0, lags: [], skipped: [], throttled: [], consumed: [] }
  return {
    log: r,
    passEnded () {},
    tableState () {},
    interval () {},
    consumed (operation, units) { r.consumed.push({ operation, units, at: time.now() }) },
    throttled (operation) { r.throttled.push(operation) },
    reaped () { r.reaped++ },
    ttlLag (lag) { r.lags.push(lag) },
    skipped (reason) { r.skipped.push(reason) },
    strategy () {},
    budgets () {}
  }
}

interface SweepSetup {
  time: FakeTime
  graceSeconds?: number
  deadline?: number
  signal?: AbortSignal
  finder?: ExpiryFinder
  segments?: number
  read?: number
  write?: number
  guard?: WaitGuard
  observer?: ReaperObserver
  /** False: no write budget, the sweep only counts. */
  deleteRows?: boolean
  budgets?: Budgets
  /** Saved progress to resume, as a pass does. */
  progress?: SweepProgress
}

function makeSweep (client: DynamoDBClient, tableName: string, s: SweepSetup): Sweep {
  const shape = reaperOptions(tableName)
  const read = new UnitBudget(s.read ?? 1000, s.time.now, s.time.sleep)
  const budgets = s.budgets ?? (s.deleteRows === false ? { read } : { read, write: new UnitBudget(s.write ?? 1000, s.time.now, s.time.sleep) })
  const finder = s.finder ?? new ScanFinder(shape, s.segments ?? 1)
  return new Sweep({
    shape,
    finder,
    // As in a pass: aborting the signal also aborts the call in flight.
    calls: new ReaperCalls(client, s.observer, budgets, s.signal),
    budgets,
    now: s.time.now,
    sleep: s.time.sleep,
    graceSeconds: s.graceSeconds ?? 0,
    deadline: s.deadline ?? Number.POSITIVE_INFINITY,
    signal: s.signal ?? new AbortController().signal,
    guard: s.guard ?? NO_GUARD,
    observer: s.observer
  }, s.progress ?? newProgress(finder, s.time.seconds))
}

t.test('pure builders', async (t) => {
  const shape = reaperOptions('sessions')
  t.strictSame(buildReapDeleteInput(shape, 'abc', 100), {
    TableName: 'sessions',
    Key: { Sesion_Id: { S: 'abc' } },
    ConditionExpression: 'attribute_exists(#id) AND #exp < :cutoff',
    ExpressionAttributeNames: { '#id': 'Sesion_Id', '#exp': 'Expire_Session' },
    ExpressionAttributeValues: { ':cutoff': { N: '100' } }
  })
  t.equal(pageLimit(20, 1, 0.5), 40, 'one second of budget at half a unit per item')
  t.equal(pageLimit(20, 4, 0.5), 10, 'segments share the budget')
  t.equal(pageLimit(0.1, 1, 0.5), 1, 'never below one item')
  t.equal(pageLimit(1e6, 1, 0.001), MAX_PAGE_LIMIT, 'capped')
  t.equal(backoffMs(0), THROTTLE_BACKOFF_MS)
  t.equal(backoffMs(1), 2 * THROTTLE_BACKOFF_MS)
  t.equal(backoffMs(30), 16_000, 'capped')
})

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const calls = countCalls(client)

  t.test('deletes expired rows, keeps live and invalid ones, skips the lease item', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const now = time.seconds
    await seedRows(client, table, [
      { id: sessionId(1), expiresAt: now + 300 },
      { id: sessionId(2), expiresAt: now + 1 },
      { id: sessionId(3), expiresAt: now - 1 },
      { id: sessionId(4), expiresAt: now - 3600 },
      { id: sessionId(5), expiresAt: 'soon' },
      { id: sessionId(6), expiresAt: null },
      { id: sessionId(7) },
      { id: LEASE_ID }
    ])
    const observer = recorder(time)
    const sweep = makeSweep(client, table, { time, observer })
    t.equal(await sweep.run(), true, 'complete')
    t.strictSame(sweep.counts, { scanned: 7, active: 2, expired: 2, deleted: 2, conflicts: 0, invalid: 3, maxLagSeconds: 3600, repaired: 0, backfilled: 0, missing: 0 })
    t.strictSame(await tableIds(client, table), [LEASE_ID, sessionId(1), sessionId(2), sessionId(5), sessionId(6), sessionId(7)])
    t.equal(observer.log.reaped, 2)
    t.strictSame(observer.log.lags.sort((a, b) => a - b), [1, 3600], 'each deleted row observed once, with its lag')
    t.strictSame(sweep.progress, { ...sweep.progress, active: 2, expired: 2, invalid: 3, maxLagSeconds: 3600 })
    t.ok(isComplete(sweep.progress))
  })

  t.test('a row expiring this very second is not due; grace holds rows back', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const now = time.seconds
    await seedRows(client, table, [
      { id: sessionId(1), expiresAt: now },
      { id: sessionId(2), expiresAt: now - 30 },
      { id: sessionId(3), expiresAt: now - 120 }
    ])
    const sweep = makeSweep(client, table, { time, graceSeconds: 60 })
    await sweep.run()
    t.strictSame(sweep.counts, { scanned: 3, active: 1, expired: 1, deleted: 1, conflicts: 0, invalid: 0, maxLagSeconds: 120, repaired: 0, backfilled: 0, missing: 0 }, 'the lag is measured from the expiry, grace included')
    t.strictSame(await tableIds(client, table), [sessionId(1), sessionId(2)])
  })

  t.test('regression: active counts exclude rows past expiry within grace', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const now = time.seconds
    await seedRows(client, table, [
      { id: sessionId(1), expiresAt: now + 10 },
      { id: sessionId(2), expiresAt: now - 1 },
      { id: sessionId(3), expiresAt: now - 59 },
      { id: sessionId(4), expiresAt: now - 61 }
    ])
    const observer = recorder(time)
    const sweep = makeSweep(client, table, { time, graceSeconds: 60, observer })
    t.equal(await sweep.run(), true)
    t.strictSame(sweep.counts, { scanned: 4, active: 1, expired: 1, deleted: 1, conflicts: 0, invalid: 0, maxLagSeconds: 61, repaired: 0, backfilled: 0, missing: 0 }, 'two rows neither active nor due')
    t.strictSame({ active: sweep.progress.active, expired: sweep.progress.expired }, { active: 1, expired: 1 }, 'nor in the sweep figures')
    t.strictSame(observer.log.lags, [61])
    t.strictSame(await tableIds(client, table), [sessionId(1), sessionId(2), sessionId(3)], 'rows within the grace stay')
  })

  t.test('stats mode counts without deleting', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: time.seconds - 10 }, { id: sessionId(2), expiresAt: time.seconds + 10 }])
    calls.reset()
    const sweep = makeSweep(client, table, { time, deleteRows: false })
    await sweep.run()
    t.strictSame(sweep.counts, { scanned: 2, active: 1, expired: 1, deleted: 0, conflicts: 0, invalid: 0, maxLagSeconds: 10, repaired: 0, backfilled: 0, missing: 0 })
    t.equal(calls.count('DeleteItem'), 0)
    t.equal((await tableIds(client, table)).length, 2)
  })

  t.test('regression: a row refreshed between the scan and the delete survives; the conflict is counted and its lag observed', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const refreshed = sessionId(1)
    await seedRows(client, table, [{ id: refreshed, expiresAt: time.seconds - 5 }, { id: sessionId(2), expiresAt: time.seconds - 5 }])
    const shape = reaperOptions(table)
    const scan = new ScanFinder(shape, 1)
    // The application refreshes the session after the reaper has read it as expired.
    const finder = withPages(scan, async (calls, stream, start, limit) => {
      const page = await scan.page(calls, stream, start, limit)
      await client.send(new UpdateItemCommand({
        TableName: table,
        Key: { Sesion_Id: { S: refreshed } },
        UpdateExpression: 'SET #e = :e',
        ExpressionAttributeNames: { '#e': 'Expire_Session' },
        ExpressionAttributeValues: { ':e': { N: String(time.seconds + 300) } }
      }))
      return page
    })
    const observer = recorder(time)
    const sweep = makeSweep(client, table, { time, finder, observer })
    await sweep.run()
    t.strictSame(sweep.counts, { scanned: 2, active: 0, expired: 2, deleted: 1, conflicts: 1, invalid: 0, maxLagSeconds: 5, repaired: 0, backfilled: 0, missing: 0 })
    t.equal((await getRow(client, table, refreshed))?.Expire_Session?.N, String(time.seconds + 300), 'the refreshed session is intact')
    t.equal(await getRow(client, table, sessionId(2)), undefined)
    t.strictSame(observer.log.skipped, ['conflict'])
    t.equal(observer.log.reaped, 1, 'the conflict is not counted as reaped')
    t.strictSame(observer.log.lags, [5, 5], 'the refreshed row was found expired too: its lag is observed')
    const deleteUnits = observer.log.consumed.filter((c) => c.operation === 'DeleteItem').reduce((sum, c) => sum + c.units, 0)
    t.equal(deleteUnits, 2, 'the failed conditional delete is accounted one write unit')
  })

  t.test('parallel segments cover every row once', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const rows = Array.from({ length: 120 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds + (i % 3 === 0 ? -100 : 100) }))
    await seedRows(client, table, rows)
    calls.reset()
    const sweep = makeSweep(client, table, { time, segments: 4, read: 5 })
    t.equal(await sweep.run(), true)
    t.equal(sweep.counts.scanned, 120)
    t.equal(sweep.counts.deleted, 40)
    t.equal(sweep.counts.active, 80)
    t.ok(calls.count('Scan') >= 4, 'each segment scanned')
    t.equal((await tableIds(client, table)).length, 80)
  })

  t.test('stops at the deadline without finishing the table, leaving a cursor to resume from', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, Array.from({ length: 60 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 10 })))
    // Two write units a second for two seconds: the pass cannot delete 60 rows.
    const first = makeSweep(client, table, { time, write: 2, deadline: time.now() + 2000 })
    t.equal(await first.run(), false, 'not complete')
    t.ok(first.counts.deleted > 0 && first.counts.deleted < 60, `deleted some (${first.counts.deleted})`)
    t.equal(first.counts.expired, first.counts.deleted, 'rows not attempted are not counted')
    t.notOk(isComplete(first.progress))
    t.equal(first.progress.expired, first.counts.deleted, 'the rows settled so far are counted in the sweep totals')

    const second = makeSweep(client, table, { time })
    second.progress.cursors = first.progress.cursors
    t.equal(await second.run(), true)
    t.equal(first.counts.deleted + second.counts.deleted, 60)
    t.strictSame(await tableIds(client, table), [])
  })

  t.test('regression: passes that stop inside big pages count every row of the sweep exactly once', async (t) => {
    for (const segments of [1, 2]) {
      const table = await createTable(client)
      const time = fakeTime()
      await seedRows(client, table, [
        ...Array.from({ length: 80 }, (_, i) => ({ id: sessionId(i, 'dead'), expiresAt: time.seconds - 100 - i })),
        ...Array.from({ length: 40 }, (_, i) => ({ id: sessionId(i, 'live'), expiresAt: time.seconds + 3600 }))
      ])
      const scan = new ScanFinder(reaperOptions(table), segments)
      const pageSizes: number[] = []
      const finder = withPages(scan, async (calls, stream, start, limit) => {
        const page = await scan.page(calls, stream, start, limit)
        pageSizes.push(page.rows.length)
        return page
      })
      // A large read budget (a whole segment in one page) and three deletes a second for two seconds a pass: each
      // pass stops inside a page after a few deletes, and the next one resumes there.
      const read = new UnitBudget(1000, time.now, time.sleep)
      const write = new UnitBudget(3, time.now, time.sleep)
      const progress = newProgress(finder, time.seconds)
      let passes = 0
      let deleted = 0
      while (!isComplete(progress) && passes < 100) {
        const sweep = makeSweep(client, table, { time, finder, budgets: { read, write }, deadline: time.now() + 2000, progress })
        await sweep.run()
        deleted += sweep.counts.deleted
        passes++
      }
      const label = `${segments} segment(s)`
      t.ok(Math.max(...pageSizes) >= 120 / segments, `${label}: a page held a whole segment (${pageSizes.join(', ')} rows)`)
      t.ok(passes >= 10, `${label}: many passes (${passes})`)
      t.equal(deleted, 80, `${label}: every expired row deleted`)
      t.strictSame(await tableIds(client, table), Array.from({ length: 40 }, (_, i) => sessionId(i, 'live')), `${label}: the live rows kept`)
      const { active, expired, deleted: settled, conflicts, invalid } = progress
      t.strictSame({ active, expired, deleted: settled, conflicts, invalid }, { active: 40, expired: 80, deleted: 80, conflicts: 0, invalid: 0 }, `${label}: the sweep counts every row once`)
      t.ok(progress.maxLagSeconds >= 179, `${label}: the oldest row's lag is in the figures (${progress.maxLagSeconds})`)
    }
  })

  t.test('regression: only the lease id is internal; another application\'s rows whose ids start with # are reaped and counted', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, [
      { id: sessionId(1), expiresAt: time.seconds + 60 },
      { id: LEASE_ID },
      { id: '#abc', expiresAt: time.seconds - 60 },
      { id: '#live', expiresAt: time.seconds + 60 },
      { id: '#invalid', expiresAt: 'n/a' }
    ])
    const sweep = makeSweep(client, table, { time })
    t.equal(await sweep.run(), true)
    t.strictSame(sweep.counts, { scanned: 4, active: 2, expired: 1, deleted: 1, conflicts: 0, invalid: 1, maxLagSeconds: 60, repaired: 0, backfilled: 0, missing: 0 }, 'sessions like any other; the lease item is not one')
    t.strictSame(await tableIds(client, table), ['#invalid', '#live', LEASE_ID, sessionId(1)].sort(), 'the expired foreign row is deleted, the lease item never')

    const store = new DynamoStore(client, reaperOptions(table), time.now)
    t.equal((await store.get('#live'))?.id, '#live', 'the admin API reads a foreign # row')
    t.equal(await store.get(LEASE_ID), undefined, 'but never the lease item')
    await store.destroy(LEASE_ID)
    t.ok((await tableIds(client, table)).includes(LEASE_ID), 'nor deletes it')
  })

  t.test('regression: a page that fails or is aborted gives its read reservation back', async (t) => {
    const time = fakeTime()
    // A page reserves one second of the budget; the budget outlives the sweep, as it outlives a pass.
    const read = new UnitBudget(10, time.now, time.sleep)
    const budgets = { read, write: new UnitBudget(10, time.now, time.sleep) }

    await t.rejects(makeSweep(client, 'no_such_table', { time, budgets }).run(), { name: 'ResourceNotFoundException' })
    t.equal(await read.take(10), true)
    t.strictSame(time.slept, [], 'after a failed page, the next one does not start in debt')

    time.advance(1000)
    const table = await createTable(client)
    const abort = new AbortController()
    const scan = new ScanFinder(reaperOptions(table), 1)
    const aborting = withPages(scan, async (calls, stream, start, limit) => {
      abort.abort()
      return await scan.page(calls, stream, start, limit)
    })
    t.equal(await makeSweep(client, table, { time, budgets, finder: aborting, signal: abort.signal }).run(), false, 'stopped, not failed')
    t.equal(await read.take(10), true)
    t.strictSame(time.slept, [], 'after an aborted page, neither')
  })

  t.test('a wait on the budget ends at the deadline: no delete after it', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, Array.from({ length: 10 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 10 })))
    const observer = recorder(time)
    const deadline = time.now() + 2500
    const sweep = makeSweep(client, table, { time, write: 1, deadline, observer })
    t.equal(await sweep.run(), false)
    const deletes = observer.log.consumed.filter((c) => c.operation === 'DeleteItem')
    t.ok(deletes.length >= 2, `some deletes (${deletes.length})`)
    t.ok(deletes.every((c) => c.at < deadline), 'each before the deadline')
    t.ok(time.now() <= deadline, 'the wait stopped there')
  })

  t.test('close: an aborted sweep stops after the call in flight', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, Array.from({ length: 30 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 10 })))
    const abort = new AbortController()
    let deletes = 0
    const observer = { ...recorder(time), reaped () { if (++deletes === 5) abort.abort() } }
    const sweep = makeSweep(client, table, { time, signal: abort.signal, observer })
    t.equal(await sweep.run(), false)
    t.equal(sweep.counts.deleted, 5)
    t.equal((await tableIds(client, table)).length, 25)
  })

  t.test('a guard that throws stops the sweep (a lease that cannot be renewed)', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, Array.from({ length: 10 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 10 })))
    let guards = 0
    const sweep = makeSweep(client, table, {
      time,
      guard: { dueAt: Number.POSITIVE_INFINITY, check: async () => { if (++guards > 4) throw new Error('lease lost'); return true } }
    })
    await t.rejects(sweep.run(), { message: 'lease lost' })
    t.equal(sweep.counts.deleted, 3, 'the guard runs before the page and before each delete')
    t.equal((await tableIds(client, table)).length, 7)
  })

  t.test('the budget: consumed units per second stay within the caps over a pass', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    // Rows just under 1 KB: 4 of them cost one read unit, each delete one write unit.
    await seedRows(client, table, Array.from({ length: 300 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds + (i % 2 === 0 ? -60 : 86_400), padding: 900 })))
    calls.reset()
    const observer = recorder(time)
    const started = time.now()
    const sweep = makeSweep(client, table, { time, read: 4, write: 3, observer })
    t.equal(await sweep.run(), true)
    const seconds = (time.now() - started) / 1000
    t.equal(sweep.counts.deleted, 150)
    const reads = observer.log.consumed.filter((c) => c.operation === 'Scan')
    const writes = observer.log.consumed.filter((c) => c.operation === 'DeleteItem')
    const total = (list: typeof reads): number => list.reduce((sum, c) => sum + c.units, 0)
    t.ok(total(reads) <= 4 * (seconds + 1), `reads ${total(reads)} within 4/s over ${seconds}s`)
    t.ok(total(writes) <= 3 * (seconds + 1), `writes ${total(writes)} within 3/s over ${seconds}s`)
    t.ok(total(writes) >= 150, 'every delete accounted')
    // Any one-second window holds at most one second of refill plus the one-second burst.
    for (const list of [{ calls: reads, rate: 4 }, { calls: writes, rate: 3 }]) {
      for (const c of list.calls) {
        const window = list.calls.filter((o) => o.at >= c.at && o.at < c.at + 1000)
        t.ok(total(window) <= 2 * list.rate + 1, `window at ${c.at - started} ms: ${total(window)} units`)
      }
    }
    t.ok(calls.count('DeleteItem') === 150, 'sanity: the calls happened')
    t.ok(time.slept.length > 0, 'the limiter waited on the injected sleep')
  })

  t.test('throttling', async (t) => {
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const throttled = makeClient(t, proxy.endpoint, { maxAttempts: 2 })
    const table = await createTable(client)

    t.test('a throttled page backs off and is retried; every attempt is counted', async (t) => {
      const time = fakeTime()
      await seedRows(client, table, [{ id: sessionId(1), expiresAt: time.seconds - 10 }])
      proxy.inject({ kind: 'throttle' }, { operations: ['Scan'], times: 2 })
      const observer = recorder(time)
      const sweep = makeSweep(throttled, table, { time, observer })
      t.equal(await sweep.run(), true)
      t.equal(sweep.counts.deleted, 1)
      t.strictSame(observer.log.throttled, ['Scan', 'Scan'], 'the SDK retry and the final attempt')
      t.strictSame(time.slept, [THROTTLE_BACKOFF_MS], 'one back-off of ours after the SDK gave up')
    })

    t.test('a page throttled past the retries fails the sweep', async (t) => {
      const time = fakeTime()
      proxy.inject({ kind: 'throttle', type: 'ThrottlingException' }, { operations: ['Scan'] })
      t.teardown(() => proxy.heal())
      const observer = recorder(time)
      const sweep = makeSweep(throttled, table, { time, observer })
      await t.rejects(sweep.run(), { name: 'ThrottlingException' })
      t.equal(observer.log.throttled.length, 2 * (MAX_THROTTLED_PAGE_RETRIES + 1))
      t.equal(time.slept.length, MAX_THROTTLED_PAGE_RETRIES)
    })

    t.test('a throttled delete is left for later and counted as failed', async (t) => {
      proxy.heal()
      const time = fakeTime()
      await seedRows(client, table, [{ id: sessionId(2), expiresAt: time.seconds - 10 }, { id: sessionId(3), expiresAt: time.seconds - 10 }])
      proxy.inject({ kind: 'throttle', type: 'RequestLimitExceeded' }, { operations: ['DeleteItem'], times: 2 })
      const observer = recorder(time)
      const sweep = makeSweep(throttled, table, { time, observer })
      t.equal(await sweep.run(), true)
      const { scanned, expired, deleted, conflicts } = sweep.counts
      t.strictSame({ scanned, expired, deleted, conflicts }, { scanned: 2, expired: 2, deleted: 1, conflicts: 0 }, 'expired = deleted + conflicts + failed')
      t.strictSame(observer.log.skipped, ['error'])
      t.strictSame(observer.log.throttled, ['DeleteItem', 'DeleteItem'])
      t.equal((await tableIds(client, table)).length, 1, 'the throttled row is still there for the next pass')
    })

    t.test('a row whose delete failed has its lag observed once, by the sweep that settles it', async (t) => {
      proxy.heal()
      const time = fakeTime()
      const own = await createTable(client)
      await seedRows(client, own, [{ id: sessionId(5), expiresAt: time.seconds - 10 }])
      proxy.inject({ kind: 'throttle' }, { operations: ['DeleteItem'], times: 2 })
      const observer = recorder(time)
      const first = makeSweep(throttled, own, { time, observer })
      await first.run()
      t.strictSame({ expired: first.counts.expired, deleted: first.counts.deleted }, { expired: 1, deleted: 0 })
      t.strictSame(observer.log.lags, [], 'not settled: not observed yet')
      const second = makeSweep(throttled, own, { time, observer })
      await second.run()
      t.equal(second.counts.deleted, 1)
      t.strictSame(observer.log.lags, [11], 'observed once, when deleted (a second later, after the back-off)')
    })

    t.test('another delete error fails the sweep and is counted', async (t) => {
      proxy.heal()
      const time = fakeTime()
      await seedRows(client, table, [{ id: sessionId(4), expiresAt: time.seconds - 10 }])
      proxy.inject({ kind: 'error5xx', status: 500 }, { operations: ['DeleteItem'] })
      t.teardown(() => proxy.heal())
      const observer = recorder(time)
      const sweep = makeSweep(throttled, table, { time, observer })
      await t.rejects(sweep.run())
      t.equal(sweep.counts.expired, 1)
      t.equal(sweep.counts.deleted, 0)
      t.strictSame(observer.log.skipped, ['error'])
    })
  })
})
