import { setTimeout as sleep } from 'node:timers/promises'
import {
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  type DeleteItemCommandInput,
  type WriteRequest
} from '@aws-sdk/client-dynamodb'
import Fastify, { type FastifyInstance } from 'fastify'
import { dynamoSession } from '../src/index.js'
import { resolveExpiryIndex, type ExpiryIndexShape } from '../src/options.js'
import { ensureSessionTable } from '../src/store/table.js'
import { benchFile, startChild, type Child } from './children.js'
import { PASS_LIMIT_SECONDS } from './config.js'
import {
  entryChange,
  indexWrites,
  modelWritesPerRefresh,
  percentile,
  type Amplification,
  type CostCase,
  type EntryChange,
  type FinderStrategy,
  type LagRun
} from './cost-model.js'
import type { DynamoInfo } from './dynamo-server.js'
import { itemSize, type WireItem } from './capacity.js'
import { diffCounters, type Counters } from './proxy.js'
import { newSessionId, operationCalls, ROW_PAD_1KB, sessionItem, writeAll } from './reaper.js'
import type { PassReport, ReaperInfo } from './reaper-server.js'
import { ReaperCalls } from '../src/reaper/calls.js'
import { MIN_CENSUS_SEGMENTS, nextCensusOptions, runCensus, type CensusResult } from '../src/reaper/census.js'
import { resolveTableShape } from '../src/options.js'
import type { CensusRun } from './cost-model.js'

/** Tables of one size and the fractions of their rows that expire before a pass of each strategy. */
export interface SizeSpec { rows: number, fractions: readonly number[] }

export interface LagSpec {
  label: LagRun['label']
  seconds: number
  rowsPerSecond: number
  bucketSeconds: number
  periodSeconds: number
  graceSeconds: number
  maxWriteUnitsPerSecond: number
  /** How long to wait after the last expiry for the reaper to catch up. */
  drainSeconds: number
}

export interface CostSettings {
  sizes: readonly SizeSpec[]
  /** Extra bytes of session data per row (ROW_PAD_1KB: rows of 1,000 bytes). */
  padBytes: number
  amplification: { bucketSeconds: readonly number[], sessions: number, rounds: number } | false
  lag: readonly LagSpec[]
}

/** The plugin's defaults the amplification run keeps: a refresh every touchAfterSeconds moves the expiry by that much. */
export const TOUCH_AFTER_SECONDS = 60
const TTL_SECONDS = 300
const SECRET = 'bench-secret-that-is-long-enough-for-every-library'
const STRATEGIES: readonly FinderStrategy[] = ['scan', 'index']
/** Live rows expire a day after loading: none expires during a run. */
const LIVE_SECONDS = 86_400

export function lagSpecs (steadySeconds: number, budgetSeconds: number): LagSpec[] {
  const scaled = { bucketSeconds: 10, periodSeconds: 5, graceSeconds: 2, drainSeconds: 40 }
  return [
    // 5 deletions a second against a budget of 100: a bucket's 50 rows go in half a second, the budget shapes nothing.
    { label: 'steady', seconds: steadySeconds, rowsPerSecond: 5, ...scaled, maxWriteUnitsPerSecond: 100 },
    // The default budget (10 units/s) keeps up on average, but deletes each bucket's 50 rows over 5 s.
    { label: 'default-budget', seconds: budgetSeconds, rowsPerSecond: 5, ...scaled, maxWriteUnitsPerSecond: 10 },
    // Three times the deletions the default budget allows: the backlog and the lag grow while the churn lasts.
    { label: 'budget-bound', seconds: budgetSeconds, rowsPerSecond: 30, ...scaled, maxWriteUnitsPerSecond: 10, drainSeconds: 30 }
  ]
}

export const COST_SETTINGS: Readonly<Record<'normal' | 'large' | 'quick', CostSettings>> = {
  normal: {
    sizes: [{ rows: 10_000, fractions: [0.01, 0.1] }, { rows: 100_000, fractions: [0.01, 0.1] }],
    padBytes: ROW_PAD_1KB,
    amplification: { bucketSeconds: [60, 300, 900], sessions: 150, rounds: 6 },
    lag: lagSpecs(300, 90)
  },
  // 100k at 1% again, so that the duration target compares two sizes measured in the same run. 10% of 1M (100,000
  // deletions and as many rewrites per strategy) is left out: on a shared 2-core machine it alone takes over an hour.
  large: {
    sizes: [{ rows: 100_000, fractions: [0.01] }, { rows: 1_000_000, fractions: [0.001, 0.01] }],
    padBytes: ROW_PAD_1KB,
    amplification: false,
    lag: []
  },
  quick: {
    sizes: [{ rows: 2_000, fractions: [0.01, 0.1] }],
    padBytes: ROW_PAD_1KB,
    amplification: { bucketSeconds: [60, 300], sessions: 20, rounds: 3 },
    lag: lagSpecs(20, 10)
  }
}

export function directClient (endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, maxAttempts: 10
  })
}

function put (item: ReturnType<typeof sessionItem>): WriteRequest {
  return { PutRequest: { Item: item } }
}

interface CaseContext {
  client: DynamoDBClient
  dynamo: Child<DynamoInfo>
  reaper: Child<ReaperInfo>
  tableName: string
  padBytes: number
  /** Ids of the table's live rows: the first ones are made expired before a pass, and live again after it. */
  live: readonly string[]
  log: (m: string) => void
}

/** Makes `expired` live rows expired, runs one pass of `strategy` through the counting proxy, makes them live again. */
async function runCase (ctx: CaseContext, rows: number, expiredFraction: number, strategy: FinderStrategy): Promise<CostCase> {
  const { client, tableName, padBytes, live } = ctx
  const expiredRows = Math.round(rows * expiredFraction)
  const nowSec = Math.floor(Date.now() / 1000)
  await writeAll(client, tableName, expiredRows, (i) => put(sessionItem(live[i] as string, nowSec - 600 - (i % 3600), i, padBytes)))
  const before = await ctx.dynamo.call<Counters>('counters')
  const report = await ctx.reaper.call<PassReport>('pass', { tableName, segments: 1, strategy }, (PASS_LIMIT_SECONDS + 60) * 1000)
  const calls = operationCalls(diffCounters(await ctx.dynamo.call<Counters>('counters'), before))
  if (report.result !== 'success' || report.strategy !== strategy) {
    throw new Error(`bench: the ${strategy} pass on ${tableName} ended with ${report.result} (${report.strategy})`)
  }
  if (report.deleted !== expiredRows) {
    throw new Error(`bench: the ${strategy} pass on ${tableName} deleted ${report.deleted} of ${expiredRows}`)
  }
  await writeAll(client, tableName, expiredRows, (i) => put(sessionItem(live[i] as string, nowSec + LIVE_SECONDS, i, padBytes)))
  const c: CostCase = {
    rows,
    expiredFraction,
    expiredRows,
    strategy,
    rowBytes: itemSize(sessionItem(live[0] as string, nowSec, 0, padBytes) as unknown as WireItem),
    scanned: report.scanned,
    deleted: report.deleted,
    conflicts: report.conflicts,
    seconds: report.wallSeconds,
    rowsDeletedPerSecond: report.wallSeconds > 0 ? report.deleted / report.wallSeconds : 0,
    readUnits: report.consumedReadUnits,
    writeUnits: report.consumedWriteUnits,
    dynamoCalls: calls
  }
  ctx.log(`  ${String(rows).padStart(9)} rows, ${String(expiredFraction * 100).padStart(4)}% expired, ${strategy.padEnd(5)}: ` +
    `${c.deleted} deleted in ${c.seconds.toFixed(2)} s (${c.rowsDeletedPerSecond.toFixed(0)}/s), ` +
    `${c.readUnits} RU, ${c.writeUnits} WU, ${c.scanned} rows examined`)
  return c
}

/** Censuses in a row on the table (all `rows` live), each on the next segments, and one full count for the cost. */
export async function measureCensus (client: DynamoDBClient, tableName: string, rows: number, censuses: number): Promise<CensusRun> {
  const calls = new ReaperCalls(client, undefined)
  const shape = resolveTableShape({ tableName })
  const nowSec = Math.floor(Date.now() / 1000)
  const full = await runCensus(calls, shape, nowSec, { segments: MIN_CENSUS_SEGMENTS, sampleSegments: MIN_CENSUS_SEGMENTS })
  const estimates: CensusRun['estimates'] = []
  let previous: CensusResult | undefined
  for (let i = 0; i < censuses; i++) {
    previous = await runCensus(calls, shape, nowSec, nextCensusOptions(previous))
    const { active, relativeError, consumedReadUnits: readUnits, share } = previous
    estimates.push({ active, relativeError, readUnits, share })
  }
  return { rows, trueActive: full.active, estimates, fullScanReadUnits: full.consumedReadUnits }
}

/** One table per size, loaded once (uncounted); every fraction and strategy then runs on it, each case yielded when done. */
async function * runSize (
  client: DynamoDBClient,
  dynamo: Child<DynamoInfo>,
  reaper: Child<ReaperInfo>,
  size: SizeSpec,
  padBytes: number,
  log: (m: string) => void,
  census: { count: number, done: (run: CensusRun) => void } | undefined
): AsyncGenerator<CostCase> {
  const tableName = `BenchCost_${size.rows}`
  await ensureSessionTable(client, { tableName })
  try {
    const live: string[] = []
    const expires = Math.floor(Date.now() / 1000) + LIVE_SECONDS
    const started = Date.now()
    await writeAll(client, tableName, size.rows, (i) => {
      const id = newSessionId()
      live.push(id)
      return put(sessionItem(id, expires, i, padBytes))
    })
    log(`  ${size.rows} rows loaded in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    if (census !== undefined && census.count > 0) {
      const run = await measureCensus(client, tableName, size.rows, census.count)
      if (run.trueActive !== size.rows) {
        throw new Error(`bench: a full census of ${tableName} counted ${run.trueActive} of ${size.rows} rows`)
      }
      census.done(run)
      const errors = run.estimates.map((e) => `${((e.active / run.trueActive - 1) * 100).toFixed(2)}%`).join(', ')
      log(`  census of ${size.rows} rows: errors ${errors}; ${run.estimates[0]?.readUnits ?? 0} RU each, ` +
        `full scan ${run.fullScanReadUnits} RU`)
    }
    const ctx: CaseContext = { client, dynamo, reaper, tableName, padBytes, live, log }
    for (const fraction of size.fractions) {
      for (const strategy of STRATEGIES) yield await runCase(ctx, size.rows, fraction, strategy)
    }
  } finally {
    await client.send(new DeleteTableCommand({ TableName: tableName }))
  }
}

/** Every size's cases, passes in the reaper child through the counting proxy. */
export async function runCostCases (
  dynamo: Child<DynamoInfo>,
  settings: CostSettings,
  options: {
    execArgv: string[]
    env: NodeJS.ProcessEnv
    log: (m: string) => void
    onCase?: (cases: readonly CostCase[]) => void
    /** Censuses per size (after loading, before the passes), and where each size's run goes. */
    census?: { count: number, done: (run: CensusRun) => void }
  }
): Promise<CostCase[]> {
  const client = directClient(dynamo.info.direct)
  let reaper: Child<ReaperInfo> | undefined
  try {
    reaper = await startChild<ReaperInfo>(benchFile('reaper-server'), {
      execArgv: options.execArgv, env: { ...options.env, BENCH_DYNAMO_ENDPOINT: dynamo.info.counted }
    })
    const cases: CostCase[] = []
    for (const size of settings.sizes) {
      for await (const c of runSize(client, dynamo, reaper, size, settings.padBytes, options.log, options.census)) {
        cases.push(c)
        options.onCase?.(cases)
      }
    }
    return cases
  } finally {
    await reaper?.stop()
    client.destroy()
  }
}

/** An app of the plugin on an injected clock, with routes that log in, read (and so refresh) and log out. */
async function refreshApp (
  client: DynamoDBClient, tableName: string, index: ExpiryIndexShape, clock: { ms: number }
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(dynamoSession, {
    secret: SECRET,
    client,
    tableName,
    metrics: false,
    reaper: false,
    ttlSeconds: TTL_SECONDS,
    touchAfterSeconds: TOUCH_AFTER_SECONDS,
    expiryIndex: { bucketSeconds: index.bucketSeconds },
    now: () => clock.ms
  })
  app.post('/login', async (request) => { request.session.set('user', 'bench'); return { id: request.session.id } })
  app.get('/read', async (request) => ({ user: request.session.get('user') ?? null }))
  app.post('/logout', async (request) => { await request.session.destroy(); return { ok: true } })
  await app.ready()
  return app
}

interface RowState { bucket: number | undefined, expires: number | undefined }

async function rowState (client: DynamoDBClient, tableName: string, index: ExpiryIndexShape, id: string): Promise<RowState> {
  const out = await client.send(new GetItemCommand({ TableName: tableName, Key: { Sesion_Id: { S: id } }, ConsistentRead: true }))
  const bucket = out.Item?.[index.attribute]?.N
  const expires = out.Item?.Expire_Session?.N
  return { bucket: bucket === undefined ? undefined : Number(bucket), expires: expires === undefined ? undefined : Number(expires) }
}

interface RefreshRig {
  app: FastifyInstance
  client: DynamoDBClient
  tableName: string
  index: ExpiryIndexShape
  clock: { ms: number }
}

interface Login { cookie: string, id: string }

/** Runs `write` on the row `id` and says how it changed the row's index entry (its bucket read before and after). */
async function observe (rig: RefreshRig, id: string, write: () => Promise<void>): Promise<{ change: EntryChange, refreshed: boolean }> {
  const before = await rowState(rig.client, rig.tableName, rig.index, id)
  await write()
  const after = await rowState(rig.client, rig.tableName, rig.index, id)
  return { change: entryChange(before.bucket, after.bucket), refreshed: after.expires !== before.expires }
}

async function login (rig: RefreshRig, changes: Record<EntryChange, number>): Promise<Login> {
  const res = await rig.app.inject({ method: 'POST', url: '/login' })
  const cookie = [res.headers['set-cookie'] ?? []].flat()[0]?.split(';')[0]
  if (res.statusCode !== 200 || cookie === undefined) throw new Error(`bench: login answered ${res.statusCode}`)
  const id = (res.json() as { id: string }).id
  changes[entryChange(undefined, (await rowState(rig.client, rig.tableName, rig.index, id)).bucket)]++
  return { cookie, id }
}

async function refresh (rig: RefreshRig, s: Login, changes: Record<EntryChange, number>): Promise<void> {
  const { change, refreshed } = await observe(rig, s.id, async () => {
    const res = await rig.app.inject({ method: 'GET', url: '/read', headers: { cookie: s.cookie } })
    if (res.statusCode !== 200) throw new Error(`bench: read answered ${res.statusCode}`)
  })
  if (!refreshed) throw new Error('bench: a read past touchAfterSeconds did not refresh')
  changes[change]++
}

/**
 * Logs `sessions` sessions in at clock offsets spread over one bucket, refreshes each `rounds` times, a
 * touchAfterSeconds step of the clock apart, then logs them out; each row's bucket is read before and after every
 * write, and each change of its index entry counted.
 */
export async function measureAmplification (
  endpoint: string, bucketSeconds: number, sessions: number, rounds: number
): Promise<Amplification> {
  const client = directClient(endpoint)
  const tableName = `BenchRefresh_${bucketSeconds}`
  const index = resolveExpiryIndex({ bucketSeconds }) as ExpiryIndexShape
  await ensureSessionTable(client, { tableName })
  const base = Math.ceil(Date.now() / 1000) * 1000
  const clock = { ms: base }
  const rig: RefreshRig = { app: await refreshApp(client, tableName, index, clock), client, tableName, index, clock }
  const phases = { create: noChanges(), refresh: noChanges(), delete: noChanges() }
  const offsetMs = (i: number): number => Math.floor(i * bucketSeconds * 1000 / sessions)
  try {
    const logins: Login[] = []
    for (let i = 0; i < sessions; i++) {
      clock.ms = base + offsetMs(i)
      logins.push(await login(rig, phases.create))
    }
    for (let round = 1; round <= rounds; round++) {
      for (const [i, s] of logins.entries()) {
        clock.ms = base + offsetMs(i) + round * TOUCH_AFTER_SECONDS * 1000
        await refresh(rig, s, phases.refresh)
      }
    }
    for (const [i, s] of logins.entries()) {
      // At the session's own time: a clock left at the last session's would find the first ones expired.
      clock.ms = base + offsetMs(i) + rounds * TOUCH_AFTER_SECONDS * 1000
      const logout = async (): Promise<void> => { await rig.app.inject({ method: 'POST', url: '/logout', headers: { cookie: s.cookie } }) }
      const { change } = await observe(rig, s.id, logout)
      phases.delete[change]++
    }
  } finally {
    await rig.app.close()
    await client.send(new DeleteTableCommand({ TableName: tableName }))
    client.destroy()
  }
  const refreshes = sessions * rounds
  return {
    bucketSeconds,
    touchAfterSeconds: TOUCH_AFTER_SECONDS,
    refreshSeconds: TOUCH_AFTER_SECONDS,
    sessions,
    refreshes,
    changes: phases.refresh,
    indexWritesPerCreate: indexWrites(phases.create) / sessions,
    indexWritesPerRefresh: indexWrites(phases.refresh) / refreshes,
    indexWritesPerDelete: indexWrites(phases.delete) / sessions,
    modelPerRefresh: modelWritesPerRefresh(TOUCH_AFTER_SECONDS, bucketSeconds)
  }
}

function noChanges (): Record<EntryChange, number> {
  return { created: 0, moved: 0, unchanged: 0, deleted: 0 }
}

/** Records when each row the reaper deleted (a DeleteItem that succeeded) was deleted, by id. */
function recordDeletes (client: DynamoDBClient, deletedAt: Map<string, number>): void {
  client.middlewareStack.add((next, context) => async (args) => {
    const out = await next(args)
    if (context.commandName === 'DeleteItemCommand') {
      const id = (args.input as DeleteItemCommandInput).Key?.Sesion_Id?.S
      if (id !== undefined) deletedAt.set(id, Date.now())
    }
    return out
  }, { step: 'initialize', name: 'benchRecordDeletes' })
}

async function lagApp (client: DynamoDBClient, tableName: string, spec: LagSpec): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(dynamoSession, {
    secret: SECRET,
    client,
    tableName,
    metrics: false,
    expiryIndex: { bucketSeconds: spec.bucketSeconds },
    reaper: {
      schedule: `*/${spec.periodSeconds} * * * * *`,
      strategy: 'index',
      graceSeconds: spec.graceSeconds,
      maxWriteUnitsPerSecond: spec.maxWriteUnitsPerSecond
    }
  })
  await app.ready()
  return app
}

/** Every second for `spec.seconds`, `rowsPerSecond` new rows expiring 5 to 24 s later; `expiryOf` records each. */
async function churn (
  client: DynamoDBClient, tableName: string, spec: LagSpec, expiryOf: Map<string, number>
): Promise<void> {
  const index = resolveExpiryIndex({ bucketSeconds: spec.bucketSeconds }) as ExpiryIndexShape
  let n = 0
  const stopAt = Date.now() + spec.seconds * 1000
  while (Date.now() < stopAt) {
    const tick = Date.now()
    const nowSec = Math.floor(tick / 1000)
    await writeAll(client, tableName, spec.rowsPerSecond, () => {
      const id = newSessionId()
      const expires = nowSec + 5 + (n % 20)
      expiryOf.set(id, expires)
      return put(sessionItem(id, expires, n++, 0, index))
    })
    await sleep(Math.max(0, 1000 - (Date.now() - tick)))
  }
}

function lagResult (spec: LagSpec, expiryOf: ReadonlyMap<string, number>, deletedAt: ReadonlyMap<string, number>): LagRun {
  const lags = [...deletedAt].flatMap(([id, at]) => {
    const expires = expiryOf.get(id)
    return expires === undefined ? [] : [at / 1000 - expires]
  })
  return {
    label: spec.label,
    seconds: spec.seconds,
    rowsPerSecond: spec.rowsPerSecond,
    bucketSeconds: spec.bucketSeconds,
    periodSeconds: spec.periodSeconds,
    graceSeconds: spec.graceSeconds,
    maxWriteUnitsPerSecond: spec.maxWriteUnitsPerSecond,
    expired: expiryOf.size,
    deleted: lags.length,
    left: expiryOf.size - lags.length,
    lagSeconds: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: percentile(lags, 100) },
    modelBoundSeconds: spec.bucketSeconds + spec.periodSeconds + spec.graceSeconds
  }
}

/**
 * Steady churn (see churn()) while the plugin's scheduled reaper runs in index mode, then a wait for the reaper to
 * catch up. The lag of a row is the time from its expiry to the answer of the DeleteItem that removed it.
 */
export async function runLag (endpoint: string, spec: LagSpec, log: (m: string) => void): Promise<LagRun> {
  const setup = directClient(endpoint)
  const client = directClient(endpoint)
  const tableName = `BenchLag_${spec.label.replace('-', '_')}`
  const deletedAt = new Map<string, number>()
  const expiryOf = new Map<string, number>()
  recordDeletes(client, deletedAt)
  await ensureSessionTable(setup, { tableName })
  const app = await lagApp(client, tableName, spec)
  try {
    await churn(setup, tableName, spec, expiryOf)
    const lastExpiry = Math.max(...expiryOf.values())
    const waitUntil = (lastExpiry + spec.bucketSeconds + spec.periodSeconds + spec.graceSeconds + spec.drainSeconds) * 1000
    while (Date.now() < waitUntil && deletedAt.size < expiryOf.size) await sleep(500)
  } finally {
    await app.close()
    await setup.send(new DeleteTableCommand({ TableName: tableName }))
    setup.destroy()
    client.destroy()
  }
  const run = lagResult(spec, expiryOf, deletedAt)
  log(`  lag (${spec.label}): ${run.deleted} of ${run.expired} rows deleted, p50 ${run.lagSeconds.p50.toFixed(1)} s, ` +
    `p99 ${run.lagSeconds.p99.toFixed(1)} s, max ${run.lagSeconds.max.toFixed(1)} s (model bound ${run.modelBoundSeconds} s)`)
  return run
}
