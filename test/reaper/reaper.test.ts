import t from 'tap'
import { Registry } from 'prom-client'
import { ScanCommand } from '@aws-sdk/client-dynamodb'
import type { FastifyInstance } from 'fastify'
import { startDynalite, makeClient, createTable, getRow, putRow, countCalls } from '../helpers/dynamo.js'
import { buildApp, cookieFrom, fakeClock } from '../helpers/app.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { CAN, unitsFor } from '../helpers/target.js'
import { TEST_REAPER_STRATEGY, fakeTime, makeReaper, seedRows, sessionId, tableIds, reaperOptions, withPages } from '../helpers/reaper.js'
import { createMetrics, METRIC_NAMES } from '../../src/metrics.js'
import { ReaperCalls } from '../../src/reaper/calls.js'
import { LEASE_ID, LEASE_ATTRIBUTES, Lease, LeaseWatch, MAX_TICK_DISTANCE_MS, readLease } from '../../src/reaper/lease.js'
import { ScanFinder } from '../../src/reaper/scan-finder.js'
import { cronLogger, shortestInterval } from '../../src/reaper/reaper.js'
import type { ReaperLogger } from '../../src/reaper/pass.js'
import type { Sleep } from '../../src/reaper/budget.js'
import type { ReapReport, TableState } from '../../src/reaper/report.js'

const INDEX = TEST_REAPER_STRATEGY === 'index'
const REPORT_KEYS = ['result', 'strategy', 'repaired', 'backfilled', 'backfillReadUnits', 'backfillWriteUnits', 'censusReadUnits', 'scanned', 'active', 'expired', 'deleted', 'conflicts', 'invalid', 'maxLagSeconds', 'consumedReadUnits', 'consumedWriteUnits', 'durationSeconds']

function captureLog (): ReaperLogger & { lines: Array<{ level: string, obj: object, msg: string }> } {
  const lines: Array<{ level: string, obj: object, msg: string }> = []
  const at = (level: string) => (obj: object, msg: string) => { lines.push({ level, obj, msg }) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

async function metricValue (registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
  return value?.value
}

async function until (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

t.test('shortestInterval', async (t) => {
  const at = (...s: number[]): Date[] => s.map((x) => new Date(x * 1000))
  t.equal(shortestInterval(at(0, 60, 120)), 60)
  t.equal(shortestInterval(at(0, 3600, 3660, 7200)), 60, 'irregular schedules: the shortest gap')
  t.equal(shortestInterval(at(0)), 0)
})

t.test('node-cron messages go to the reaper log', async (t) => {
  const log = captureLog()
  const logger = cronLogger(log)
  logger.info('started')
  logger.warn('missed execution')
  logger.error(new TypeError('boom'))
  logger.error('plain')
  logger.debug('ignored')
  t.strictSame(log.lines, [
    { level: 'debug', obj: {}, msg: 'started' },
    { level: 'warn', obj: {}, msg: 'missed execution' },
    { level: 'error', obj: { err: { name: 'TypeError', message: 'boom' } }, msg: 'reaper schedule error' },
    { level: 'error', obj: { err: { name: 'Error', message: 'plain' } }, msg: 'reaper schedule error' }
  ])
})

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  t.test('one pass: report, lease item, observer', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const ids = Array.from({ length: 6 }, (_, i) => sessionId(i))
    await seedRows(client, table, [
      { id: ids[0]!, expiresAt: time.seconds + 60 },
      { id: ids[1]!, expiresAt: time.seconds - 30 },
      { id: ids[2]!, expiresAt: time.seconds - 7200 },
      { id: ids[3]!, expiresAt: 'never' }
    ])
    const states: TableState[] = []
    const ended: ReapReport[] = []
    const registry = new Registry()
    const metrics = createMetrics(registry)
    const log = captureLog()
    const reaper = makeReaper(t, client, table, {}, {
      now: time.now,
      sleep: time.sleep,
      log,
      observer: { ...metrics, tableState: (s) => { states.push(s); metrics.tableState(s) }, passEnded: (r) => { ended.push(r); metrics.passEnded(r) } }
    })
    t.equal(reaper.intervalSeconds, 0, 'not scheduled')
    const report = await reaper.runOnce()
    t.strictSame(Object.keys(report).sort(), [...REPORT_KEYS].sort(), 'exactly the documented fields')
    // An index pass reads the index entries of expired rows only: no live row, no invalid one (not in the index).
    if (INDEX) t.match(report, { result: 'success', strategy: 'index', scanned: 2, active: 0, expired: 2, deleted: 2, conflicts: 0, invalid: 0, maxLagSeconds: 7200 })
    else t.match(report, { result: 'success', strategy: 'scan', scanned: 4, active: 1, expired: 2, deleted: 2, conflicts: 0, invalid: 1, maxLagSeconds: 7200 })
    t.ok(report.consumedReadUnits > 0, 'the scan cost')
    t.ok(report.consumedWriteUnits >= 2 * unitsFor('DeleteItem', 1) + unitsFor('UpdateItem', 1), 'two deletes and the lease writes')
    t.strictSame(reaper.lastReport, report)
    t.strictSame(ended, [report])
    t.strictSame(await tableIds(client, table), [LEASE_ID, ids[0], ids[3]].sort())

    const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
    t.equal(lease?.untilMs, 0, 'released')
    t.equal(lease?.state.lastSuccessAt, time.seconds)
    // Index mode: `active` from the census (exact on a table this small); `invalid` from the backfill's scan.
    if (INDEX) t.match(lease?.state.table, { active: 1, expiredFound: 2, expiredBacklog: 0, maxLagSeconds: 7200, completedAt: time.seconds })
    else t.strictSame(lease?.state.table, { active: 1, expiredFound: 2, expiredBacklog: 0, invalid: 1, maxLagSeconds: 7200, completedAt: time.seconds })
    t.equal(lease?.state.sweep, undefined, 'the sweep completed: no cursors left')
    t.match(lease?.state.lastReport, { result: 'success', deleted: 2, finishedAt: time.seconds })
    // Index mode adds the census's estimate and the backfill's figures, as the lease item holds them.
    const extra = INDEX ? { backfill: lease?.state.backfill?.figures, activeEstimate: { relativeError: 0, completedAt: time.seconds } } : {}
    t.strictSame(states.at(-1), { lastSuccessAt: time.seconds, sweep: lease?.state.table, strategy: TEST_REAPER_STRATEGY, ...extra })
    t.equal(await metricValue(registry, METRIC_NAMES.activeSessions), 1)
    t.equal(await metricValue(registry, METRIC_NAMES.reaperLastSuccessTimestampSeconds), time.seconds)

    const second = await reaper.runOnce()
    t.match(second, INDEX ? { result: 'success', scanned: 0, active: 0, invalid: 0, expired: 0 } : { result: 'success', scanned: 2, active: 1, invalid: 1, expired: 0 },
      'the lease item is never counted')
    const text = JSON.stringify(log.lines)
    for (const id of ids) t.notOk(text.includes(id), 'no session id in the logs')
    t.ok(log.lines.some((l) => l.level === 'info' && l.msg === 'reaper pass'))
  })

  t.test('one pass at a time in a process: runOnce during a pass is skipped', async (t) => {
    const table = await createTable(client)
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: 1 }])
    const reaper = makeReaper(t, client, table)
    const [a, b] = await Promise.all([reaper.runOnce(), reaper.runOnce()])
    t.equal(a.result, 'success')
    t.strictSame(b, { ...b, result: 'skipped', scanned: 0, deleted: 0, consumedReadUnits: 0, consumedWriteUnits: 0 })
    t.equal(a.deleted, 1)
  })

  t.test('a pass longer than its time resumes from saved cursors; table figures come from complete sweeps only', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, [
      ...Array.from({ length: 200 }, (_, i) => ({ id: sessionId(i, 'live'), expiresAt: time.seconds + 86_400, padding: 900 })),
      ...Array.from({ length: 20 }, (_, i) => ({ id: sessionId(i, 'dead'), expiresAt: time.seconds - 100, padding: 900 }))
    ])
    const registry = new Registry()
    const metrics = createMetrics(registry)
    // About 27 read units for the table at 3 a second, and 2 seconds a pass: several passes.
    const reaper = makeReaper(t, client, table, { maxReadUnitsPerSecond: 3, maxWriteUnitsPerSecond: 3, maxPassSeconds: 2 }, { now: time.now, sleep: time.sleep, observer: metrics })
    const reports: ReapReport[] = []
    for (let pass = 0; pass < 20; pass++) {
      const calls = new ReaperCalls(client, undefined)
      const state = (await readLease(calls, reaperOptions(table)))?.state
      if (pass > 0 && state?.sweep === undefined) break
      if (pass > 0) t.equal(await metricValue(registry, METRIC_NAMES.activeSessions), 0, 'no table figures from a partial sweep')
      reports.push(await reaper.runOnce())
    }
    t.ok(reports.length >= 3, `several passes (${reports.length})`)
    t.ok(reports.every((r) => r.result === 'success'), 'a partial pass is a successful one')
    t.ok(reports[1]!.scanned < 220, 'the second pass did not start over')
    const scanned = reports.reduce((sum, r) => sum + r.scanned, 0)
    t.ok(scanned < 220 * 1.5, `the table was read about once in all (${scanned} rows)`)
    t.equal(reports.reduce((sum, r) => sum + r.deleted, 0), 20)
    t.equal((await tableIds(client, table)).length, 201)
    const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
    t.match(lease?.state.table, { active: 200, expiredFound: 20, expiredBacklog: 0, invalid: 0 }, 'each row counted once across the passes')
    t.equal(await metricValue(registry, METRIC_NAMES.activeSessions), 200)
    t.equal(await metricValue(registry, METRIC_NAMES.expiredFoundSessions), 20)
  })

  t.test('regression: passes that stop inside big pages still count every expired row of the sweep once', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, [
      ...Array.from({ length: 70 }, (_, i) => ({ id: sessionId(i, 'dead'), expiresAt: time.seconds - 100 })),
      ...Array.from({ length: 30 }, (_, i) => ({ id: sessionId(i, 'live'), expiresAt: time.seconds + 86_400 }))
    ])
    const scan = new ScanFinder(reaperOptions(table), 1)
    let largest = 0
    const finder = withPages(scan, async (calls, stream, start, limit) => {
      const page = await scan.page(calls, stream, start, limit)
      largest = Math.max(largest, page.rows.length)
      return page
    })
    const registry = new Registry()
    // Pages of the whole table, three deletes a second, two seconds a pass: every pass stops inside the page.
    const reaper = makeReaper(t, client, table, { maxReadUnitsPerSecond: 1000, maxWriteUnitsPerSecond: 3, maxPassSeconds: 2 }, { now: time.now, sleep: time.sleep, observer: createMetrics(registry), finder })
    const reports: ReapReport[] = []
    do reports.push(await reaper.runOnce())
    while ((await readLease(new ReaperCalls(client, undefined), reaperOptions(table)))?.state.sweep !== undefined && reports.length < 60)
    t.equal(largest, 101, 'the first page held the whole table')
    t.ok(reports.length >= 8, `many passes (${reports.length})`)
    t.ok(reports.every((r) => r.result === 'success'))
    t.equal(reports.reduce((sum, r) => sum + r.deleted, 0), 70)
    const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
    t.match(lease?.state.table, { active: 30, expiredFound: 70, expiredBacklog: 0, invalid: 0 }, 'each row counted once across the passes')
    t.equal(await metricValue(registry, METRIC_NAMES.expiredFoundSessions), 70)
    t.equal(await metricValue(registry, METRIC_NAMES.expiredBacklogSessions), 0)
  })

  /** Plants a lease item whose saved sweep resumes from `cursors`, as another version or a manual edit could leave it. */
  async function plantSweep (table: string, cursors: unknown[], finder = 'scan'): Promise<void> {
    const sweep = { finder, streams: cursors.length, cursors, startedAt: 1, active: 0, expired: 0, deleted: 0, conflicts: 0, invalid: 0, maxLagSeconds: 0 }
    await putRow(client, table, { Sesion_Id: { S: LEASE_ID }, [LEASE_ATTRIBUTES.state]: { S: JSON.stringify({ sweep }) } })
  }

  t.test('regression: a saved cursor that does not fit the table\'s key is dropped; the pass sweeps from the start', async (t) => {
    // The keys of the finder of this run: the table's key (scan), or an index entry's key, one cursor per shard (index).
    const indexKey = { Sesion_Id: { S: sessionId(3) }, Expire_Shard: { N: '0' }, Expire_Bucket: { N: '5999999' } }
    const cases: Array<[string, unknown, string?]> = INDEX
      ? [
          ['wrong attribute name', { ...indexKey, Sesion_Id: undefined, Session_Id: { S: sessionId(3) } }],
          ['wrong type (N instead of S)', { ...indexKey, Sesion_Id: { N: '5' } }],
          ['an extra attribute', { ...indexKey, Expire_Session: { N: '5' } }],
          ['an empty id', { ...indexKey, Sesion_Id: { S: '' } }],
          ['written by another finder', { Sesion_Id: { S: sessionId(3) } }, 'scan']
        ]
      : [
          ['wrong attribute name', { Session_Id: { S: sessionId(3) } }],
          ['wrong type (N instead of S)', { Sesion_Id: { N: '5' } }],
          ['an extra attribute', { Sesion_Id: { S: sessionId(3) }, Expire_Session: { N: '5' } }],
          ['an empty id', { Sesion_Id: { S: '' } }],
          ['written by another finder', { Sesion_Id: { S: sessionId(3) } }, 'expiry-index']
        ]
    const streams = INDEX ? 16 : 1
    for (const [name, start, finder] of cases) {
      const table = await createTable(client)
      const time = fakeTime()
      await seedRows(client, table, Array.from({ length: 6 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds + (i % 2 === 0 ? -60 : 60) })))
      await plantSweep(table, [{ done: false, start: JSON.parse(JSON.stringify(start)) }, ...Array.from({ length: streams - 1 }, () => ({ done: false }))], finder ?? TEST_REAPER_STRATEGY)
      const log = captureLog()
      const reaper = makeReaper(t, client, table, {}, { now: time.now, sleep: time.sleep, log })
      const report = await reaper.runOnce()
      t.match(report, { result: 'success', scanned: INDEX ? 3 : 6, deleted: 3, active: INDEX ? 0 : 3 }, `${name}: the pass succeeds over the whole table`)
      const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
      t.equal(lease?.state.sweep, undefined, `${name}: the sweep completed`)
      t.match(lease?.state.table, { active: 3, expiredFound: 3, expiredBacklog: 0 }, `${name}: with figures of the whole table`)
      t.ok(log.lines.some((l) => l.level === 'warn' && /sweep restarted/.test(l.msg)), `${name}: the restart is logged`)
    }
  })

  t.test('regression: a saved cursor that is not even a key (not attribute values) is dropped when the state is read', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: time.seconds - 60 }])
    await plantSweep(table, [{ done: false, start: { Sesion_Id: 'x' } }])
    t.equal((await readLease(new ReaperCalls(client, undefined), reaperOptions(table)))?.state.sweep, undefined)
    t.match(await makeReaper(t, client, table, {}, { now: time.now, sleep: time.sleep }).runOnce(), { result: 'success', deleted: 1 })
  })

  t.test('regression: a saved cursor DynamoDB rejects fails one pass only; the next one starts the sweep over', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, Array.from({ length: 20 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds + (i % 2 === 0 ? -60 : 60) })))
    // A key of segment 1 as segment 0's cursor: it has the table's key schema, but DynamoDB refuses it there.
    const out = await client.send(new ScanCommand({ TableName: table, Segment: 1, TotalSegments: 2, Limit: 1 }))
    const foreign = out.Items?.[0]?.Sesion_Id?.S
    t.ok(foreign !== undefined, 'segment 1 holds a row')
    await plantSweep(table, [{ done: false, start: { Sesion_Id: { S: foreign } } }, { done: false }])
    const log = captureLog()
    // A Scan's segments: this case is the scan strategy's, whatever the run's.
    const reaper = makeReaper(t, client, table, { segments: 2, strategy: 'scan' }, { now: time.now, sleep: time.sleep, log })
    const failed = await reaper.runOnce()
    if (CAN.scanStartKeySegmentChecked) {
      t.equal(failed.result, 'failure')
      t.match(log.lines.find((l) => l.level === 'error')?.obj, { err: { name: 'ValidationException' } })
      t.equal((await readLease(new ReaperCalls(client, undefined), reaperOptions(table)))?.state.sweep, undefined, 'the progress is dropped')
    } else {
      // This target scans on from the foreign key: nothing to reject, the pass goes on.
      t.equal(failed.result, 'success')
    }
    const next = await reaper.runOnce()
    t.match(next, { result: 'success', active: 10 })
    const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
    t.equal(lease?.state.sweep, undefined, 'the sweep completed')
    t.match(lease?.state.table, { active: 10 })
    t.equal((await tableIds(client, table)).length, 11, 'the live rows and the lease item are left')
  })

  t.test('regression: the backlog gauge counts the expired rows a sweep left in the table, not those it deleted', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, [
      ...Array.from({ length: 5 }, (_, i) => ({ id: sessionId(i, 'dead'), expiresAt: time.seconds - 60 })),
      ...Array.from({ length: 2 }, (_, i) => ({ id: sessionId(i, 'live'), expiresAt: time.seconds + 60 }))
    ])
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    // The SDK's only attempt at one delete is throttled: that row stays for the next sweep. (One attempt: with
    // several streams at once, as the index's shards are, a second throttle could meet another row's delete.)
    proxy.inject({ kind: 'throttle' }, { operations: ['DeleteItem'], times: 1 })
    const registry = new Registry()
    const reaper = makeReaper(t, makeClient(t, proxy.endpoint, { maxAttempts: 1 }), table, {}, { now: time.now, sleep: time.sleep, observer: createMetrics(registry), log: captureLog() })
    const gauges = async (): Promise<Array<number | undefined>> => await Promise.all(
      [METRIC_NAMES.expiredFoundSessions, METRIC_NAMES.expiredBacklogSessions, METRIC_NAMES.expiredPendingSessions, METRIC_NAMES.activeSessions].map((name) => metricValue(registry, name)))
    t.match(await reaper.runOnce(), { result: 'success', expired: 5, deleted: 4 })
    t.strictSame(await gauges(), [5, 1, 5, 2], 'found 5, 1 left; the deprecated gauge shows the rows found')
    t.match(await reaper.runOnce(), { result: 'success', expired: 1, deleted: 1 })
    t.strictSame(await gauges(), [1, 0, 1, 2], 'the next sweep found and deleted it')
  })

  t.test('a lease taken over mid-pass stops the pass', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, Array.from({ length: 20 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 10 })))
    const shape = reaperOptions(table)
    const scan = new ScanFinder(shape, 1)
    let pages = 0
    const finder = withPages(scan, async (calls, stream, start, limit) => {
      if (++pages === 2) {
        // This instance stalled past its lease; another saw it unrenewed for a lease length and took it over.
        const intruder = new Lease(new ReaperCalls(client, undefined), shape, 'intruder', 30_000, time.now, new LeaseWatch(time.now))
        t.equal((await intruder.acquire()).acquired, false, 'first sight of the holder')
        time.advance(31_000)
        t.equal((await intruder.acquire()).acquired, true)
      }
      return await scan.page(calls, stream, start, limit)
    })
    const log = captureLog()
    const reaper = makeReaper(t, client, table, { maxReadUnitsPerSecond: 2, leaseSeconds: 30 }, { now: time.now, sleep: time.sleep, finder, log })
    const report = await reaper.runOnce()
    t.equal(report.result, 'failure')
    t.ok(report.deleted > 0 && report.deleted < 20, `stopped part way (${report.deleted})`)
    const error = log.lines.find((l) => l.level === 'error')
    t.match(error?.obj, { err: { code: 'FST_DYNAMO_SESSION_REAPER_LEASE_LOST' } })
    t.ok(log.lines.some((l) => l.level === 'warn' && /taken over/.test(l.msg)), 'it did not release a lease it no longer held')
    t.equal((await readLease(new ReaperCalls(client, undefined), shape))?.owner, 'intruder')
  })

  t.test('regression: the lease is renewed while a pass waits on its budget, so no other instance can take it', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    // 40 KB rows: a page sized by the first estimate (half a unit per item) costs ten seconds of this budget.
    await seedRows(client, table, Array.from({ length: 6 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds + 3600, padding: 40_000 })))
    const intruder = new Lease(new ReaperCalls(client, undefined), reaperOptions(table), 'intruder', 3000, time.now, new LeaseWatch(time.now))
    let waited = 0
    let takeovers = 0
    // Another instance tries to take the lease whenever this one has been waiting.
    const sleep: Sleep = async (ms, signal) => {
      await time.sleep(ms, signal)
      waited += ms
      if ((await intruder.acquire()).acquired) takeovers++
    }
    // Where a page costs a fixed figure whatever its size (test/helpers/target.ts), a smaller budget makes it wait.
    const budget = CAN.capacity === 'real' ? 1 : 0.1
    const own = makeClient(t, dynamo.endpoint)
    const calls = countCalls(own)
    // Pages of big rows that cost their size: the scan strategy's, whatever the run's (index entries are keys only).
    const reaper = makeReaper(t, own, table, { maxReadUnitsPerSecond: budget, leaseSeconds: 3, maxPassSeconds: 600, strategy: 'scan' }, { now: time.now, sleep, log: captureLog() })
    const report = await reaper.runOnce()
    t.ok(waited > 3 * 3000, `the pass waited on its budget for several lease lengths (${waited} ms)`)
    t.equal(takeovers, 0, 'no other instance took the lease meanwhile')
    t.match(report, { result: 'success', scanned: 6 })
    if (CAN.capacity === 'real') t.ok(report.consumedReadUnits > 20, `the pages cost what they cost (${report.consumedReadUnits} RCU)`)
    else t.equal(report.consumedReadUnits, calls.count('Scan') * unitsFor('Scan', 0) + calls.count('GetItem') * unitsFor('GetItem', 0), 'the pages cost what they cost')
  })

  t.test('regression: the report stored in the lease item is the one runOnce() returns', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, Array.from({ length: 3 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 10 })))
    const reaper = makeReaper(t, client, table, {}, { now: time.now, sleep: time.sleep })
    const report = await reaper.runOnce()
    const stored = (await readLease(new ReaperCalls(client, undefined), reaperOptions(table)))?.state.lastReport
    t.strictSame(stored, { ...report, finishedAt: time.seconds })
    t.strictSame(reaper.lastReport, report)
  })

  t.test('regression: a pass cut short by close() reports success but does not move the last success time', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const scan = new ScanFinder(reaperOptions(table), 1)
    let closing: Promise<void> | undefined
    let shutDown = false
    const finder = withPages(scan, async (calls, stream, start, limit) => {
      const page = await scan.page(calls, stream, start, limit)
      // The application shuts down while the page is being read.
      if (shutDown) closing = reaper.close()
      return page
    })
    const registry = new Registry()
    const log = captureLog()
    const reaper = makeReaper(t, client, table, {}, { now: time.now, sleep: time.sleep, finder, observer: createMetrics(registry), log })
    t.equal((await reaper.runOnce()).result, 'success')
    const firstSuccess = time.seconds

    time.advance(60_000)
    await seedRows(client, table, Array.from({ length: 10 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 10 })))
    shutDown = true
    const cut = await reaper.runOnce()
    await closing
    t.match(cut, { result: 'success', expired: 0, deleted: 0 }, 'stopped, not failed')
    const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
    t.equal(lease?.state.lastSuccessAt, firstSuccess, 'the interrupted pass is not the last success')
    t.equal(await metricValue(registry, METRIC_NAMES.reaperLastSuccessTimestampSeconds), firstSuccess, 'nor does the metric say so')
    t.match(lease?.state.lastReport, { result: 'success', finishedAt: time.seconds }, 'its report is stored')
    // With its cursor, for the next pass: at the start, or past the lease item if the page began with it (the order
    // of a Scan is the implementation's); no session row was settled.
    const cursors = lease?.state.sweep?.cursors
    t.equal(cursors?.length, 1)
    const cursor = cursors?.[0]
    t.ok(cursor !== undefined && !cursor.done && (cursor.start === undefined || cursor.start.Sesion_Id?.S === LEASE_ID), 'with its cursors, for the next pass')
    t.ok(log.lines.some((l) => l.msg === 'reaper pass' && (l.obj as { interrupted?: boolean }).interrupted === true), 'logged as interrupted')
    t.equal(await metricValue(registry, METRIC_NAMES.reaperRunsTotal, { result: 'success' }), 2)
  })

  t.test('the lease cannot be taken: a failure, logged', async (t) => {
    const log = captureLog()
    const reaper = makeReaper(t, client, 'no_such_table', {}, { log })
    const report = await reaper.runOnce()
    t.equal(report.result, 'failure')
    t.match(log.lines, [{ level: 'error', obj: { err: { name: 'ResourceNotFoundException' } } }])
  })

  t.test('close() during a pass: it stops, saves its cursors, frees the lease, and nothing is sent afterwards', async (t) => {
    const table = await createTable(client)
    await seedRows(client, table, Array.from({ length: 30 }, (_, i) => ({ id: sessionId(i), expiresAt: 1000 })))
    const own = makeClient(t, dynamo.endpoint)
    const calls = countCalls(own)
    // Two write units a second on the real clock (the lease takes one): the pass would take a quarter of a minute.
    const registry = new Registry()
    const app = await buildApp(t, own, table, { reaper: { schedule: false, maxWriteUnitsPerSecond: 2 }, metrics: { registry } })
    const running = app.sessionReaper!.runOnce()
    // Wait for the first delete to have been answered (a delete seen in the table may still be in flight).
    await until(async () => (await metricValue(registry, METRIC_NAMES.reapedTotal) ?? 0) >= 1, 'the first delete')
    await app.close()
    const report = await running
    const sent = calls.calls.length
    t.equal(report.result, 'success')
    t.ok(report.deleted >= 1 && report.deleted < 30, `stopped early (${report.deleted})`)
    const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
    t.equal(lease?.untilMs, 0, 'lease freed')
    // A stream whose rows were all settled is done (an index shard may hold a single row); no stream reached its end
    // otherwise (30 rows at 2 a second).
    const resumes = lease?.state.sweep?.cursors.some((cursor) => cursor.done || (cursor.start !== undefined && /^sess/.test(cursor.start.Sesion_Id?.S ?? '')))
    t.ok(resumes, 'the next pass resumes after the last row settled')
    t.equal(lease?.state.sweep?.deleted, report.deleted, 'whose rows are counted in the sweep')
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal(calls.calls.length, sent, 'no call after close()')
    t.equal((await app.sessionReaper!.runOnce()).result, 'skipped', 'a closed reaper runs no more passes')
  })

  t.test('close() does not wait on a stalled DynamoDB: the call in flight is aborted', async (t) => {
    const table = await createTable(client)
    await seedRows(client, table, Array.from({ length: 5 }, (_, i) => ({ id: sessionId(i), expiresAt: 1000 })))
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    // No request timeout on this client: without the abort, close() would wait for ever.
    proxy.inject({ kind: 'stall' }, { operations: ['DeleteItem'] })
    const reaper = makeReaper(t, makeClient(t, proxy.endpoint), table, {}, { log: captureLog() })
    const running = reaper.runOnce()
    await until(() => proxy.seen.includes('DeleteItem'), 'the stalled delete')
    await reaper.close()
    const report = await running
    t.equal(report.result, 'success', 'stopped, not failed')
    t.equal(report.deleted, 0)
    // One delete in flight in scan mode; in index mode, one per shard that reached its row before close().
    const stalled = proxy.seen.filter((operation) => operation === 'DeleteItem').length
    t.ok(report.expired >= Math.max(1, stalled) && report.expired <= (INDEX ? 5 : 1), `each aborted delete is counted as a failed one (${report.expired})`)
    t.equal((await readLease(new ReaperCalls(client, undefined), reaperOptions(table)))?.untilMs, 0, 'the lease was still freed')
    t.equal((await tableIds(client, table)).length, 6, 'the rows are left for the next pass (and the lease item)')
  })

  t.test('close() while the lease is being taken: skipped', async (t) => {
    const table = await createTable(client)
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    proxy.inject({ kind: 'stall' }, { operations: ['UpdateItem'] })
    const log = captureLog()
    const reaper = makeReaper(t, makeClient(t, proxy.endpoint), table, {}, { log })
    const running = reaper.runOnce()
    await until(() => proxy.seen.includes('UpdateItem'), 'the stalled lease write')
    proxy.heal()
    await reaper.close()
    t.equal((await running).result, 'skipped')
    t.strictSame(log.lines.filter((l) => l.level === 'error'), [], 'nothing to report as an error')
    const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
    t.ok(lease === undefined || lease.untilMs === 0, 'no lease left held')
  })

  t.test('DynamoDB unreachable mid-pass: a failure is counted, the lease expires, the next pass succeeds', async (t) => {
    // The outage: from the second page on, the proxy resets every connection until healed.
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const ownClient = makeClient(t, proxy.endpoint, { maxAttempts: 2 })
    const table = await createTable(ownClient)
    const time = fakeTime()
    await seedRows(ownClient, table, Array.from({ length: 20 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 10 })))
    const shape = reaperOptions(table)
    const scan = new ScanFinder(shape, 1)
    let pages = 0
    const outage = withPages(scan, async (calls, stream, start, limit) => {
      const page = await scan.page(calls, stream, start, limit)
      if (++pages === 2) {
        // DynamoDB goes away between reading a page and deleting its rows.
        proxy.inject({ kind: 'reset' })
      }
      return page
    })
    const registryA = new Registry()
    const a = makeReaper(t, ownClient, table, { maxReadUnitsPerSecond: 2, leaseSeconds: 30 }, {
      now: time.now, sleep: time.sleep, finder: outage, observer: createMetrics(registryA), owner: 'a', log: captureLog()
    })
    const b = makeReaper(t, ownClient, table, {}, { now: time.now, monotonic: time.now, sleep: time.sleep, owner: 'b' })
    const failed = await a.runOnce()
    t.equal(failed.result, 'failure')
    t.equal(await metricValue(registryA, METRIC_NAMES.reaperRunsTotal, { result: 'failure' }), 1)
    t.ok(failed.expired >= 1, 'the failed delete is counted as expired')
    t.equal(failed.expired, failed.deleted + failed.conflicts + 1, 'one failed delete')
    proxy.heal()
    t.equal((await b.runOnce()).result, 'skipped', 'the lease could not be released while DynamoDB was away')
    const held = await readLease(new ReaperCalls(ownClient, undefined), shape)
    t.equal(held?.owner, 'a')
    time.advance(30_000)
    const next = await b.runOnce()
    t.equal(next.result, 'success', 'left unrenewed for a lease length, another instance takes it over')
    t.equal(failed.deleted + next.deleted, 20)
    t.strictSame(await tableIds(ownClient, table), [LEASE_ID])
    t.equal((await a.runOnce()).result, 'success', 'and the instance that failed runs again')
  })

  t.test('regression: a reaper 120 s fast does not delete a session another instance refreshed 1 s earlier (default grace)', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const app = await buildApp(t, client, table, { ttlSeconds: 120, now: clock.now })
    const created = await app.inject({ method: 'POST', url: '/set', payload: { user: 'u1' } })
    const cookie = cookieFrom(created.headers['set-cookie'])
    t.ok(cookie, 'a session was created')
    clock.advance(1)
    // Another instance with the plugin's default reaper options, its clock 120 s ahead.
    const fast = await buildApp(t, client, table, { ttlSeconds: 120, now: () => clock.now() + 120_000 })
    const report = await fast.sessionReaper!.runOnce()
    // In index mode the row's bucket has not even passed: not read at all.
    t.match(report, { result: 'success', scanned: INDEX ? 0 : 1, active: 0, expired: 0, deleted: 0 }, 'past its expiry on the fast clock, but within the grace')
    const read = await app.inject({ method: 'GET', url: '/get?key=user', headers: { cookie: cookie! } })
    t.strictSame(read.json(), { id: JSON.parse(created.body).id, isNew: false, value: 'u1' }, 'still live where the clock is right')
  })

  t.test('regression: two reapers whose clocks differ by more than leaseSeconds never run passes at once', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    // 4 KB rows: pages of two at one read unit a second.
    await seedRows(client, table, Array.from({ length: 10 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 600, padding: 4000 })))
    const shape = reaperOptions(table)
    const scan = new ScanFinder(shape, 1)
    let mono = 0
    // B's wall clock is two minutes ahead of A's, four lease lengths; its monotonic clock is its own.
    const b = makeReaper(t, client, table, { leaseSeconds: 30 }, { now: () => time.now() + 120_000, monotonic: () => mono, sleep: time.sleep, owner: 'b' })
    const during: string[] = []
    const finder = withPages(scan, async (calls, stream, start, limit) => {
      // A's pass goes on for minutes: 11 s between pages, so it renews before each page's deletes.
      time.advance(11_000)
      mono += 11_000
      during.push((await b.runOnce()).result)
      return await scan.page(calls, stream, start, limit)
    })
    const a = makeReaper(t, client, table, { leaseSeconds: 30, maxReadUnitsPerSecond: 1, maxPassSeconds: 3600 }, { now: time.now, sleep: time.sleep, finder, owner: 'a', log: captureLog() })
    const report = await a.runOnce()
    t.match(report, { result: 'success', deleted: 10 }, 'A kept its lease to the end')
    t.ok(during.length >= 4, `B tried during more than a lease length of A's pass (${during.length} times)`)
    t.strictSame(during, during.map(() => 'skipped'), 'B never took the held, renewing lease')
    t.equal((await b.runOnce()).result, 'success', 'released: B takes it at once')
  })

  t.test('regression: a holder that stopped renewing is taken over after leaseSeconds on the taker\'s monotonic clock, whatever its wall clock', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const shape = reaperOptions(table)
    // A pass that died holding the lease, on an instance whose clock was right.
    t.equal((await new Lease(new ReaperCalls(client, undefined), shape, 'dead', 30_000, time.now).acquire()).acquired, true)
    let mono = 0
    // The taker's wall clock is two minutes behind: the dead holder's Lease_Until_Ms stays in its future.
    const slow = makeReaper(t, client, table, { leaseSeconds: 30 }, { now: () => time.now() - 120_000, monotonic: () => mono, sleep: time.sleep, owner: 'slow' })
    t.equal((await slow.runOnce()).result, 'skipped', 'first sight of the holder')
    mono += 29_999
    t.equal((await slow.runOnce()).result, 'skipped', 'not yet a lease length')
    mono += 1
    t.equal((await slow.runOnce()).result, 'success', 'unchanged for a lease length: taken over')
    t.equal((await readLease(new ReaperCalls(client, undefined), shape))?.owner, 'slow')
  })

  t.test('regression: a tick far from now is refused; a stored far-future tick does not block later passes', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const shape = reaperOptions(table)
    const log = captureLog()
    const reaper = makeReaper(t, client, table, {}, { now: time.now, sleep: time.sleep, log, owner: 'right' })
    const micro = await reaper.runOnce({ tick: time.now() * 1000 })
    t.equal(micro.result, 'failure', 'epoch microseconds: no pass')
    t.match(log.lines, [{ level: 'error', obj: { err: { code: 'FST_DYNAMO_SESSION_REAPER_TICK_OUT_OF_RANGE' } } }])
    t.equal(await readLease(new ReaperCalls(client, undefined), shape), undefined, 'nothing written')
    t.equal((await reaper.runOnce({ tick: time.now() - MAX_TICK_DISTANCE_MS - 1 })).result, 'failure', 'too far back as well')
    t.equal((await reaper.runOnce({ tick: time.now() + MAX_TICK_DISTANCE_MS })).result, 'success', 'within the bound')

    // An instance whose clock was a day ahead ran a pass for its tick.
    const day = 86_400_000
    const ahead = makeReaper(t, client, table, {}, { now: () => time.now() + day, sleep: time.sleep, owner: 'ahead' })
    // The pass may wait on its budgets, which moves the fake clock: the tick is the one given.
    const farTick = time.now() + day
    t.equal((await ahead.runOnce({ tick: farTick })).result, 'success')
    t.equal((await readLease(new ReaperCalls(client, undefined), shape))?.tickMs, farTick)
    time.advance(60_000)
    t.equal((await reaper.runOnce({ tick: time.now() })).result, 'success', 'the next scheduled pass runs')
    t.equal((await readLease(new ReaperCalls(client, undefined), shape))?.tickMs, time.now(), 'and its tick replaces the far one')
    t.equal((await reaper.runOnce({ tick: time.now() })).result, 'skipped', 'still one pass per tick')
  })

  t.test('three app instances on one table', async (t) => {
    const table = await createTable(client)
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const apps: FastifyInstance[] = []
    const reaper = { schedule: false as const, maxWriteUnitsPerSecond: 1000, graceSeconds: 0 }
    // Instance 0 reaches DynamoDB through a proxy that can slow its scans down.
    apps.push(await buildApp(t, makeClient(t, proxy.endpoint), table, { reaper }))
    for (let i = 1; i < 3; i++) apps.push(await buildApp(t, makeClient(t, dynamo.endpoint), table, { reaper }))
    const reapers = apps.map((app) => app.sessionReaper!)
    const time = fakeTime(Date.now())

    t.test('every expired row deleted exactly once; one pass per tick', async (t) => {
      for (let round = 0; round < 5; round++) {
        const ids = Array.from({ length: 30 }, (_, i) => sessionId(i, `r${round}x`))
        // Expired ten minutes ago: their bucket has passed (index mode) whatever the time now.
        await seedRows(client, table, ids.map((id) => ({ id, expiresAt: time.seconds - 600 })))
        const tick = Date.now() + round * 60_000
        const reports = await Promise.all(reapers.map((r) => r.runOnce({ tick })))
        t.equal(reports.filter((r) => r.result === 'success').length, 1, `round ${round}: one pass`)
        t.equal(reports.filter((r) => r.result === 'skipped').length, 2)
        t.equal(reports.reduce((sum, r) => sum + r.deleted, 0), 30, 'every expired row deleted once')
        t.equal(reports.reduce((sum, r) => sum + r.conflicts, 0), 0, 'never twice')
        t.strictSame(await tableIds(client, table), [LEASE_ID])
        const late = await reapers[round % 3]!.runOnce({ tick })
        t.equal(late.result, 'skipped', 'a pass for a tick already taken is skipped, even with the lease free')
      }
    })

    t.test('a pass in progress keeps the others out', async (t) => {
      await seedRows(client, table, Array.from({ length: 10 }, (_, i) => ({ id: sessionId(i, 'slow'), expiresAt: 1000 })))
      const finding = INDEX ? 'Query' : 'Scan'
      proxy.inject({ kind: 'delay', ms: 300 }, { operations: [finding] })
      t.teardown(() => proxy.heal())
      // Later than every tick of the previous test, within MAX_TICK_DISTANCE_MS of now.
      const tick = Date.now() + 600_000
      const first = reapers[0]!.runOnce({ tick })
      await until(() => proxy.seen.includes(finding), 'the first pass to be reading')
      const others = await Promise.all([reapers[1]!.runOnce({ tick: tick + 60_000 }), reapers[2]!.runOnce()])
      t.strictSame(others.map((r) => r.result), ['skipped', 'skipped'], 'held by the running pass')
      t.equal((await first).deleted, 10)
      t.equal((await reapers[2]!.runOnce({ tick })).result, 'skipped', 'its tick is taken')
      t.equal((await reapers[1]!.runOnce({ tick: tick + 60_000 })).result, 'success', 'the next tick runs once the lease is free')
    })
  })

  t.test('the plugin', async (t) => {
    t.test('reaper: false removes it; schedule: false keeps runOnce', async (t) => {
      const table = await createTable(client)
      const off = await buildApp(t, client, table, { reaper: false })
      t.equal(off.sessionReaper, null)
      const manual = await buildApp(t, client, table, { reaper: { schedule: false } })
      t.equal(manual.sessionReaper?.intervalSeconds, 0)
      t.equal((await manual.sessionReaper!.runOnce()).result, 'success')
    })

    t.test('the schedule fires (one tick a second, bounded)', async (t) => {
      const table = await createTable(client)
      await seedRows(client, table, [{ id: sessionId(1), expiresAt: 1000 }, { id: sessionId(2), expiresAt: Math.floor(Date.now() / 1000) + 3600 }])
      // The end of the first successful pass, from its log line: lastReport is set in the same turn, after the
      // pass's final lease write (waiting for the row to disappear would read it too early on a slow endpoint).
      let passEnded: (report: unknown) => void = () => {}
      const firstPass = new Promise<unknown>((resolve) => { passEnded = resolve })
      const stream = {
        write (line: string) {
          const entry = JSON.parse(line) as { msg?: string, report?: { result?: string } }
          if (entry.msg === 'reaper pass' && entry.report?.result === 'success') passEnded(entry.report)
        }
      }
      const app = await buildApp(t, client, table, { reaper: { schedule: '* * * * * *' } }, { fastify: { logger: { level: 'info', stream } } })
      t.equal(app.sessionReaper?.intervalSeconds, 1)
      const logged = await firstPass
      t.strictSame(app.sessionReaper?.lastReport, logged, 'lastReport is the pass that ended')
      t.equal(await getRow(client, table, sessionId(1)), undefined, 'the expired row is gone')
      t.ok(await getRow(client, table, sessionId(2)), 'the live session stays')
      const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
      t.ok(lease?.tickMs !== undefined && lease.tickMs % 1000 === 0, 'the pass recorded its tick')
      await app.close()
    })

    t.test('the interval and the default pass length follow the schedule', async (t) => {
      const table = await createTable(client)
      const every5 = makeReaper(t, client, table, { schedule: '*/5 * * * * *' })
      t.equal(every5.intervalSeconds, 5)
      const hourly = makeReaper(t, client, table, { schedule: '0 * * * *' })
      t.equal(hourly.intervalSeconds, 3600)
      const registry = new Registry()
      makeReaper(t, client, table, { schedule: '* * * * *' }, { observer: createMetrics(registry) })
      t.equal(await metricValue(registry, METRIC_NAMES.reaperIntervalSeconds), 60)
    })
  })

  t.test('lease attributes are the documented ones', async (t) => {
    t.strictSame(Object.values(LEASE_ATTRIBUTES), ['Lease_Owner', 'Lease_Until_Ms', 'Lease_Tick_Ms', 'Reaper_State', 'Lease_Version'])
  })
})
