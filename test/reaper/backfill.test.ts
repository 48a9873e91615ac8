import t from 'tap'
import { QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb'
import { startDynalite, makeClient, createTable, getRow, putRow } from '../helpers/dynamo.js'
import { fakeTime, makeReaper, seedRows, sessionId, tableIds, reaperOptions } from '../helpers/reaper.js'
import { run } from '../helpers/cli.js'
import { EXIT_OK } from '../../src/cli/command.js'
import { resolveTableShape } from '../../src/options.js'
import { bucketOf } from '../../src/expiry.js'
import { shardOf } from '../../src/store/expiry-index.js'
import { ReaperCalls } from '../../src/reaper/calls.js'
import { LEASE_ID, readLease } from '../../src/reaper/lease.js'
import { backfillFinder, backfillProgress, nextBackfillState, runBackfill } from '../../src/reaper/backfill.js'
import { buildBackfillInput } from '../../src/reaper/index-finder.js'
import { newProgress } from '../../src/reaper/sweep.js'
import { buildScanInput, parseScannedRow } from '../../src/reaper/scan-finder.js'
import type { TableState } from '../../src/reaper/report.js'
import type { ReaperObserver } from '../../src/instrumentation.js'

const SHAPE = resolveTableShape({})
const INDEX = SHAPE.expiryIndex as Exclude<typeof SHAPE.expiryIndex, false>
const INDEXED = { ...SHAPE, expiryIndex: INDEX }

t.test('pure: what the backfill reads, fixes and when it runs', async (t) => {
  t.equal(buildScanInput(SHAPE, 0, 1, undefined, 10, true).ProjectionExpression, '#id, #exp, #tomb, #shard, #bucket')
  t.equal(buildScanInput(SHAPE, 0, 1, undefined, 10).ProjectionExpression, '#id, #exp, #tomb', 'a scan pass reads no index attributes')
  const row = (extra: Record<string, { N: string } | { S: string }>): ReturnType<typeof parseScannedRow> =>
    parseScannedRow(SHAPE, { Sesion_Id: { S: 'a' }, Expire_Session: { N: '3000' }, ...extra }, true)
  t.equal(row({}).needsBucket, true, 'no shard, no bucket')
  t.equal(row({ Expire_Shard: { N: '1' } }).needsBucket, true, 'no bucket')
  t.equal(row({ Expire_Bucket: { N: '10' } }).needsBucket, true, 'no shard: not in the index')
  t.equal(row({ Expire_Shard: { N: '1' }, Expire_Bucket: { N: '9' } }).needsBucket, true, 'a stale bucket')
  t.equal(row({ Expire_Shard: { N: '1' }, Expire_Bucket: { N: '10' } }).needsBucket, false, 'indexed where it belongs')
  t.equal(parseScannedRow(SHAPE, { Sesion_Id: { S: 'a' }, Expire_Session: { S: 'x' } }, true).needsBucket, undefined, 'no numeric expiry: nothing to index')
  t.equal(parseScannedRow(SHAPE, { Sesion_Id: { S: 'a' }, Expire_Session: { N: '3000' }, Superseded_At: { N: '1' } }, true).needsBucket, undefined, 'a tombstone is never indexed')
  t.equal(parseScannedRow(SHAPE, { Sesion_Id: { S: 'a' }, Expire_Session: { N: '3000' } }).needsBucket, undefined, 'a scan pass does not ask')

  t.strictSame(buildBackfillInput(INDEXED, 'abc', 3000), {
    TableName: 'ManejoSesion',
    Key: { Sesion_Id: { S: 'abc' } },
    UpdateExpression: 'SET #bucket = :bucket, #shard = if_not_exists(#shard, :shard)',
    ConditionExpression: '#exp = :seen AND attribute_not_exists(#tomb)',
    ExpressionAttributeNames: { '#bucket': 'Expire_Bucket', '#shard': 'Expire_Shard', '#exp': 'Expire_Session', '#tomb': 'Superseded_At' },
    ExpressionAttributeValues: { ':bucket': { N: '10' }, ':shard': { N: String(shardOf('abc', 16)) }, ':seen': { N: '3000' } }
  })

  const finder = backfillFinder(SHAPE, 2)
  t.equal(finder.kind, 'backfill', 'its own cursors: never resumed by a scan pass')
  const fresh = backfillProgress(finder, undefined, 100)
  t.strictSame(fresh, newProgress(finder, 100), 'the first one starts at once')
  const saved = { ...newProgress(finder, 50), cursors: [{ done: true as const }, { done: false as const, start: { Sesion_Id: { S: 'x' } } }] }
  t.equal(backfillProgress(finder, { sweep: saved, nextAt: 1e12 }, 100), saved, 'a sweep in progress resumes')
  t.equal(backfillProgress(finder, { nextAt: 200 }, 100), undefined, 'resting until nextAt')
  t.strictSame(backfillProgress(finder, { nextAt: 200 }, 200), newProgress(finder, 200), 'then a new one')
  t.strictSame(backfillProgress(finder, { sweep: { ...saved, finder: 'scan' } }, 100), newProgress(finder, 100), 'another finder\'s sweep is not resumed')

  const figures = { missing: 1, invalid: 2, completedAt: 10 }
  t.strictSame(nextBackfillState({ figures }, saved, false, 100, 86_400), { figures, sweep: saved }, 'unfinished: the cursors are kept, the last figures too')
  t.strictSame(nextBackfillState({ figures }, { ...saved, backfilled: 3, missing: 0, invalid: 4 }, true, 100, 86_400),
    { figures: { missing: 0, invalid: 4, completedAt: 100 } }, 'a sweep that fixed rows is followed by another at once')
  t.strictSame(nextBackfillState(undefined, { ...saved, backfilled: 0, missing: 2, invalid: 0 }, true, 100, 86_400),
    { figures: { missing: 2, invalid: 0, completedAt: 100 }, nextAt: 86_500 }, 'one that fixed nothing rests')
  t.strictSame(nextBackfillState({ figures }, undefined, false, 100, 86_400), { figures }, 'no backfill this pass: unchanged')
})

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const indexEntries = async (table: string): Promise<string[]> => {
    const ids: string[] = []
    for (let shard = 0; shard < INDEX.shards; shard++) {
      const out = await client.send(new QueryCommand({
        TableName: table,
        IndexName: INDEX.indexName,
        KeyConditionExpression: '#s = :s',
        ExpressionAttributeNames: { '#s': INDEX.shardAttribute },
        ExpressionAttributeValues: { ':s': { N: String(shard) } }
      }))
      for (const item of out.Items ?? []) ids.push(item.Sesion_Id?.S ?? '')
    }
    return ids.sort()
  }

  t.test('tutorial-shaped rows are backfilled by index passes, then reaped through the index; the backfill then rests', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    const live = [sessionId(1), sessionId(2), sessionId(3)]
    // The fake clock moves while a pass waits on its budgets: expiries are fixed from here.
    const liveUntil = time.seconds + 600
    await seedRows(client, table, [
      ...live.map((id) => ({ id, expiresAt: liveUntil, indexed: false })),
      { id: sessionId(4), expiresAt: time.seconds - 3600, indexed: false },
      { id: sessionId(5), expiresAt: time.seconds - 3600 },
      { id: sessionId(6), expiresAt: 'never' }
    ])
    // An expired tombstone: never in the index, deleted by the backfill.
    await putRow(client, table, { Sesion_Id: { S: sessionId(7) }, Expire_Session: { N: String(time.seconds - 3600) }, Superseded_At: { N: '1' } })
    t.strictSame(await indexEntries(table), [sessionId(5)], 'only the indexed row is in the index')
    const states: TableState[] = []
    const reaper = makeReaper(t, client, table, { strategy: 'index', backfillIntervalSeconds: 3600 }, {
      now: time.now, sleep: time.sleep, observer: observerOf(states)
    })

    const first = await reaper.runOnce()
    t.match(first, { result: 'success', strategy: 'index', backfilled: 3, deleted: 2 }, 'the indexed expired row by the index, the tutorial one by the backfill')
    t.ok(first.backfillReadUnits > 0 && first.backfillWriteUnits >= 3, `the backfill's units apart (${first.backfillReadUnits} read, ${first.backfillWriteUnits} write)`)
    t.strictSame(await tableIds(client, table), [LEASE_ID, ...live, sessionId(6)].sort(), 'the expired tombstone is gone too')
    t.strictSame(await indexEntries(table), live, 'the live tutorial rows are in the index now')
    for (const id of live) {
      const row = await getRow(client, table, id)
      t.strictSame([row?.Expire_Session, row?.Expire_Bucket, row?.Expire_Shard],
        [{ N: String(liveUntil) }, { N: String(bucketOf(liveUntil, INDEX.bucketSeconds)) }, { N: String(shardOf(id, INDEX.shards)) }], 'the expiry untouched')
    }
    t.strictSame(states.at(-1)?.backfill, { missing: 0, invalid: 1, completedAt: time.seconds }, 'the backfill\'s figures: nothing missing, one invalid row')
    t.equal(states.at(-1)?.sweep?.active, 3, 'the census counted the live rows (a small table: exactly)')
    t.match(states.at(-1)?.activeEstimate, { relativeError: 0 }, 'an exact count')

    const second = await reaper.runOnce()
    t.match(second, { result: 'success', backfilled: 0, deleted: 0 }, 'a second backfill finds nothing to fix')
    const lease = await readLease(new ReaperCalls(client, undefined), reaperOptions(table))
    t.equal(lease?.state.backfill?.nextAt, time.seconds + 3600, 'and the backfill rests')
    const third = await reaper.runOnce()
    t.equal(third.backfillReadUnits, 0, 'resting: no backfill scan')

    time.advance(1200_000)
    const fourth = await reaper.runOnce()
    t.match(fourth, { result: 'success', strategy: 'index', deleted: 3, backfillReadUnits: 0 }, 'expired, the backfilled rows are reaped through the index')
    t.strictSame(await tableIds(client, table), [LEASE_ID, sessionId(6)])
  })

  t.test('the backfill never creates, resurrects or extends a session', async (t) => {
    const table = await createTable(client)
    const now = 1_800_000_000
    const update = async (input: ReturnType<typeof buildBackfillInput>): Promise<string> => {
      try {
        await client.send(new UpdateItemCommand({ ...input, TableName: table }))
        return 'written'
      } catch (err) {
        return (err as Error).name
      }
    }
    t.equal(await update(buildBackfillInput(INDEXED, sessionId(1), now)), 'ConditionalCheckFailedException', 'a row deleted meanwhile')
    t.equal(await getRow(client, table, sessionId(1)), undefined, 'is not created')
    await seedRows(client, table, [{ id: sessionId(2), expiresAt: now + 900, indexed: false }])
    t.equal(await update(buildBackfillInput(INDEXED, sessionId(2), now + 300)), 'ConditionalCheckFailedException', 'a row refreshed meanwhile')
    t.strictSame((await getRow(client, table, sessionId(2)))?.Expire_Session, { N: String(now + 900) }, 'keeps its expiry')
    t.equal((await getRow(client, table, sessionId(2)))?.Expire_Bucket, undefined)
    await putRow(client, table, { Sesion_Id: { S: sessionId(3) }, Expire_Session: { N: String(now + 60) }, Superseded_At: { N: '1' } })
    t.equal(await update(buildBackfillInput(INDEXED, sessionId(3), now + 60)), 'ConditionalCheckFailedException', 'a tombstone')
    t.equal((await getRow(client, table, sessionId(3)))?.Expire_Bucket, undefined, 'stays out of the index')
  })

  t.test('runBackfill: one complete sweep within its budgets; rows the index holds are left to it', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRows(client, table, [
      ...Array.from({ length: 20 }, (_, i) => ({ id: sessionId(i), expiresAt: time.seconds + 600, indexed: false })),
      { id: sessionId(50), expiresAt: time.seconds - 3600, indexed: false },
      { id: sessionId(51), expiresAt: time.seconds - 3600 }
    ])
    const result = await runBackfill(client, { ...SHAPE, tableName: table }, {
      segments: 2, graceSeconds: 60, maxReadUnitsPerSecond: 1, maxWriteUnitsPerSecond: 2, now: time.now, sleep: time.sleep
    })
    t.match(result, { tableName: table, scanned: 21, backfilled: 20, missing: 0, invalid: 0, deleted: 1 }, 'the indexed expired row is not the backfill\'s')
    t.ok(result.durationSeconds >= 20 / 2 - 1, `held to 2 write units a second on the fake clock (${result.durationSeconds} s)`)
    t.strictSame(await indexEntries(table), [...Array.from({ length: 20 }, (_, i) => sessionId(i)), sessionId(51)].sort())
  })

  t.test('dynamo-session backfill', async (t) => {
    const table = await createTable(client)
    const now = Math.floor(Date.now() / 1000)
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: now + 3600, indexed: false }, { id: sessionId(2), expiresAt: 'never' }])
    const r = await run(['backfill', '--endpoint', dynamo.endpoint, '--table', table])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.match(r.stdout, /^backfilled: +1 /m)
    t.match(r.stdout, /^invalid: +1 /m)
    t.strictSame(await indexEntries(table), [sessionId(1)])
    const json = await run(['backfill', '--json', '--endpoint', dynamo.endpoint, '--table', table])
    t.match(JSON.parse(json.stdout), { tableName: table, scanned: 2, backfilled: 0, invalid: 1 }, 'again: nothing left to fix')
  })
})

function observerOf (states: TableState[]): ReaperObserver {
  const none = (): void => {}
  return {
    tableState: (state) => { states.push(state) },
    passEnded: none, consumed: none, throttled: none, reaped: none, ttlLag: none, skipped: none, interval: none, strategy: none, budgets: none
  }
}
