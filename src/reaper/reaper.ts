import { errorFields } from '../aws-errors.js'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { createTask, type Logger as CronLogger } from 'node-cron'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { ResolvedReaperOptions, TableShape } from '../options.js'
import { epochSeconds } from '../store/item.js'
import { UnitBudget, defaultSleep, type Sleep, type WaitGuard } from './budget.js'
import { ReaperCalls, type Budgets } from './calls.js'
import { ReaperTickOutOfRangeError } from '../errors.js'
import { Lease, LeaseWatch, MAX_TICK_DISTANCE_MS, monotonicNow, tableStateOf, type LeaseState } from './lease.js'
import { emptyReport, type ReapReport, type ReapResult } from './report.js'
import type { ReaperObserver } from '../instrumentation.js'
import { ScanFinder } from './scan-finder.js'
import { Sweep, newProgress, resumable, sweepFigures, type ExpiryFinder, type SweepProgress } from './sweep.js'

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

/** The log methods the reaper uses (Fastify's logger fits). */
export interface ReaperLogger {
  debug (obj: object, msg: string): void
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

export interface ScheduledJob {
  start (): void
  stop (): void
}

/** Calls `onTick` with the scheduled time of each tick of `expression`. */
export type Scheduler = (expression: string, onTick: (tick: Date) => void, log: ReaperLogger) => { readonly job: ScheduledJob, readonly intervalSeconds: number }

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

/** Without a schedule, a pass stops (and saves its cursors) after this many seconds. */
export const DEFAULT_UNSCHEDULED_PASS_SECONDS = 60
/** Share of the schedule's period a pass may use by default. */
export const PASS_SHARE_OF_INTERVAL = 0.8
const SAMPLED_TICKS = 12
/** The write that frees the lease gets this long, even during close(); after it the lease just expires. */
export const RELEASE_TIMEOUT_MS = 5000

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
  readonly #d: ReaperDeps
  readonly #log: ReaperLogger
  readonly #sleep: Sleep
  readonly #finder: ExpiryFinder
  readonly #owner: string
  readonly #budgets: Budgets
  readonly #maxPassMs: number
  readonly #job: ScheduledJob | undefined
  readonly #watch: LeaseWatch
  #active: Promise<ReapReport> | undefined
  #abort: AbortController | undefined
  #closed = false

  constructor (deps: ReaperDeps) {
    this.#d = deps
    this.#log = deps.log ?? SILENT
    this.#sleep = deps.sleep ?? defaultSleep
    this.#finder = deps.finder ?? new ScanFinder(deps.shape, deps.options.segments)
    this.#owner = deps.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
    this.#watch = new LeaseWatch(deps.monotonic ?? monotonicNow)
    this.#budgets = {
      read: new UnitBudget(deps.options.maxReadUnitsPerSecond, deps.now, this.#sleep),
      write: new UnitBudget(deps.options.maxWriteUnitsPerSecond, deps.now, this.#sleep)
    }
    let interval = 0
    if (deps.options.schedule !== false) {
      const scheduled = (deps.scheduler ?? cronScheduler)(deps.options.schedule, (tick) => { void this.runOnce({ tick }) }, this.#log)
      this.#job = scheduled.job
      interval = scheduled.intervalSeconds
    }
    this.intervalSeconds = interval
    const passSeconds = deps.options.maxPassSeconds ??
      (interval > 0 ? Math.max(1, Math.floor(interval * PASS_SHARE_OF_INTERVAL)) : DEFAULT_UNSCHEDULED_PASS_SECONDS)
    this.#maxPassMs = passSeconds * 1000
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
    const nowMs = this.#d.now()
    if (tick !== undefined && !(Math.abs(tick - nowMs) <= MAX_TICK_DISTANCE_MS)) {
      // Stored, such a tick would make every instance skip its scheduled passes until then.
      const err = new ReaperTickOutOfRangeError(tick, MAX_TICK_DISTANCE_MS, nowMs)
      this.#log.error({ err: errorFields(err) }, 'reaper pass failed: tick too far from now')
      return this.#ended(emptyReport('failure'))
    }
    this.#abort = new AbortController()
    this.#active = this.#pass(tick, this.#abort.signal)
    try {
      return await this.#active
    } finally {
      this.#active = undefined
      this.#abort = undefined
    }
  }

  #ended (report: ReapReport): ReapReport {
    this.lastReport = report
    this.#d.observer?.passEnded(report)
    return report
  }

  /** The saved sweep to resume, or a new one: saved progress this finder cannot resume is dropped, with a warning. */
  #progress (state: LeaseState, startedAt: number): SweepProgress {
    const saved = resumable(this.#finder, state.sweep)
    if (state.sweep !== undefined && saved === undefined) {
      this.#log.warn({ finder: state.sweep.finder, streams: state.sweep.streams }, 'reaper sweep restarted: the saved cursors do not fit this finder')
    }
    return saved ?? newProgress(this.#finder, epochSeconds(startedAt))
  }

  async #pass (tick: number | undefined, signal: AbortSignal): Promise<ReapReport> {
    const { now, shape, observer } = this.#d
    const started = now()
    const calls = new ReaperCalls(this.#d.client, observer, this.#budgets, signal)
    const lease = new Lease(calls, shape, this.#owner, this.#d.options.leaseSeconds * 1000, now, this.#watch)
    const report = (result: ReapResult, sweep?: Sweep): ReapReport => ({
      ...emptyReport(result),
      ...sweep?.counts,
      consumedReadUnits: calls.tally.read,
      consumedWriteUnits: calls.tally.write,
      durationSeconds: Math.max(0, now() - started) / 1000
    })

    let state: LeaseState
    try {
      const got = await lease.acquire(tick)
      if (!got.acquired) {
        observer?.tableState(tableStateOf(got.state))
        this.#log.debug({ reason: got.reason }, 'reaper pass skipped: another instance holds the lease or ran this tick')
        return this.#ended(report('skipped'))
      }
      state = got.state
    } catch (err) {
      if (signal.aborted) {
        // close() during the attempt: no pass ran. The write may have landed; free the lease if it is ours.
        await lease.release(undefined, AbortSignal.timeout(RELEASE_TIMEOUT_MS)).catch(() => false)
        return this.#ended(report('skipped'))
      }
      this.#log.error({ err: errorFields(err) }, 'reaper pass failed: could not take the lease')
      return this.#ended(report('failure'))
    }

    let renewing: Promise<void> | undefined
    // Segments share one renewal; the sweep checks it right before each call and while it waits.
    const guard: WaitGuard = {
      get dueAt () { return lease.renewAt },
      check: async () => {
        if (lease.renewDue) await (renewing ??= lease.renew({ ...state, sweep: sweep.progress }).finally(() => { renewing = undefined }))
        return true
      }
    }
    const sweep = new Sweep({
      shape,
      finder: this.#finder,
      calls,
      budgets: this.#budgets,
      now,
      sleep: this.#sleep,
      graceSeconds: this.#d.options.graceSeconds,
      deadline: started + this.#maxPassMs,
      signal,
      guard,
      observer
    }, this.#progress(state, started))

    let outcome: ReapResult = 'success'
    let failure: unknown
    let complete = false
    try {
      complete = await sweep.run()
    } catch (err) {
      // Aborted: close() cut a call short, and the pass stopped as it does between calls.
      if (!signal.aborted) {
        outcome = 'failure'
        failure = err
      }
    }
    // Stopped by close() before the end of the table: what it did stands, but it is no sign that reaping keeps up,
    // so it does not count as the last success (a reaper always shut down mid-pass must still look stalled).
    const interrupted = signal.aborted && !complete
    // Built once: the report stored in the lease is the one runOnce() resolves to (it cannot include the cost of
    // the write that stores it).
    const result = report(outcome, sweep)
    if (outcome === 'failure') this.#log.error({ err: errorFields(failure), report: result }, 'reaper pass failed')

    const endedAt = epochSeconds(now())
    const next: LeaseState = { ...state, lastReport: { ...result, finishedAt: endedAt }, sweep: sweep.progress }
    if (sweep.cursorRejected) {
      // DynamoDB refused a saved cursor: start over next pass rather than fail on it forever.
      this.#log.warn({}, 'reaper sweep restarted: DynamoDB rejected a saved cursor')
      delete next.sweep
    }
    if (outcome === 'success') {
      if (!interrupted) next.lastSuccessAt = endedAt
      if (complete) {
        if (this.#finder.seesLiveRows) next.table = sweepFigures(sweep.progress, endedAt)
        delete next.sweep
      }
    }
    try {
      if (!await lease.release(next, AbortSignal.timeout(RELEASE_TIMEOUT_MS))) this.#log.warn({}, 'reaper lease was taken over before release')
    } catch (err) {
      // It expires by itself; the next pass resumes from the last saved cursors.
      this.#log.warn({ err: errorFields(err) }, 'reaper could not release its lease')
    }
    observer?.tableState(tableStateOf(next))
    if (outcome === 'success') this.#log.info({ report: result, complete, interrupted }, 'reaper pass')
    return this.#ended(result)
  }
}
