import { errorFields } from '../aws-errors.js'
import { randomBytes, randomInt } from 'node:crypto'
import { hostname } from 'node:os'
import { createTask, type Logger as CronLogger } from 'node-cron'
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { defaultMaxPassSeconds, type ResolvedReaperOptions, type TableShape } from '../options.js'
import { epochSeconds } from '../clock.js'
import { dueCutoff, firstUnfinishedBucket } from '../expiry.js'
import { indexStateOf } from '../store/table.js'
import { IndexFinder } from './index-finder.js'
import { UnitBudget, defaultSleep, type Sleep } from './budget.js'
import { ReaperTickOutOfRangeError } from '../errors.js'
import { LeaseWatch, MAX_TICK_DISTANCE_MS, monotonicNow } from './lease.js'
import type { PassDeps, ReaperLogger } from './pass.js'
import { runLeaseGroups } from './lease-groups.js'
import { REAPER_STRATEGIES, emptyReport, type ReapReport, type ReaperStrategy } from './report.js'
import type { ReaperObserver } from '../instrumentation.js'
import { ScanFinder } from './scan-finder.js'
import { backfillFinder } from './backfill.js'
import type { ExpiryFinder } from './sweep.js'

/** `fastify.sessionReaper`. */
export interface SessionReaper {
  /**
   * Runs one pass now (or reports `skipped` when a pass is running in this process or another instance holds the
   * lease; with `reaper.leases`, every group's). Never rejects: failures are logged, counted and reported. `tick`,
   * the scheduled time a pass belongs to (epoch ms), makes every instance skip a tick that any instance already
   * started (with `reaper.leases`, in that group); a tick more than an hour from
   * `now()` runs no pass and reports `failure` (FST_DYNAMO_SESSION_REAPER_TICK_OUT_OF_RANGE in the log). `strategy`
   * overrides `reaper.strategy` for this pass (`'index'` without `expiryIndex` reports `failure`).
   */
  runOnce (options?: { tick?: Date | number, strategy?: ReaperStrategy }): Promise<ReapReport>
  /** The last report this instance produced. */
  readonly lastReport: ReapReport | undefined
  /** Seconds between scheduled passes (0 when not scheduled). */
  readonly intervalSeconds: number
}

export interface ScheduledJob {
  start (): void
  stop (): void
}

/** Calls `onTick` with the scheduled time of each tick of `expression`. */
export type Scheduler = (
  expression: string,
  onTick: (tick: Date) => void,
  log: ReaperLogger
) => { readonly job: ScheduledJob, readonly intervalSeconds: number }

export interface ReaperDeps {
  readonly client: DynamoDBClient
  readonly shape: TableShape
  readonly options: ResolvedReaperOptions
  /** Milliseconds since the epoch. */
  readonly now: () => number
  /** Milliseconds on a monotonic clock: how long another holder's lease stayed unrenewed. Defaults to performance.now(). */
  readonly monotonic?: () => number
  readonly observer?: ReaperObserver
  readonly log?: ReaperLogger
  readonly sleep?: Sleep
  readonly scheduler?: Scheduler
  /** A finder for every pass, whatever the strategy (tests). */
  readonly finder?: ExpiryFinder
  /** The lease owner token. Defaults to host:pid:random. */
  readonly owner?: string
  /** With `reaper.leases` above 1, the lease group the first pass tries first (then the next, pass by pass). Defaults to a random one. */
  readonly firstLeaseGroup?: number
}

const SAMPLED_TICKS = 12
/** With strategy `auto`, DescribeTable is read again after this many passes (and after a failed index pass). */
export const STRATEGY_RECHECK_PASSES = 10

/** The shortest period between the expression's next ticks, in seconds. */
export function shortestInterval (ticks: readonly Date[]): number {
  let shortest = Number.POSITIVE_INFINITY
  for (let i = 1; i < ticks.length; i++) shortest = Math.min(shortest, (ticks[i]!.getTime() - ticks[i - 1]!.getTime()) / 1000)
  return Number.isFinite(shortest) ? shortest : 0
}

/** node-cron's messages (missed ticks and the like) go to the reaper's log, not the console. */
export function cronLogger (log: ReaperLogger): CronLogger {
  return {
    info: (message) => log.debug({}, message),
    warn: (message) => log.warn({}, message),
    error: (message) => log.error({ err: errorFields(message) }, 'reaper schedule error'),
    debug: () => {}
  }
}

/** The default scheduler: node-cron, in this process. */
export const cronScheduler: Scheduler = (expression, onTick, log) => {
  const task = createTask(expression, (context) => onTick(context.date), { name: 'dynamo-session-reaper', logger: cronLogger(log) })
  return {
    job: { start: () => { void task.start() }, stop: () => { void task.destroy() } },
    intervalSeconds: shortestInterval(task.getNextRuns(SAMPLED_TICKS))
  }
}

const SILENT: ReaperLogger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * Deletes expired sessions ahead of DynamoDB's TTL: on a schedule and on demand, one pass at a time in this process
 * and, through a lease item in the table, one pass per tick across all instances.
 */
export class Reaper implements SessionReaper {
  readonly intervalSeconds: number
  lastReport: ReapReport | undefined
  readonly #deps: ReaperDeps
  readonly #log: ReaperLogger
  readonly #passDeps: Omit<PassDeps, 'finder' | 'strategy' | 'backfill' | 'watch'>
  // This instance's memory of each lease group's holders, and the group its next pass tries first.
  readonly #watches = new Map<number, LeaseWatch>()
  #firstGroup: number
  readonly #finders: { readonly scan: ExpiryFinder, readonly index: ExpiryFinder | undefined }
  readonly #backfill: PassDeps['backfill']
  readonly #job: ScheduledJob | undefined
  // Strategy `auto`: the index's last seen state (undefined: to be read), and passes since.
  #indexActive: boolean | undefined
  #passesSinceDescribe = 0
  #active: Promise<ReapReport> | undefined
  #abort: AbortController | undefined
  #closed = false

  constructor (deps: ReaperDeps) {
    this.#deps = deps
    this.#log = deps.log ?? SILENT
    const sleep = deps.sleep ?? defaultSleep
    let interval = 0
    if (deps.options.schedule !== false) {
      const scheduled = (deps.scheduler ?? cronScheduler)(deps.options.schedule, (tick) => { void this.runOnce({ tick }) }, this.#log)
      this.#job = scheduled.job
      interval = scheduled.intervalSeconds
    }
    this.intervalSeconds = interval
    // A random start per instance, moved on each pass, so that instances start apart and none always leaves the same
    // groups to the end of its pass.
    this.#firstGroup = deps.firstLeaseGroup ?? randomInt(deps.options.leases)
    const passSeconds = deps.options.maxPassSeconds ?? defaultMaxPassSeconds(interval)
    this.#passDeps = {
      client: deps.client,
      shape: deps.shape,
      options: deps.options,
      now: deps.now,
      observer: deps.observer,
      log: this.#log,
      sleep,
      owner: deps.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
      budgets: {
        read: new UnitBudget(deps.options.maxReadUnitsPerSecond, deps.now, sleep),
        write: new UnitBudget(deps.options.maxWriteUnitsPerSecond, deps.now, sleep)
      },
      maxPassMs: passSeconds * 1000,
      ended: (report) => this.#ended(report)
    }
    const { shape } = deps
    const indexed = shape.expiryIndex === false ? undefined : { ...shape, expiryIndex: shape.expiryIndex }
    this.#finders = {
      scan: new ScanFinder(shape, deps.options.segments),
      index: indexed === undefined
        ? undefined
        : new IndexFinder(indexed, () => firstUnfinishedBucket(
          dueCutoff(epochSeconds(deps.now()), deps.options.graceSeconds),
          indexed.expiryIndex.bucketSeconds
        ))
    }
    this.#backfill = indexed === undefined
      ? undefined
      : {
          finder: backfillFinder(shape, deps.options.segments),
          read: new UnitBudget(deps.options.backfillReadUnitsPerSecond, deps.now, sleep)
        }
    deps.observer?.interval(interval)
    deps.observer?.budgets(deps.options.maxReadUnitsPerSecond, deps.options.maxWriteUnitsPerSecond)
  }

  /** Starts the schedule (no-op without one). */
  start (): void {
    if (!this.#closed) this.#job?.start()
  }

  /** Stops the schedule and the pass in progress (which saves its cursors and frees the lease), and waits for it. */
  async close (): Promise<void> {
    this.#closed = true
    this.#job?.stop()
    this.#abort?.abort()
    await this.#active
  }

  async runOnce (options: { tick?: Date | number, strategy?: ReaperStrategy } = {}): Promise<ReapReport> {
    if (this.#closed || this.#active !== undefined) return this.#ended(emptyReport('skipped'))
    const tick = options.tick instanceof Date ? options.tick.getTime() : options.tick
    const nowMs = this.#deps.now()
    if (tick !== undefined && !(Math.abs(tick - nowMs) <= MAX_TICK_DISTANCE_MS)) {
      // Stored, such a tick would make every instance skip its scheduled passes until then.
      const err = new ReaperTickOutOfRangeError(tick, MAX_TICK_DISTANCE_MS, nowMs)
      this.#log.error({ err: errorFields(err) }, 'reaper pass failed: tick too far from now')
      return this.#ended(emptyReport('failure'))
    }
    if (options.strategy !== undefined && !(REAPER_STRATEGIES as readonly unknown[]).includes(options.strategy)) {
      this.#log.error({ strategy: String(options.strategy) }, "reaper pass failed: strategy must be 'index' or 'scan'")
      return this.#ended(emptyReport('failure'))
    }
    if (options.strategy === 'index' && this.#finders.index === undefined) {
      this.#log.error({}, 'reaper pass failed: strategy index without expiryIndex')
      return this.#ended(emptyReport('failure'))
    }
    this.#abort = new AbortController()
    this.#active = this.#pass(tick, options.strategy, this.#abort.signal)
    try {
      return await this.#active
    } finally {
      this.#active = undefined
      this.#abort = undefined
    }
  }

  async #pass (tick: number | undefined, override: ReaperStrategy | undefined, signal: AbortSignal): Promise<ReapReport> {
    const strategy = override ?? await this.#choose(signal)
    this.#deps.observer?.strategy(strategy)
    const finder = this.#deps.finder ?? (strategy === 'index' ? this.#finders.index : undefined) ?? this.#finders.scan
    // The backfill runs beside index passes only (a scan pass sees every row anyway).
    const backfill = strategy === 'index' && this.#deps.finder === undefined ? this.#backfill : undefined
    const run = { watch: (group: number) => this.#watch(group), first: this.#firstGroup++, tick, signal }
    const report = await runLeaseGroups({ ...this.#passDeps, finder, strategy, backfill, watch: this.#watch(0) }, run)
    // An index pass that failed may have met a missing index: read DescribeTable again before the next pass.
    if (strategy === 'index' && report.result === 'failure') this.#indexActive = undefined
    return report
  }

  /**
   * The strategy of the next pass: `reaper.strategy`, or for `auto` the index when DescribeTable last showed it ACTIVE
   * (read at the first pass, every STRATEGY_RECHECK_PASSES passes and after a failed index pass). A change is logged.
   */
  async #choose (signal: AbortSignal): Promise<ReaperStrategy> {
    const wanted = this.#deps.options.strategy
    if (wanted !== 'auto') return wanted
    if (this.#finders.index === undefined) return 'scan'
    if (this.#indexActive === undefined || ++this.#passesSinceDescribe >= STRATEGY_RECHECK_PASSES) {
      const was = this.#indexActive
      this.#passesSinceDescribe = 0
      this.#indexActive = await this.#describeIndex(signal)
      if (was !== this.#indexActive) {
        const strategy = this.#indexActive ? 'index' : 'scan'
        this.#log.info({ strategy }, `reaper strategy: ${strategy} (the expiry index is ${this.#indexActive ? '' : 'not '}ACTIVE)`)
      }
    }
    return this.#indexActive ? 'index' : 'scan'
  }

  /** True when DescribeTable shows the expiry index ACTIVE; false when it does not, or cannot be read (logged). */
  async #describeIndex (signal: AbortSignal): Promise<boolean> {
    const { client, shape } = this.#deps
    if (shape.expiryIndex === false) return false
    try {
      const out = await client.send(new DescribeTableCommand({ TableName: shape.tableName }), { abortSignal: signal })
      return indexStateOf(out.Table, shape.expiryIndex.indexName) === 'active'
    } catch (err) {
      if (!signal.aborted) this.#log.warn({ err: errorFields(err) }, 'reaper could not describe the table: scanning')
      return false
    }
  }

  #watch (group: number): LeaseWatch {
    let watch = this.#watches.get(group)
    if (watch === undefined) this.#watches.set(group, watch = new LeaseWatch(this.#deps.monotonic ?? monotonicNow))
    return watch
  }

  #ended (report: ReapReport): ReapReport {
    this.lastReport = report
    this.#deps.observer?.passEnded(report)
    return report
  }
}
