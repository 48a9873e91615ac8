import t from 'tap'
import { spawnSync } from 'node:child_process'
import Fastify from 'fastify'
import { Registry, register as globalRegistry } from 'prom-client'
import { startDynalite, makeClient, createTable, countCalls } from './helpers/dynamo.js'
import { buildApp, cookieFrom, fakeClock, signedCookie, SECRET } from './helpers/app.js'
import { TEST_REAPER_STRATEGY, seedRows, sessionId } from './helpers/reaper.js'
import { unitsFor } from './helpers/target.js'
import { dynamoSession } from '../src/index.js'
import { createMetrics, METRIC_NAMES, TTL_LAG_BUCKETS } from '../src/metrics.js'
import {
  BUDGET_KINDS, LOAD_RESULTS, STORE_OPERATIONS, OPERATION_RESULTS, REAPER_RESULTS, REAPER_OPERATIONS, REAPER_STRATEGIES,
  REAP_SKIP_REASONS, TABLE_FIGURE_SOURCES, THROTTLE_REASON_LABELS, TRANSPORTS
} from '../src/instrumentation.js'
import { emptyReport } from '../src/reaper/report.js'
import { ReaperCalls } from '../src/reaper/calls.js'
import { Lease } from '../src/reaper/lease.js'
import { reaperOptions } from './helpers/reaper.js'
import { startFaultProxy } from './helpers/fault-proxy.js'
import { originOf } from '../src/metrics-server.js'
import { metricValue } from './helpers/reliability.js'

type Json = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

const TYPES: Record<keyof typeof METRIC_NAMES, string> = {
  activeSessions: 'gauge',
  expiredFoundSessions: 'gauge',
  expiredBacklogSessions: 'gauge',
  expiredPendingSessions: 'gauge',
  ttlLagSeconds: 'histogram',
  ttlLagMaxSeconds: 'gauge',
  reapedTotal: 'counter',
  reapSkippedTotal: 'counter',
  invalidExpirySessions: 'gauge',
  activeSessionsRelativeError: 'gauge',
  missingBucketSessions: 'gauge',
  tableFiguresTimestampSeconds: 'gauge',
  reaperStrategy: 'gauge',
  reaperBudgetUnitsPerSecond: 'gauge',
  reaperRunsTotal: 'counter',
  reaperRunDurationSeconds: 'histogram',
  reaperLastSuccessTimestampSeconds: 'gauge',
  reaperIntervalSeconds: 'gauge',
  consumedCapacityUnitsTotal: 'counter',
  throttledRequestsTotal: 'counter',
  storeOperationDurationSeconds: 'histogram',
  loadsTotal: 'counter',
  createdTotal: 'counter',
  destroyedTotal: 'counter',
  ownerRevocationsTotal: 'counter',
  clockSkewSeconds: 'gauge',
  transport: 'gauge'
}

function find (json: Json, name: string): Json[number] {
  const metric = json.find((m) => m.name === name)
  if (metric === undefined) throw new Error(`${name} is not registered`)
  return metric
}

/** The value of one series (for a histogram: `_count` by default, or `_sum`). */
function value (json: Json, name: string, labels: Record<string, string> = {}, part: 'count' | 'sum' = 'count'): number | undefined {
  const metric = find(json, name)
  const wanted = String(metric.type) === 'histogram' ? `${name}_${part}` : name
  const series = metric.values.find((v) => ((v as { metricName?: string }).metricName ?? name) === wanted &&
    Object.entries(labels).every(([k, l]) => v.labels[k] === l) && Object.keys(v.labels).filter((k) => k !== 'le').length === Object.keys(labels).length)
  return series?.value
}

function promtoolCheck (text: string): { status: number | null, output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

t.test('the names, types and labels are public API', async (t) => {
  const registry = new Registry()
  createMetrics(registry)
  const json = await registry.getMetricsAsJSON()
  t.strictSame(json.map((m) => m.name).sort(), Object.values(METRIC_NAMES).sort(), 'exactly the exported names are registered')
  for (const [key, type] of Object.entries(TYPES)) {
    const name = METRIC_NAMES[key as keyof typeof METRIC_NAMES]
    t.equal(String(find(json, name).type), type, `${name} is a ${type}`)
    t.match(name, /^dynamo_session_[a-z_]+$/)
    t.equal(name.endsWith('_total'), type === 'counter', `${name}: _total exactly on counters`)
  }
  t.strictSame(await globalRegistry.getMetricsAsJSON().then((all) => all.filter((m) => m.name.startsWith('dynamo_session_'))), [], 'nothing on the global registry')
  t.equal(TTL_LAG_BUCKETS.at(-1)! >= 2 * 86_400, true, 'TTL lag buckets reach days')
})

t.test('known label combinations exist at 0 from the first scrape', async (t) => {
  const registry = new Registry()
  createMetrics(registry)
  const json = await registry.getMetricsAsJSON()
  for (const result of LOAD_RESULTS) t.equal(value(json, METRIC_NAMES.loadsTotal, { result }), 0)
  for (const result of REAPER_RESULTS) t.equal(value(json, METRIC_NAMES.reaperRunsTotal, { result }), 0)
  for (const reason of REAP_SKIP_REASONS) t.equal(value(json, METRIC_NAMES.reapSkippedTotal, { reason }), 0)
  for (const operation of STORE_OPERATIONS) {
    t.equal(value(json, METRIC_NAMES.consumedCapacityUnitsTotal, { operation, component: 'request' }), 0)
    for (const result of OPERATION_RESULTS) t.equal(value(json, METRIC_NAMES.storeOperationDurationSeconds, { operation, result }), 0)
  }
  for (const operation of REAPER_OPERATIONS) {
    t.equal(value(json, METRIC_NAMES.consumedCapacityUnitsTotal, { operation, component: 'reaper' }), 0)
  }
  for (const reason of THROTTLE_REASON_LABELS) {
    for (const operation of STORE_OPERATIONS) t.equal(value(json, METRIC_NAMES.throttledRequestsTotal, { component: 'request', operation, reason }), 0)
    for (const operation of REAPER_OPERATIONS) t.equal(value(json, METRIC_NAMES.throttledRequestsTotal, { component: 'reaper', operation, reason }), 0)
  }
  for (const strategy of REAPER_STRATEGIES) t.equal(value(json, METRIC_NAMES.reaperStrategy, { strategy }), 0)
  for (const transport of TRANSPORTS) t.equal(value(json, METRIC_NAMES.transport, { transport }), 0)
  for (const kind of BUDGET_KINDS) t.equal(value(json, METRIC_NAMES.reaperBudgetUnitsPerSecond, { kind }), 0)
  for (const source of TABLE_FIGURE_SOURCES) t.equal(value(json, METRIC_NAMES.tableFiguresTimestampSeconds, { source }), 0)
  for (const name of [METRIC_NAMES.reapedTotal, METRIC_NAMES.createdTotal, METRIC_NAMES.destroyedTotal, METRIC_NAMES.activeSessions,
    METRIC_NAMES.activeSessionsRelativeError, METRIC_NAMES.missingBucketSessions,
    METRIC_NAMES.reaperLastSuccessTimestampSeconds, METRIC_NAMES.reaperIntervalSeconds, METRIC_NAMES.ttlLagSeconds, METRIC_NAMES.reaperRunDurationSeconds]) {
    t.equal(value(json, name), 0, name)
  }
  const check = promtoolCheck(await registry.metrics())
  t.equal(check.output, '', 'promtool has nothing to say')
  t.equal(check.status, 0, 'promtool check metrics passes on a fresh registry')
})

t.test('regression: the reaper\'s Query operation is exported at 0 like its other operations', async (t) => {
  const registry = new Registry()
  createMetrics(registry)
  const json = await registry.getMetricsAsJSON()
  t.equal(value(json, METRIC_NAMES.consumedCapacityUnitsTotal, { operation: 'Query', component: 'reaper' }), 0)
  t.equal(value(json, METRIC_NAMES.throttledRequestsTotal, { component: 'reaper', operation: 'Query', reason: 'unknown' }), 0)
})

t.test('the observer methods', async (t) => {
  const registry = new Registry()
  const m = createMetrics(registry)
  m.throttled('Scan', 'TableReadKeyRangeThroughputExceeded')
  m.throttled('Scan', 'unknown')
  m.requestThrottled('PutItem', 'IndexWriteKeyRangeThroughputExceeded')
  m.skipped('error')
  m.skipped('conflict')
  m.consumed('Scan', 2.5)
  m.consumed('UpdateItem', 0)
  m.operation('UpdateItem', 'conflict', 0.01, undefined)
  m.operation('GetItem', 'error', 0.5, undefined)
  m.operation('PutItem', 'success', 0.002, { TableName: 'x', CapacityUnits: 1 })
  m.passEnded(emptyReport('skipped', 0.1))
  m.passEnded(emptyReport('failure', 3))
  m.tableState({ lastSuccessAt: undefined, sweep: undefined })
  m.reaped()
  m.ttlLag(5)
  m.ttlLag(7200)
  const json = await registry.getMetricsAsJSON()
  t.equal(value(json, METRIC_NAMES.reapedTotal), 1)
  t.equal(value(json, METRIC_NAMES.ttlLagSeconds), 2, 'the lag of each settled row, deleted or not')
  t.equal(value(json, METRIC_NAMES.ttlLagSeconds, {}, 'sum'), 7205)
  const throttled = (component: string, operation: string, reason: string): number | undefined =>
    value(json, METRIC_NAMES.throttledRequestsTotal, { component, operation, reason })
  t.equal(throttled('reaper', 'Scan', 'TableReadKeyRangeThroughputExceeded'), 1)
  t.equal(throttled('reaper', 'Scan', 'unknown'), 1)
  t.equal(throttled('request', 'PutItem', 'IndexWriteKeyRangeThroughputExceeded'), 1)
  t.equal(throttled('reaper', 'PutItem', 'IndexWriteKeyRangeThroughputExceeded'), undefined, 'the reaper sends no PutItem')
  t.equal(value(json, METRIC_NAMES.reapSkippedTotal, { reason: 'error' }), 1)
  t.equal(value(json, METRIC_NAMES.reapSkippedTotal, { reason: 'conflict' }), 1)
  t.equal(value(json, METRIC_NAMES.consumedCapacityUnitsTotal, { operation: 'Scan', component: 'reaper' }), 2.5)
  t.equal(value(json, METRIC_NAMES.consumedCapacityUnitsTotal, { operation: 'UpdateItem', component: 'reaper' }), 0)
  t.equal(value(json, METRIC_NAMES.consumedCapacityUnitsTotal, { operation: 'UpdateItem', component: 'request' }), 1, 'a failed conditional write counts one unit')
  t.equal(value(json, METRIC_NAMES.consumedCapacityUnitsTotal, { operation: 'GetItem', component: 'request' }), 0, 'an error costs nothing known')
  t.equal(value(json, METRIC_NAMES.consumedCapacityUnitsTotal, { operation: 'PutItem', component: 'request' }), 1)
  t.equal(value(json, METRIC_NAMES.storeOperationDurationSeconds, { operation: 'GetItem', result: 'error' }, 'sum'), 0.5)
  t.equal(value(json, METRIC_NAMES.reaperRunsTotal, { result: 'skipped' }), 1)
  t.equal(value(json, METRIC_NAMES.reaperRunDurationSeconds), 1, 'skipped passes are not timed')
  t.equal(value(json, METRIC_NAMES.reaperRunDurationSeconds, {}, 'sum'), 3)
  t.equal(value(json, METRIC_NAMES.reaperLastSuccessTimestampSeconds), 0, 'untouched before any success')
})

t.test('index mode: the strategy, the budgets, the estimate\'s error, rows missing the bucket and the figures\' age', async (t) => {
  const registry = new Registry()
  const m = createMetrics(registry)
  const N = METRIC_NAMES
  const read = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> =>
    value(await registry.getMetricsAsJSON(), name, labels)
  m.budgets(20, 10)
  t.equal(await read(N.reaperBudgetUnitsPerSecond, { kind: 'read' }), 20)
  t.equal(await read(N.reaperBudgetUnitsPerSecond, { kind: 'write' }), 10)
  m.strategy('index')
  t.strictSame([await read(N.reaperStrategy, { strategy: 'index' }), await read(N.reaperStrategy, { strategy: 'scan' })], [1, 0])
  m.strategy('scan')
  t.strictSame([await read(N.reaperStrategy, { strategy: 'index' }), await read(N.reaperStrategy, { strategy: 'scan' })], [0, 1])

  const sweep = { active: 900, expiredFound: 40, expiredBacklog: 5, invalid: 3, maxLagSeconds: 70, completedAt: 1000 }
  // A scan sweep: exact counts, no estimate, no backfill.
  m.tableState({ lastSuccessAt: 1000, sweep })
  t.equal(await read(N.activeSessions), 900)
  t.equal(await read(N.activeSessionsRelativeError), 0, 'counted exactly')
  t.equal(await read(N.invalidExpirySessions), 3)
  t.equal(await read(N.tableFiguresTimestampSeconds, { source: 'sweep' }), 1000)
  t.equal(await read(N.tableFiguresTimestampSeconds, { source: 'estimate' }), 0, 'never estimated')
  t.equal(await read(N.tableFiguresTimestampSeconds, { source: 'backfill' }), 0, 'never backfilled')

  // Index mode: the estimate in sweep.active, invalid rows and rows missing the bucket from the backfill's scan.
  m.tableState({
    lastSuccessAt: 2000,
    sweep: { ...sweep, active: 1_000_000, invalid: 0, completedAt: 2000 },
    activeEstimate: { relativeError: 0.01, completedAt: 1990 },
    backfill: { missing: 12, invalid: 4, completedAt: 500 },
    strategy: 'index'
  })
  t.equal(await read(N.activeSessions), 1_000_000)
  t.equal(await read(N.activeSessionsRelativeError), 0.01)
  t.equal(await read(N.missingBucketSessions), 12)
  t.equal(await read(N.invalidExpirySessions), 4, 'the backfill\'s count, not the index pass\'s (the index cannot see them)')
  t.equal(await read(N.tableFiguresTimestampSeconds, { source: 'sweep' }), 2000)
  t.equal(await read(N.tableFiguresTimestampSeconds, { source: 'estimate' }), 1990)
  t.equal(await read(N.tableFiguresTimestampSeconds, { source: 'backfill' }), 500)
  t.equal(await read(N.reaperStrategy, { strategy: 'scan' }), 1, 'the strategy gauge is this instance\'s own, not the lease item\'s')

  // Back to a scan sweep: the error is 0 again; the backfill's figures stay until its next scan.
  m.tableState({ lastSuccessAt: 3000, sweep: { ...sweep, completedAt: 3000 }, backfill: { missing: 0, invalid: 3, completedAt: 2900 } })
  t.equal(await read(N.activeSessionsRelativeError), 0)
  t.equal(await read(N.missingBucketSessions), 0)
  t.equal(await read(N.tableFiguresTimestampSeconds, { source: 'estimate' }), 1990, 'the last estimate\'s time stays')
  const check = promtoolCheck(await registry.metrics())
  t.equal(check.output, '', 'promtool has nothing to say')
})

t.test('the clock-skew gauge reads its source at each scrape', async (t) => {
  const registry = new Registry()
  const m = createMetrics(registry)
  let offsetMs = 1500
  t.equal(value(await registry.getMetricsAsJSON(), METRIC_NAMES.clockSkewSeconds), 0, '0 without a source')
  m.watchClockSkew(() => offsetMs)
  t.equal(value(await registry.getMetricsAsJSON(), METRIC_NAMES.clockSkewSeconds), 1.5)
  offsetMs = -120_000
  t.equal(value(await registry.getMetricsAsJSON(), METRIC_NAMES.clockSkewSeconds), -120, 'signed: DynamoDB behind us is negative')
})

t.test('the transport gauge: 1 for the transport in use, 0 for the other', async (t) => {
  const registry = new Registry()
  const m = createMetrics(registry)
  m.transport('sdk')
  const read = async (transport: string) => value(await registry.getMetricsAsJSON(), METRIC_NAMES.transport, { transport })
  t.strictSame([await read('fast'), await read('sdk')], [0, 1])
  m.transport('fast')
  t.strictSame([await read('fast'), await read('sdk')], [1, 0])
})

t.test('a registry that already has the names is refused', async (t) => {
  const registry = new Registry()
  createMetrics(registry)
  t.throws(() => createMetrics(registry), { code: 'FST_DYNAMO_SESSION_METRICS_CONFLICT' })
})

t.test('with the plugin, against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  t.test('the transport gauge says which transport the plugin chose', async (t) => {
    const table = await createTable(client)
    for (const [mode, expected] of [['auto', 'fast'], ['fast', 'fast'], ['sdk', 'sdk']] as const) {
      const registry = new Registry()
      await buildApp(t, client, table, { metrics: { registry }, transport: mode, reaper: false })
      const json = await registry.getMetricsAsJSON()
      for (const transport of TRANSPORTS) {
        t.equal(value(json, METRIC_NAMES.transport, { transport }), transport === expected ? 1 : 0, `transport: '${mode}', ${transport}`)
      }
    }
  })

  t.test('every metric has the right value after a scripted scenario', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const registry = new Registry()
    const app = await buildApp(t, client, table, { now: clock.now, ttlSeconds: 300, metrics: { registry }, reaper: { schedule: false, graceSeconds: 0 } })

    // Request path: 2 sessions created, found, not found, invalid cookie, expired, destroyed.
    const created = await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const cookie = cookieFrom(created.headers['set-cookie'])!
    const other = cookieFrom((await app.inject({ method: 'POST', url: '/set', payload: { b: 2 } })).headers['set-cookie'])!
    await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    await app.inject({ method: 'GET', url: '/get', headers: { cookie: signedCookie('N'.repeat(32)) } })
    await app.inject({ method: 'GET', url: '/get', headers: { cookie: 'sessionId=forged.signature' } })
    await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: other } })
    clock.advance(301)
    await app.inject({ method: 'GET', url: '/get', headers: { cookie } })

    // Reaper: besides the expired session (1 s past), rows 100 s and 2 h past expiry, one live, one invalid.
    await seedRows(client, table, [
      { id: sessionId(1), expiresAt: clock.seconds - 100 },
      { id: sessionId(2), expiresAt: clock.seconds - 7200 },
      { id: sessionId(3), expiresAt: clock.seconds + 600 },
      { id: sessionId(4), expiresAt: 'tomorrow' }
    ])
    const report = await app.sessionReaper!.runOnce()
    // The index finds rows of finished buckets only: the session 1 s past its expiry is in the bucket that is still
    // running (1_800_000_300 to 1_800_000_599), left for a later pass. It reads no live or invalid row either.
    const index = TEST_REAPER_STRATEGY === 'index'
    const reaped = index ? 2 : 3
    if (index) t.match(report, { result: 'success', strategy: 'index', scanned: 2, active: 0, expired: 2, deleted: 2, invalid: 0, maxLagSeconds: 7200 })
    else t.match(report, { result: 'success', strategy: 'scan', scanned: 5, active: 1, expired: 3, deleted: 3, invalid: 1, maxLagSeconds: 7200 })

    const json = await registry.getMetricsAsJSON()
    const N = METRIC_NAMES
    t.equal(value(json, N.createdTotal), 2)
    t.equal(value(json, N.destroyedTotal), 1)
    t.equal(value(json, N.loadsTotal, { result: 'found' }), 2, 'the /destroy request loaded its session too')
    t.equal(value(json, N.loadsTotal, { result: 'not_found' }), 1)
    t.equal(value(json, N.loadsTotal, { result: 'invalid_cookie' }), 1)
    t.equal(value(json, N.loadsTotal, { result: 'expired' }), 1)
    t.equal(value(json, N.storeOperationDurationSeconds, { operation: 'PutItem', result: 'success' }), 2)
    t.equal(value(json, N.storeOperationDurationSeconds, { operation: 'DeleteItem', result: 'success' }), 1)
    t.ok(value(json, N.storeOperationDurationSeconds, { operation: 'GetItem', result: 'success' })! >= 4)
    t.ok(value(json, N.consumedCapacityUnitsTotal, { operation: 'PutItem', component: 'request' })! >= 2 * unitsFor('PutItem', 1))
    t.ok(value(json, N.consumedCapacityUnitsTotal, { operation: 'GetItem', component: 'request' })! > 0)

    t.equal(value(json, N.reaperRunsTotal, { result: 'success' }), 1)
    t.equal(value(json, N.reaperRunsTotal, { result: 'failure' }), 0)
    t.equal(value(json, N.reaperRunDurationSeconds), 1)
    t.equal(value(json, N.reapedTotal), reaped)
    t.equal(value(json, N.ttlLagSeconds), reaped, 'each deleted row observed once')
    t.equal(value(json, N.ttlLagSeconds, {}, 'sum'), (index ? 0 : 1) + 100 + 7200)
    const bucket = (le: number): number | undefined => find(json, N.ttlLagSeconds).values.find((v) => v.labels.le === le)?.value
    t.equal(bucket(1), index ? 0 : 1)
    t.equal(bucket(300), reaped - 1)
    t.equal(bucket(7200), reaped)
    t.equal(value(json, N.ttlLagMaxSeconds), 7200)
    // Index mode: the census counts the live rows (exactly, on a table this small).
    t.equal(value(json, N.activeSessions), 1)
    t.equal(value(json, N.expiredFoundSessions), reaped)
    t.equal(value(json, N.expiredBacklogSessions), 0, 'all of them deleted')
    t.equal(value(json, N.expiredPendingSessions), reaped, 'the deprecated gauge: the rows found')
    // Index mode: invalid rows are not in the index; their count comes from the backfill's scan (not asserted here).
    if (!index) t.equal(value(json, N.invalidExpirySessions), 1)
    t.equal(value(json, N.reaperLastSuccessTimestampSeconds), clock.seconds)
    t.equal(value(json, N.reaperIntervalSeconds), 0, 'not scheduled')
    const finding = index ? 'Query' : 'Scan'
    t.ok(value(json, N.consumedCapacityUnitsTotal, { operation: finding, component: 'reaper' })! > 0)
    t.ok(value(json, N.consumedCapacityUnitsTotal, { operation: 'DeleteItem', component: 'reaper' })! >= reaped * unitsFor('DeleteItem', 1))
    t.ok(value(json, N.consumedCapacityUnitsTotal, { operation: 'UpdateItem', component: 'reaper' })! >= 2 * unitsFor('UpdateItem', 1), 'the lease')
    t.equal(value(json, N.throttledRequestsTotal, { component: 'reaper', operation: finding, reason: 'unknown' }), 0)
    t.equal(value(json, N.reapSkippedTotal, { reason: 'conflict' }), 0)

    const text = await registry.metrics()
    const check = promtoolCheck(text)
    t.equal(check.output, '', 'promtool has nothing to say')
    t.equal(check.status, 0, 'promtool check metrics passes')
    for (const id of [sessionId(1), cookie.split('=')[1]!.split('.')[0]!]) t.notOk(text.includes(id), 'no session id in the metrics')

    t.test('an instance that loses the lease shows the leader\'s table figures', async (t) => {
      const registry2 = new Registry()
      const app2 = await buildApp(t, makeClient(t, dynamo.endpoint), table, { now: clock.now, metrics: { registry: registry2 }, reaper: { schedule: false } })
      clock.advance(60)
      const holder = new Lease(new ReaperCalls(client, undefined), reaperOptions(table), 'leader', 30_000, clock.now)
      t.equal((await holder.acquire()).acquired, true)
      t.equal((await app2.sessionReaper!.runOnce()).result, 'skipped')
      const json2 = await registry2.getMetricsAsJSON()
      t.equal(value(json2, N.reaperRunsTotal, { result: 'skipped' }), 1)
      t.equal(value(json2, N.reaperLastSuccessTimestampSeconds), clock.seconds - 60, 'the last success by any instance')
      t.equal(value(json2, N.activeSessions), 1)
      t.equal(value(json2, N.expiredFoundSessions), reaped)
      t.equal(value(json2, N.expiredBacklogSessions), 0)
      t.equal(value(json2, N.expiredPendingSessions), reaped)
      if (!index) t.equal(value(json2, N.invalidExpirySessions), 1)
      t.equal(value(json2, N.ttlLagMaxSeconds), 7200)
      t.equal(value(json2, N.reapedTotal), 0, 'counters count only what this instance did')
    })
  })

  t.test('the route', async (t) => {
    const table = await createTable(client)
    const own = makeClient(t, dynamo.endpoint)
    const calls = countCalls(own)
    const served = await buildApp(t, own, table)
    calls.reset()
    const res = await served.inject({ method: 'GET', url: '/metrics', headers: { cookie: signedCookie('M'.repeat(32)) } })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
    t.match(res.body, /# TYPE dynamo_session_reaper_runs_total counter/)
    t.equal(res.headers['set-cookie'], undefined, 'the metrics route never touches the session')
    t.strictSame(calls.calls, [], 'the cookie on the scrape was not even read')

    const custom = await buildApp(t, client, table, { metrics: { route: '/internal/metrics' } })
    t.equal((await custom.inject({ method: 'GET', url: '/internal/metrics' })).statusCode, 200)
    t.equal((await custom.inject({ method: 'GET', url: '/metrics' })).statusCode, 404)

    const registry = new Registry()
    const unserved = await buildApp(t, client, table, { metrics: { route: false, registry } })
    t.equal((await unserved.inject({ method: 'GET', url: '/metrics' })).statusCode, 404)
    await unserved.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    t.match(await registry.metrics(), /dynamo_session_created_total 1/, 'still counted on the given registry')

    const none = await buildApp(t, client, table, { metrics: false })
    t.equal((await none.inject({ method: 'GET', url: '/metrics' })).statusCode, 404)
    t.equal((await none.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).statusCode, 200, 'sessions work without metrics')
  })

  t.test('regression: clock skew: a skewed Date header from DynamoDB shows on /metrics, read from a passed client as is', async (t) => {
    const table = await createTable(client)
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const passed = makeClient(t, proxy.endpoint)
    const stack = passed.middlewareStack.identify()
    const app = await buildApp(t, passed, table, { metrics: { port: 0 } })
    t.strictSame(passed.middlewareStack.identify(), stack, 'no middleware was added to the application\'s client')
    const scrape = async (): Promise<number> => {
      const text = await (await fetch(`${originOf(app.sessionMetricsAddress!)}/metrics`)).text()
      return Number(/^dynamo_session_clock_skew_seconds (\S+)$/m.exec(text)?.[1])
    }
    t.equal(await scrape(), 0, '0 before the first DynamoDB response')

    // DynamoDB an hour ahead, then an hour behind: the SDK measures each response's Date header against our clock.
    for (const hour of [3600, -3600]) {
      proxy.heal()
      proxy.inject({ kind: 'skewDate', seconds: hour })
      t.equal((await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).statusCode, 200)
      const skew = await scrape()
      // The header has 1-second resolution and the response takes time to arrive: a little below the true skew.
      t.ok(skew <= hour && skew > hour - 60, `DynamoDB ${hour} s off shows as ${skew}`)
    }
    proxy.heal()
    await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })
    const inSync = await scrape()
    t.ok(inSync <= 0 && inSync > -60, `clocks in sync show as ${inSync} (the header's resolution, not skew)`)
  })

  t.test('regression: throttles by reason: request-path and reaper attempts counted by the exception\'s ThrottlingReasons', async (t) => {
    const table = await createTable(client)
    const clock = fakeClock()
    const proxy = await startFaultProxy(t, dynamo.endpoint)
    const registry = new Registry()
    const proxied = makeClient(t, proxy.endpoint, { maxAttempts: 2 })
    const app = await buildApp(t, proxied, table, { now: clock.now, metrics: { registry }, reaper: { schedule: false, graceSeconds: 0 } })
    const N = METRIC_NAMES.throttledRequestsTotal
    const throttled = async (labels: Record<string, string>): Promise<number> => await metricValue(registry, N, labels)
    const index = 'arn:aws:dynamodb:us-east-1:123456789012:table/sessions/index/expiry'

    // Index back-pressure on a login: both attempts (the SDK's retry included) throttled, the write fails.
    proxy.inject({
      kind: 'throttle',
      type: 'ProvisionedThroughputExceededException',
      reasons: [{ reason: 'IndexWriteKeyRangeThroughputExceeded', resource: index }]
    }, { operations: ['PutItem'], times: 2 })
    t.not((await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).statusCode, 200)
    t.equal(await throttled({ component: 'request', operation: 'PutItem', reason: 'IndexWriteKeyRangeThroughputExceeded' }), 2)

    // ThrottlingException spells the field throttlingReasons; the retry succeeds.
    const cookie = cookieFrom((await app.inject({ method: 'POST', url: '/set', payload: { a: 1 } })).headers['set-cookie'])!
    proxy.inject({ kind: 'throttle', type: 'ThrottlingException', reasons: [{ reason: 'TableReadKeyRangeThroughputExceeded' }] },
      { operations: ['GetItem'], times: 1 })
    t.equal((await app.inject({ method: 'GET', url: '/get', headers: { cookie } })).statusCode, 200)
    t.equal(await throttled({ component: 'request', operation: 'GetItem', reason: 'TableReadKeyRangeThroughputExceeded' }), 1)

    // The reaper: a reason this version does not know is 'other', none at all is 'unknown'.
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: clock.seconds - 100 }])
    proxy.inject({ kind: 'throttle', type: 'RequestLimitExceeded', reasons: [{ reason: 'TableWriteSomethingNewExceeded' }] },
      { operations: ['DeleteItem'], times: 1 })
    proxy.inject({ kind: 'throttle' }, { operations: ['Scan'], times: 1 })
    t.match(await app.sessionReaper!.runOnce(), { result: 'success', deleted: 1 })
    t.equal(await throttled({ component: 'reaper', operation: 'DeleteItem', reason: 'other' }), 1)
    t.equal(await throttled({ component: 'reaper', operation: 'Scan', reason: 'unknown' }), 1)
    t.equal(await throttled({ component: 'reaper' }), 2, 'nothing else counted for the reaper')
    t.equal(await throttled({ component: 'request' }), 3, 'nor for requests')
    t.equal(await throttled({}), proxy.faulted.throttle, 'every throttled attempt once')

    const check = promtoolCheck(await registry.metrics())
    t.equal(check.output, '', 'promtool has nothing to say')
  })

  t.test('two plugins on one registry: a coded error at registration', async (t) => {
    const table = await createTable(client)
    const registry = new Registry()
    await buildApp(t, client, table, { metrics: { registry } })
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => {
      await app.register(dynamoSession, { secret: SECRET, client, tableName: table, reaper: false, metrics: { registry } })
      await app.ready()
    }, { code: 'FST_DYNAMO_SESSION_METRICS_CONFLICT' })
  })
})
