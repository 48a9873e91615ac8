import t from 'tap'
import { startDynalite, makeClient, createTable, countCalls } from '../helpers/dynamo.js'
import { fakeTime, makeReaper, seedRows, sessionId, tableIds, reaperOptions } from '../helpers/reaper.js'
import { collectStats } from '../../src/reaper/stats.js'
import { formatDuration, formatPassLine, formatReport, formatStats, textLogger } from '../../src/reaper/console.js'
import { emptyReport } from '../../src/reaper/report.js'
import { Lease } from '../../src/reaper/lease.js'
import { ReaperCalls } from '../../src/reaper/calls.js'

t.test('formatDuration', async (t) => {
  t.equal(formatDuration(0), '0s')
  t.equal(formatDuration(59.6), '1m')
  t.equal(formatDuration(3661), '1h 1m 1s')
  t.equal(formatDuration(2 * 86_400 + 5), '2d 5s')
  t.equal(formatDuration(-3), '0s')
})

t.test('formatReport', async (t) => {
  const text = formatReport({ ...emptyReport('success', 1.5), scanned: 10, active: 6, expired: 4, deleted: 2, conflicts: 1, invalid: 0, maxLagSeconds: 90, consumedReadUnits: 1.25, consumedWriteUnits: 4 })
  t.match(text, /^result: +success$/m)
  t.match(text, /^strategy: +none \(no pass ran\)$/m)
  t.match(formatReport({ ...emptyReport('success', 1, 'index') }), /^strategy: +index \(queried the expiry index\)$/m)
  t.match(formatReport({ ...emptyReport('success', 1, 'scan') }), /^strategy: +scan \(scanned the table\)$/m)
  t.match(text, /^scanned: +10 \(active 6, expired 4, invalid 0\)$/m)
  t.match(text, /^failed: +1$/m, 'expired - deleted - conflicts')
  t.match(text, /^max lag: +1m 30s past expiry$/m)
  t.match(text, /^capacity: +1\.25 read units, 4 write units$/m)
})

t.test('formatPassLine and textLogger', async (t) => {
  const report = { ...emptyReport('success', 0.25), scanned: 5, active: 3, expired: 2, deleted: 2, maxLagSeconds: 3661, consumedReadUnits: 0.5, consumedWriteUnits: 4 }
  t.equal(formatPassLine(report, Date.UTC(2026, 0, 1)),
    '2026-01-01T00:00:00.000Z success: scanned 5, expired 2, deleted 2, conflicts 0, invalid 0, max lag 1h 1m 1s, 0.5 RCU, 4 WCU, 0.3 s\n')
  t.equal(formatPassLine({ ...report, strategy: 'index' }, Date.UTC(2026, 0, 1)),
    '2026-01-01T00:00:00.000Z success: scanned 5, expired 2, deleted 2, conflicts 0, invalid 0, max lag 1h 1m 1s, 0.5 RCU, 4 WCU, 0.3 s, index\n',
    'the strategy, when a pass ran')
  let text = ''
  const log = textLogger({ write: (s: string) => { text += s } })
  log.debug({}, 'hidden')
  log.info({ report }, 'hidden too')
  log.warn({}, 'lease taken over')
  log.error({ err: { name: 'Error', code: 'FST_X', message: 'boom' } }, 'pass failed')
  log.error({ err: {} }, 'odd')
  t.equal(text, 'warn: lease taken over\nerror: pass failed (FST_X: boom)\nerror: odd (Error: )\n')
})

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const calls = countCalls(client)

  t.test('counts without deleting; reads the lease item', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, [
      { id: sessionId(1), expiresAt: time.seconds + 3600 },
      { id: sessionId(2), expiresAt: time.seconds - 3600 },
      { id: sessionId(3), expiresAt: 'x' }
    ])
    const shape = reaperOptions(table)
    const options = { segments: 2, graceSeconds: 0, maxReadUnitsPerSecond: 100, now: time.now, sleep: time.sleep }

    calls.reset()
    const before = await collectStats(client, shape, options)
    t.strictSame(calls.calls.filter((c) => c !== 'Scan' && c !== 'GetItem'), [], 'only reads')
    t.match(before, { tableName: table, scanned: 3, active: 1, expired: 1, invalid: 1, maxLagSeconds: 3600, lease: undefined })
    t.ok(before.consumedReadUnits > 0)
    t.match(formatStats(before, time.now()), /^reaper: +no pass has run on this table$/m)
    t.equal((await tableIds(client, table)).length, 3, 'nothing deleted')

    const reaper = makeReaper(t, client, table, {}, { now: time.now, sleep: time.sleep, owner: 'host:1:abcd' })
    await reaper.runOnce({ tick: time.now() })
    time.advance(90_000)
    const after = await collectStats(client, shape, options)
    t.match(after, { scanned: 2, active: 1, expired: 0, invalid: 1 }, 'the lease item is not a row')
    t.match(after.lease, { owner: 'host:1:abcd', heldUntil: undefined, lastTick: time.now() - 90_000, lastSuccessAt: time.seconds - 90, sweep: undefined })
    t.match(after.lease?.lastReport, { result: 'success', deleted: 1 })
    const text = formatStats(after, time.now())
    t.match(text, /^table: +sessions_/m)
    t.match(text, /^rows: +2 /m)
    t.match(text, /^ {2}active: +1$/m)
    t.match(text, /^ {2}expired: +0$/m)
    t.match(text, /^lease: +free \(last holder host:1:abcd\)$/m)
    t.match(text, /^last success: .* \(1m 30s ago\)$/m)
    t.match(text, /^last pass: +success at .*: scanned 3, deleted 1, conflicts 0/m)
    t.notOk(text.includes(sessionId(1)), 'no session id printed')
  })

  t.test('a held lease and a sweep in progress are shown', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, Array.from({ length: 40 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds - 10, padding: 900 })))
    // A pass that runs out of time: cursors stay in the lease item.
    const reaper = makeReaper(t, client, table, { maxWriteUnitsPerSecond: 2, maxPassSeconds: 1, segments: 2 }, { now: time.now, sleep: time.sleep })
    t.equal((await reaper.runOnce()).result, 'success')
    const shape = reaperOptions(table)
    const stats = await collectStats(client, shape, { segments: 1, graceSeconds: 0, maxReadUnitsPerSecond: 100, now: time.now })
    t.match(stats.lease?.sweep, { streams: 2 })
    t.match(formatStats(stats, time.now()), /^sweep: +in progress since .*, \d\/2 segments done$/m)
    t.match(formatStats(stats, time.now()), /^ {2}expired: +\d+ \(oldest /m)
    await new Lease(new ReaperCalls(client, undefined), shape, 'other:2:ffff', 30_000, time.now).acquire()
    const held = await collectStats(client, shape, { segments: 1, graceSeconds: 0, maxReadUnitsPerSecond: 100, now: time.now })
    t.equal(held.lease?.heldUntil, time.now() + 30_000)
    t.match(formatStats(held, time.now()), /^lease: +held by other:2:ffff until /m)
  })
})
