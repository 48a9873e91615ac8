import { errorFields } from '../aws-errors.js'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { createTask, type Logger as CronLogger } from 'node-cron'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { defaultMaxPassSeconds, type ResolvedReaperOptions, type TableShape } from '../options.js'
import { UnitBudget, defaultSleep, type Sleep } from './budget.js'
import { ReaperTickOutOfRangeError } from '../errors.js'
import { LeaseWatch, MAX_TICK_DISTANCE_MS, monotonicNow } from './lease.js'
import { ReaperPass, type PassDeps, type ReaperLogger } from './pass.js'
import { emptyReport, type ReapReport } from './report.js'
import type { ReaperObserver } from '../instrumentation.js'
import { ScanFinder } from './scan-finder.js'
import type { ExpiryFinder } from './sweep.js'

/** `fastify.sessionReaper`. */
export interface SessionReaper {
  /**
   * Runs one pass now (or reports `skipped` when a pass is running in this process or another instance holds the
   * lease). Never rejects: failures are logged, counted and reported. `tick`, the scheduled time a pass belongs to
   * (epoch ms), makes every instance skip a tick that any instance already started; a tick more than an hour from
   * `now()` runs no pass and reports `failure` (FST_DYNAMO_SESSION_REAPER_TICK_OUT_OF_RANGE in the log).
   */
  runOnce (options?: { tick?: Date | number }): Promise<ReapReport>
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
  readonly finder?: ExpiryFinder
  /** The lease owner token. Defaults to host:pid:random. */
  readonly owner?: string
}

const SAMPLED_TICKS = 12

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
  readonly #passDeps: PassDeps
  readonly #job: ScheduledJob | undefined
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
    const passSeconds = deps.options.maxPassSeconds ?? defaultMaxPassSeconds(interval)
    this.#passDeps = {
      client: deps.client,
      shape: deps.shape,
      options: deps.options,
      now: deps.now,
      observer: deps.observer,
      log: this.#log,
      sleep,
      finder: deps.finder ?? new ScanFinder(deps.shape, deps.options.segments),
      owner: deps.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
      watch: new LeaseWatch(deps.monotonic ?? monotonicNow),
      budgets: {
        read: new UnitBudget(deps.options.maxReadUnitsPerSecond, deps.now, sleep),
        write: new UnitBudget(deps.options.maxWriteUnitsPerSecond, deps.now, sleep)
      },
      maxPassMs: passSeconds * 1000,
      ended: (report) => this.#ended(report)
    }
    deps.observer?.interval(interval)
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

  async runOnce (options: { tick?: Date | number } = {}): Promise<ReapReport> {
    if (this.#closed || this.#active !== undefined) return this.#ended(emptyReport('skipped'))
    const tick = options.tick instanceof Date ? options.tick.getTime() : options.tick
    const nowMs = this.#deps.now()
    if (tick !== undefined && !(Math.abs(tick - nowMs) <= MAX_TICK_DISTANCE_MS)) {
      // Stored, such a tick would make every instance skip its scheduled passes until then.
      const err = new ReaperTickOutOfRangeError(tick, MAX_TICK_DISTANCE_MS, nowMs)
      this.#log.error({ err: errorFields(err) }, 'reaper pass failed: tick too far from now')
      return this.#ended(emptyReport('failure'))
    }
    this.#abort = new AbortController()
    this.#active = new ReaperPass(this.#passDeps, this.#abort.signal).run(tick)
    try {
      return await this.#active
    } finally {
      this.#active = undefined
      this.#abort = undefined
    }
  }

  #ended (report: ReapReport): ReapReport {
    this.lastReport = report
    this.#deps.observer?.passEnded(report)
    return report
  }
}
