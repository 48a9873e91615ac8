import t from 'tap'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { startDynalite, makeClient, createTable, putRow } from '../helpers/dynamo.js'
import { barrier } from '../helpers/reliability.js'
import { fakeTime, makeReaper, reaperOptions, seedRows, sessionId, tableIds, type FakeTime } from '../helpers/reaper.js'
import { LEASE_ID, MAX_LEASE_GROUPS, isInternalId, leaseId } from '../../src/ids.js'
import { shardOf } from '../../src/store/expiry-index.js'
import { ReaperCalls } from '../../src/reaper/calls.js'
import { Lease, readLease } from '../../src/reaper/lease.js'
import { GroupFinder, combineReports, combineTableStates, groupFinder, groupOrder, groupStreams } from '../../src/reaper/lease-groups.js'
import { ScanFinder } from '../../src/reaper/scan-finder.js'
import { emptyReport, type ReapReport, type ReaperStrategy, type TableState } from '../../src/reaper/report.js'
import type { LeaseState } from '../../src/reaper/lease-state.js'
import type { ReaperOptions } from '../../src/options.js'

t.test('lease ids: group 0 keeps the single lease\'s id; only the ids leaseId() writes are internal', async (t) => {
  t.equal(leaseId(0), LEASE_ID)
  t.equal(leaseId(1), '#reaper-lease-1')
  t.equal(leaseId(MAX_LEASE_GROUPS - 1), '#reaper-lease-999')
  for (let group = 0; group < MAX_LEASE_GROUPS; group++) t.equal(isInternalId(leaseId(group)), true)
  for (const id of ['#reaper-lease-0', '#reaper-lease-01', '#reaper-lease-1000', '#reaper-lease-', '#reaper-lease-1a', '#reaper-lease-1.5',
    '#reaper-lease--1', '#reaper-lease-1e2', 'reaper-lease-1', '#reaper-leases', '#reaper-lease-1 ']) {
    t.equal(isInternalId(id), false, `${JSON.stringify(id)} stays a session row`)
  }
})

t.test('groups: stream s in group s mod groups; every group tried once from the first', async (t) => {
  t.strictSame(groupStreams(16, 0, 3), [0, 3, 6, 9, 12, 15])
  t.strictSame(groupStreams(16, 2, 3), [2, 5, 8, 11, 14])
  t.strictSame(groupStreams(2, 2, 3), [])
  t.strictSame(groupOrder(0, 3), [0, 1, 2])
  t.strictSame(groupOrder(4, 3), [1, 2, 0], 'the start moves on pass by pass')
  t.strictSame(groupOrder(0, 1), [0])
})

t.test('GroupFinder: its streams map onto the finder\'s; its kind names the grouping, so other cursors are dropped', async (t) => {
  const shape = reaperOptions('sessions')
  const scan = new ScanFinder(shape, 6)
  t.equal(groupFinder(scan, 0, 1), scan, 'one group: the finder itself, cursors of a single lease resume')
  const group = new GroupFinder(scan, 1, 3)
  t.equal(group.streams, 2)
  t.equal(group.seesLiveRows, true)
  t.not(group.kind, scan.kind)
  t.not(group.kind, new GroupFinder(new ScanFinder(shape, 4), 1, 3).kind, 'another segment count')
  t.not(group.kind, new GroupFinder(scan, 1, 2).kind, 'another group count')
  const pages: Array<{ segment: number | undefined, total: number | undefined }> = []
  const calls = { scan: async (input: { Segment?: number, TotalSegments?: number }) => { pages.push({ segment: input.Segment, total: input.TotalSegments }); return {} } }
  await group.page(calls as unknown as ReaperCalls, 0, undefined, 10)
  await group.page(calls as unknown as ReaperCalls, 1, undefined, 10)
  t.strictSame(pages, [{ segment: 1, total: 6 }, { segment: 4, total: 6 }])
  await t.rejects(group.page(calls as unknown as ReaperCalls, 2, undefined, 10), RangeError)
})

t.test('combineReports: counts summed, lags the largest, failure over success over skipped', async (t) => {
  const ran = (result: ReapReport['result'], deleted: number, lag: number): ReapReport =>
    ({ ...emptyReport(result, 3, 'index'), scanned: deleted, expired: deleted, deleted, maxLagSeconds: lag, consumedReadUnits: 1.5, consumedWriteUnits: deleted })
  t.strictSame(combineReports([], 0), emptyReport('skipped'))
  t.strictSame(combineReports([emptyReport('skipped'), emptyReport('skipped')], 2), emptyReport('skipped', 2))
  t.strictSame(combineReports([emptyReport('skipped'), ran('success', 4, 7), ran('success', 5, 3)], 9), {
    ...emptyReport('success', 9, 'index'), scanned: 9, expired: 9, deleted: 9, maxLagSeconds: 7, consumedReadUnits: 3, consumedWriteUnits: 9
  })
  t.equal(combineReports([ran('success', 1, 0), ran('failure', 0, 0), emptyReport('skipped')], 1).result, 'failure')
})

t.test('combineTableStates: figures summed once every group has them; the oldest success; the latest strategy', async (t) => {
  const table = (active: number, completedAt: number, lag: number): NonNullable<LeaseState['table']> =>
    ({ active, expiredFound: active * 2, expiredBacklog: 1, invalid: 1, maxLagSeconds: lag, completedAt })
  const report = (strategy: ReaperStrategy, finishedAt: number): LeaseState['lastReport'] => ({ ...emptyReport('success', 0, strategy), finishedAt })
  const states: LeaseState[] = [
    { lastSuccessAt: 100, table: table(10, 90, 5), lastReport: report('scan', 100) },
    { lastSuccessAt: 80, table: table(20, 70, 9), lastReport: report('index', 120) },
    { lastSuccessAt: 110, table: table(30, 110, 2), lastReport: report('scan', 110) }
  ]
  t.strictSame(combineTableStates(states), {
    lastSuccessAt: 80,
    sweep: { active: 60, expiredFound: 120, expiredBacklog: 3, invalid: 3, maxLagSeconds: 9, completedAt: 70 },
    strategy: 'index'
  } satisfies TableState)
  t.strictSame(combineTableStates([states[0], undefined, states[2]]), { lastSuccessAt: undefined, sweep: undefined, strategy: 'scan' },
    'a group never held: the table is not covered yet')
  t.strictSame(combineTableStates([{}, {}]), { lastSuccessAt: undefined, sweep: undefined })
})

/** Records the ids of the DeleteItem calls a client sends; `firstRead` runs before its first Scan or Query. */
function recordDeletes (client: DynamoDBClient, firstRead?: () => Promise<void>): string[] {
  const ids: string[] = []
  let first = firstRead
  client.middlewareStack.add((next, context) => async (args) => {
    const input = args.input as { Key?: Record<string, { S?: string }> }
    if (context.commandName === 'DeleteItemCommand') ids.push(input.Key?.Sesion_Id?.S ?? '')
    if ((context.commandName === 'ScanCommand' || context.commandName === 'QueryCommand') && first !== undefined) {
      const wait = first
      first = undefined
      await wait()
    }
    return await next(args)
  }, { step: 'initialize', name: 'recordDeletes' })
  return ids
}

const GROUPS = 3
// Scan mode: six segments, two per group; index mode: the default sixteen shards, five or six per group.
const MODES: ReadonlyArray<{ strategy: ReaperStrategy, options: ReaperOptions }> = [
  { strategy: 'scan', options: { strategy: 'scan', segments: 6, leases: GROUPS } },
  { strategy: 'index', options: { strategy: 'index', leases: GROUPS } }
]
const FAST = { maxReadUnitsPerSecond: 10_000, maxWriteUnitsPerSecond: 10_000 }

interface Round { readonly expired: string[], readonly live: string[] }

async function seedRound (client: DynamoDBClient, table: string, time: FakeTime, round: number): Promise<Round> {
  const expired = Array.from({ length: 45 }, (_, i) => sessionId(i, `r${round}dead`))
  const live = Array.from({ length: 15 }, (_, i) => sessionId(i, `r${round}live`))
  await seedRows(client, table, [
    ...expired.map((id, i) => ({ id, expiresAt: time.seconds - 3600 - i })),
    ...live.map((id) => ({ id, expiresAt: time.seconds + 3600 }))
  ])
  return { expired, live }
}

async function leaseTicks (client: DynamoDBClient, table: string): Promise<Array<{ owner: string | undefined, tick: number | undefined }>> {
  const calls = new ReaperCalls(client, undefined)
  const shape = reaperOptions(table)
  return await Promise.all(Array.from({ length: GROUPS }, async (_, group) => {
    const lease = await readLease(calls, shape, leaseId(group))
    return { owner: lease?.owner, tick: lease?.tickMs }
  }))
}

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  for (const { strategy, options } of MODES) {
    t.test(`${strategy}: three instances with leases: 3 split the groups and delete each expired row exactly once, never a live one`, async (t) => {
      const table = await createTable(client)
      const time = fakeTime()
      // Until every instance has taken its first group, none reads: each first group is then taken by its own instance.
      const arrived = barrier(GROUPS)
      const owners = ['a', 'b', 'c']
      const deletes: string[][] = []
      const reapers = owners.map((owner, i) => {
        const own = makeClient(t, dynamo.endpoint)
        deletes.push(recordDeletes(own, arrived))
        return makeReaper(t, own, table, { ...options, ...FAST }, { now: time.now, sleep: time.sleep, owner, firstLeaseGroup: i })
      })
      const remaining = new Set<string>()
      for (let round = 0; round < 4; round++) {
        const { expired, live } = await seedRound(client, table, time, round)
        for (const id of live) remaining.add(id)
        for (const list of deletes) list.length = 0
        const tick = time.now()
        const reports = await Promise.all(reapers.map(async (reaper) => await reaper.runOnce({ tick })))
        t.strictSame(reports.map((r) => r.result === 'failure'), [false, false, false], `round ${round}: no failure`)
        t.ok(reports.some((r) => r.result === 'success'), 'the groups were reaped')
        t.strictSame(deletes.flat().sort(), [...expired].sort(), 'one delete per expired row, across all instances, and none of a live row')
        t.equal(reports.reduce((sum, r) => sum + r.deleted, 0), expired.length)
        t.equal(reports.reduce((sum, r) => sum + r.conflicts, 0), 0, 'no instance met a row another had deleted')
        t.strictSame(await tableIds(client, table), [...remaining, LEASE_ID, leaseId(1), leaseId(2)].sort(), 'the live rows and the lease items stay')
        const leases = await leaseTicks(client, table)
        t.strictSame(leases.map((lease) => lease.tick), [tick, tick, tick], 'every group ran once for the tick')
        if (round === 0) t.strictSame(leases.map((lease) => lease.owner), owners, 'each instance took its own first group')
        const late = await reapers[round % GROUPS]!.runOnce({ tick })
        t.equal(late.result, 'skipped', 'a tick already taken in every group')
        time.advance(60_000)
      }
    })

    t.test(`${strategy}: one instance alone reaps every group in one pass; the table figures sum the groups`, async (t) => {
      const table = await createTable(client)
      const time = fakeTime()
      const states: TableState[] = []
      const observer = { tableState: (state: TableState) => { states.push(state) } }
      const lines: Array<{ obj: object, msg: string }> = []
      const info = (obj: object, msg: string): void => { lines.push({ obj, msg }) }
      const reaper = makeReaper(t, client, table, { ...options, ...FAST }, {
        now: time.now,
        sleep: time.sleep,
        log: { debug () {}, info, warn: info, error: info },
        observer: new Proxy(observer, { get: (target, name) => name in target ? Reflect.get(target, name) : () => {} }) as never
      })
      const { expired, live } = await seedRound(client, table, time, 0)
      const tick = time.now()
      const report = await reaper.runOnce({ tick })
      t.match(report, { result: 'success', strategy, deleted: expired.length, conflicts: 0 })
      if (strategy === 'scan') t.equal(report.scanned, expired.length + live.length, 'the lease items are not counted as sessions')
      t.strictSame(await tableIds(client, table), [...live, LEASE_ID, leaseId(1), leaseId(2)].sort())
      t.strictSame((await leaseTicks(client, table)).map((lease) => lease.tick), [tick, tick, tick])
      t.equal(states.length, 1, 'one table state per pass, not one per group')
      t.match(states[0], {
        lastSuccessAt: time.seconds,
        // Index mode: the census of group 0's pass counts the live rows (a small table: exactly).
        sweep: { expiredFound: expired.length, expiredBacklog: 0, active: live.length },
        strategy
      })
      t.equal(reaper.lastReport, report)
      t.strictSame(lines.map((line) => [line.msg, (line.obj as { leaseGroup?: number }).leaseGroup]).sort(),
        [['reaper pass', 0], ['reaper pass', 1], ['reaper pass', 2]], 'one log line per group, naming it')
    })

    t.test(`${strategy}: a holder that stopped renewing its group is taken over after leaseSeconds; the other groups go on`, async (t) => {
      const table = await createTable(client)
      const time = fakeTime()
      const shape = reaperOptions(table)
      // An instance died holding group 1's lease.
      const dead = new Lease(new ReaperCalls(client, undefined), shape, 'dead', 30_000, time.now, undefined, leaseId(1))
      t.equal((await dead.acquire()).acquired, true)
      let mono = 0
      const reaper = makeReaper(t, client, table, { ...options, ...FAST, leaseSeconds: 30 }, {
        now: time.now, sleep: time.sleep, monotonic: () => mono, owner: 'alive'
      })
      const { expired, live } = await seedRound(client, table, time, 0)
      const first = await reaper.runOnce()
      t.equal(first.result, 'success', 'groups 0 and 2 reaped')
      const left = (await tableIds(client, table)).filter((id) => !isInternalId(id) && !live.includes(id))
      t.ok(left.length > 0 && left.length < expired.length, `group 1's rows are left (${left.length})`)
      if (strategy === 'index') {
        t.strictSame(left, expired.filter((id) => shardOf(id, 16) % GROUPS === 1).sort(), 'exactly the rows of group 1\'s shards')
      }
      t.equal((await readLease(new ReaperCalls(client, undefined), shape, leaseId(1)))?.owner, 'dead')
      mono += 29_999
      t.equal((await reaper.runOnce()).deleted, 0, 'not yet a lease length')
      mono += 1
      const second = await reaper.runOnce()
      t.match(second, { result: 'success', deleted: left.length, conflicts: 0 }, 'unchanged for a lease length: taken over and reaped')
      t.equal((await readLease(new ReaperCalls(client, undefined), shape, leaseId(1)))?.owner, 'alive')
      t.strictSame(await tableIds(client, table), [...live, LEASE_ID, leaseId(1), leaseId(2)].sort())
    })
  }

  t.test('regression: the lease groups\' items are never reaped nor counted as sessions', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await putRow(client, table, { Sesion_Id: { S: leaseId(7) }, Lease_Owner: { S: 'someone' } })
    const reaper = makeReaper(t, client, table, { strategy: 'scan', ...FAST }, { now: time.now, sleep: time.sleep })
    t.match(await reaper.runOnce(), { result: 'success', scanned: 0, invalid: 0, deleted: 0 })
    t.strictSame(await tableIds(client, table), [LEASE_ID, leaseId(7)].sort())
  })

  t.test('leases: 1 after leases: 3: group 0\'s item is the single lease\'s, its state kept', async (t) => {
    const table = await createTable(client)
    const time = fakeTime()
    await seedRound(client, table, time, 0)
    const many = makeReaper(t, client, table, { strategy: 'scan', segments: 6, leases: GROUPS, ...FAST }, { now: time.now, sleep: time.sleep })
    t.equal((await many.runOnce()).result, 'success')
    const shape = reaperOptions(table)
    const state = (await readLease(new ReaperCalls(client, undefined), shape))?.state
    t.match(state?.lastReport, { result: 'success' }, 'group 0 wrote the single lease\'s item')
    const one = makeReaper(t, client, table, { strategy: 'scan', segments: 6, ...FAST }, { now: time.now, sleep: time.sleep })
    t.match(await one.runOnce(), { result: 'success', scanned: 15, deleted: 0 })
  })
})
