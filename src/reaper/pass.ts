import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { errorFields } from '../aws-errors.js'
import type { ResolvedReaperOptions, TableShape } from '../options.js'
import { epochSeconds } from '../clock.js'
import type { Sleep, UnitBudget, WaitGuard } from './budget.js'
import { backfillProgress, nextBackfillState } from './backfill.js'
import { DEFAULT_CENSUS_SECONDS, censusRecord, takeCensus, type CensusRecord } from './census.js'
import type { ScanFinder } from './scan-finder.js'
import { ReaperCalls, type Budgets } from './calls.js'
import { Lease, type LeaseWatch } from './lease.js'
import { tableStateOf, type LeaseState } from './lease-state.js'
import { emptyReport, type ReapReport, type ReapResult, type ReaperStrategy } from './report.js'
import type { ReaperObserver } from '../instrumentation.js'
import { Sweep, newProgress, resumable, sweepFigures, type ExpiryFinder, type SweepProgress } from './sweep.js'

/** The log methods the reaper uses (Fastify's logger fits). */
export interface ReaperLogger {
  debug (obj: object, msg: string): void
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

/** The write that frees the lease gets this long, even during close(); after it the lease just expires. */
export const RELEASE_TIMEOUT_MS = 5000

/** What a pass works with that outlives it: the reaper's collaborators, and what it keeps from pass to pass. */
export interface PassDeps {
  readonly client: DynamoDBClient
  readonly shape: TableShape
  readonly options: ResolvedReaperOptions
  /** Milliseconds since the epoch. */
  readonly now: () => number
  readonly observer?: ReaperObserver
  readonly log: ReaperLogger
  readonly sleep: Sleep
  readonly finder: ExpiryFinder
  /** The strategy `finder` stands for, as reported. */
  readonly strategy: ReaperStrategy
  /** The lease owner token. */
  readonly owner: string
  /** This instance's memory of other holders of the lease. */
  readonly watch: LeaseWatch
  /** The lease item the pass takes (a lease group's, see leaseId()). Defaults to LEASE_ID. */
  readonly leaseId?: string
  readonly budgets: Budgets
  /**
   * False for the passes of lease groups other than the first: the census (index strategy) covers the whole table and
   * runs in one group's pass only. Defaults to true.
   */
  readonly coordinator?: boolean
  /** The backfill's finder and read budget: an index pass runs the backfill beside it (backfill.ts). */
  readonly backfill: { readonly finder: ScanFinder, readonly read: UnitBudget } | undefined
  /** A pass stops (and saves its cursors) this long after it started. */
  readonly maxPassMs: number
  /** Records the pass's report, in the same turn as the pass's last log line. */
  readonly ended: (report: ReapReport) => ReapReport
}

/** How a sweep ended. */
interface SweepEnd {
  readonly outcome: ReapResult
  /** What failed the pass, when `outcome` is `failure`. */
  readonly failure: unknown
  /** Every stream reached the end of the table. */
  readonly complete: boolean
  /** Stopped by close() before the end of the table. */
  readonly interrupted: boolean
}

/** Runs the sweep; a sweep cut short by close() (`signal`) ends as a stop, not a failure. */
async function runSweep (sweep: Sweep, signal: AbortSignal): Promise<SweepEnd> {
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
  return { outcome, failure, complete, interrupted }
}

/**
 * The sweeps' guard: once a renewal is due, renews the lease, saving the state `snapshot()` gives (the sweeps'
 * progress). Streams and sweeps share one renewal; a sweep checks the guard right before each call and while it waits.
 */
function renewalGuard (lease: Lease, snapshot: () => LeaseState): WaitGuard {
  let renewing: Promise<void> | undefined
  return {
    get dueAt () { return lease.renewAt },
    check: async () => {
      if (lease.renewDue) await (renewing ??= lease.renew(snapshot()).finally(() => { renewing = undefined }))
      return true
    }
  }
}

/** The end of a pass's sweeps: the first failure, if any, decides. */
function bothEnds (main: SweepEnd, backfill: SweepEnd | undefined): SweepEnd {
  if (backfill === undefined || main.outcome === 'failure' || backfill.outcome !== 'failure') return main
  return { ...main, outcome: 'failure', failure: backfill.failure }
}

// The report's counts, as the index or scan sweep made them.
const REPORT_COUNTS = ['scanned', 'active', 'expired', 'deleted', 'conflicts', 'repaired', 'invalid', 'maxLagSeconds'] as const

/**
 * One pass: takes the lease, sweeps (resuming the saved sweep), saves the state it leaves and frees the lease, then
 * publishes the table state. `signal` is close(): the pass stops, saves its cursors and frees the lease.
 */
export class ReaperPass {
  readonly #deps: PassDeps
  readonly #signal: AbortSignal
  readonly #startedAt: number
  readonly #calls: ReaperCalls
  // The backfill's and the census's calls: their units are reported apart.
  readonly #backfillCalls: ReaperCalls | undefined
  readonly #censusCalls: ReaperCalls
  readonly #lease: Lease

  constructor (deps: PassDeps, signal: AbortSignal) {
    this.#deps = deps
    this.#signal = signal
    this.#startedAt = deps.now()
    this.#calls = new ReaperCalls(deps.client, deps.observer, deps.budgets, signal)
    this.#censusCalls = new ReaperCalls(deps.client, deps.observer, deps.budgets, signal)
    this.#backfillCalls = deps.backfill === undefined
      ? undefined
      : new ReaperCalls(deps.client, deps.observer, { read: deps.backfill.read, write: deps.budgets.write }, signal)
    this.#lease = new Lease(this.#calls, deps.shape, deps.owner, deps.options.leaseSeconds * 1000, deps.now, deps.watch, deps.leaseId)
  }

  /** Never rejects: failures are logged and reported. `tick`: the scheduled time the pass belongs to (epoch ms). */
  async run (tick: number | undefined): Promise<ReapReport> {
    const state = await this.#takeLease(tick)
    if (typeof state === 'string') return this.#deps.ended(this.#report(state))
    const sweeps = this.#sweeps(state)
    const { sweep, backfill } = sweeps
    const [mainEnd, backfillEnd, census] = await Promise.all([
      runSweep(sweep, this.#signal),
      backfill === undefined ? undefined : runSweep(backfill, this.#signal),
      this.#census(state)
    ])
    const end = bothEnds(mainEnd, backfillEnd)
    // Built once: the report stored in the lease is the one runOnce() resolves to (it cannot include the cost of
    // the write that stores it).
    const report = this.#report(end.outcome, sweep, backfill)
    if (end.outcome === 'failure') this.#deps.log.error({ err: errorFields(end.failure), report }, 'reaper pass failed')
    const next = this.#nextState(state, report, sweep, mainEnd, census)
    if (backfill !== undefined) {
      const complete = backfillEnd?.complete === true && backfillEnd.outcome === 'success'
      const endedAt = epochSeconds(this.#deps.now())
      next.backfill = nextBackfillState(state.backfill, backfill.progress, complete, endedAt, this.#deps.options.backfillIntervalSeconds)
      if (backfill.cursorRejected && next.backfill !== undefined) delete next.backfill.sweep
    }
    await this.#release(next)
    this.#deps.observer?.tableState(tableStateOf(next))
    if (end.outcome === 'success') this.#deps.log.info({ report, complete: end.complete, interrupted: end.interrupted }, 'reaper pass')
    return this.#deps.ended(report)
  }

  /** The stored state once the lease is taken; otherwise the result of a pass that could not take it. */
  async #takeLease (tick: number | undefined): Promise<LeaseState | 'skipped' | 'failure'> {
    try {
      const got = await this.#lease.acquire(tick)
      if (got.acquired) return got.state
      this.#deps.observer?.tableState(tableStateOf(got.state))
      this.#deps.log.debug({ reason: got.reason }, 'reaper pass skipped: another instance holds the lease or ran this tick')
      return 'skipped'
    } catch (err) {
      if (this.#signal.aborted) {
        // close() during the attempt: no pass ran. The write may have landed; free the lease if it is ours.
        await this.#lease.release(undefined, AbortSignal.timeout(RELEASE_TIMEOUT_MS)).catch(() => false)
        return 'skipped'
      }
      this.#deps.log.error({ err: errorFields(err) }, 'reaper pass failed: could not take the lease')
      return 'failure'
    }
  }

  /** The pass's sweep, and with the index strategy the backfill's when one is due (both share the lease's guard). */
  #sweeps (state: LeaseState): { sweep: Sweep, backfill: Sweep | undefined } {
    const { shape, finder, budgets, now, sleep, options, observer } = this.#deps
    const snapshot = (): LeaseState => ({
      ...state,
      sweep: sweep.progress,
      ...(backfill === undefined ? {} : { backfill: { ...state.backfill, sweep: backfill.progress } })
    })
    const common = {
      shape,
      now,
      sleep,
      graceSeconds: options.graceSeconds,
      deadline: this.#startedAt + this.#deps.maxPassMs,
      signal: this.#signal,
      guard: renewalGuard(this.#lease, snapshot),
      observer
    }
    const sweep = new Sweep({ ...common, finder, calls: this.#calls, budgets }, this.#progress(state))
    const extra = this.#deps.backfill
    const progress = extra === undefined || this.#backfillCalls === undefined
      ? undefined
      : backfillProgress(extra.finder, state.backfill, epochSeconds(this.#startedAt))
    const backfill = progress === undefined || extra === undefined || this.#backfillCalls === undefined
      ? undefined
      : new Sweep({
        ...common,
        finder: extra.finder,
        calls: this.#backfillCalls,
        budgets: { read: extra.read, write: budgets.write },
        backfill: true
      }, progress)
    return { sweep, backfill }
  }

  /** The saved sweep to resume, or a new one: saved progress this finder cannot resume is dropped, with a warning. */
  #progress (state: LeaseState): SweepProgress {
    const { finder, log } = this.#deps
    const saved = resumable(finder, state.sweep)
    if (state.sweep !== undefined && saved === undefined) {
      const { finder: kind, streams } = state.sweep
      log.warn({ finder: kind, streams }, 'reaper sweep restarted: the saved cursors do not fit this finder')
    }
    return saved ?? newProgress(finder, epochSeconds(this.#startedAt))
  }

  /**
   * With the index strategy, a census of the live sessions (census.ts) when the last one is DEFAULT_CENSUS_SECONDS old:
   * the index sees no live rows. A census that fails is logged and tried again next pass.
   */
  async #census (state: LeaseState): Promise<CensusRecord | undefined> {
    const { strategy, shape, now, options, budgets, log } = this.#deps
    const nowSec = epochSeconds(this.#startedAt)
    if (strategy !== 'index' || this.#deps.coordinator === false) return undefined
    if (state.census !== undefined && nowSec - state.census.completedAt < DEFAULT_CENSUS_SECONDS) return undefined
    try {
      const result = await takeCensus(this.#censusCalls, shape, nowSec, state.census, {
        graceSeconds: options.graceSeconds, budget: budgets.read, signal: this.#signal, now
      })
      return censusRecord(result)
    } catch (err) {
      if (!this.#signal.aborted) log.warn({ err: errorFields(err) }, 'reaper census failed: the live-session estimate is kept as it was')
      return undefined
    }
  }

  #report (result: ReapResult, sweep?: Sweep, backfill?: Sweep): ReapReport {
    const counts: Partial<Record<typeof REPORT_COUNTS[number], number>> =
      sweep === undefined ? {} : Object.fromEntries(REPORT_COUNTS.map((key) => [key, sweep.counts[key]]))
    if (backfill !== undefined) {
      // The expired rows the backfill deleted (those the index cannot see) are this pass's too.
      const extra = backfill.counts
      counts.expired = (counts.expired ?? 0) + extra.expired
      counts.deleted = (counts.deleted ?? 0) + extra.deleted
      counts.conflicts = (counts.conflicts ?? 0) + extra.conflicts
      counts.maxLagSeconds = Math.max(counts.maxLagSeconds ?? 0, extra.maxLagSeconds)
    }
    return {
      ...emptyReport(result, 0, sweep === undefined ? 'none' : this.#deps.strategy),
      ...counts,
      backfilled: backfill?.counts.backfilled ?? 0,
      consumedReadUnits: this.#calls.tally.read,
      consumedWriteUnits: this.#calls.tally.write,
      backfillReadUnits: this.#backfillCalls?.tally.read ?? 0,
      backfillWriteUnits: this.#backfillCalls?.tally.write ?? 0,
      censusReadUnits: this.#censusCalls.tally.read,
      durationSeconds: Math.max(0, this.#deps.now() - this.#startedAt) / 1000
    }
  }

  /** The state the pass leaves in the lease: its report, and the sweep to resume or the figures of a complete one. */
  #nextState (state: LeaseState, report: ReapReport, sweep: Sweep, end: SweepEnd, census: CensusRecord | undefined): LeaseState {
    const endedAt = epochSeconds(this.#deps.now())
    const next: LeaseState = { ...state, lastReport: { ...report, finishedAt: endedAt }, sweep: sweep.progress }
    if (sweep.cursorRejected) {
      // DynamoDB refused a saved cursor: start over next pass rather than fail on it forever.
      this.#deps.log.warn({}, 'reaper sweep restarted: DynamoDB rejected a saved cursor')
      delete next.sweep
    }
    if (end.outcome === 'success') {
      if (!end.interrupted) next.lastSuccessAt = endedAt
      if (end.complete) {
        const figures = sweepFigures(sweep.progress, endedAt)
        // An index sweep sees only expired rows: the live and invalid counts come from elsewhere (census, backfill).
        next.table = this.#deps.finder.seesLiveRows
          ? figures
          : { ...figures, active: state.census?.active ?? state.table?.active ?? 0, invalid: state.backfill?.figures?.invalid ?? 0 }
        delete next.sweep
      }
    }
    if (census !== undefined) {
      next.census = census
      if (next.table !== undefined && !this.#deps.finder.seesLiveRows) next.table = { ...next.table, active: census.active }
    }
    return next
  }

  async #release (next: LeaseState): Promise<void> {
    try {
      const released = await this.#lease.release(next, AbortSignal.timeout(RELEASE_TIMEOUT_MS))
      if (!released) this.#deps.log.warn({}, 'reaper lease was taken over before release')
    } catch (err) {
      // It expires by itself; the next pass resumes from the last saved cursors.
      this.#deps.log.warn({ err: errorFields(err) }, 'reaper could not release its lease')
    }
  }
}
