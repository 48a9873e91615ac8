import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { errorFields } from '../aws-errors.js'
import type { ResolvedReaperOptions, TableShape } from '../options.js'
import { epochSeconds } from '../clock.js'
import type { Sleep, WaitGuard } from './budget.js'
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
 * The sweep's guard: once a renewal is due, renews the lease, saving `state` with the sweep's `progress()`. Segments
 * share one renewal; the sweep checks the guard right before each call and while it waits.
 */
function renewalGuard (lease: Lease, state: LeaseState, progress: () => SweepProgress): WaitGuard {
  let renewing: Promise<void> | undefined
  return {
    get dueAt () { return lease.renewAt },
    check: async () => {
      if (lease.renewDue) await (renewing ??= lease.renew({ ...state, sweep: progress() }).finally(() => { renewing = undefined }))
      return true
    }
  }
}

/**
 * One pass: takes the lease, sweeps (resuming the saved sweep), saves the state it leaves and frees the lease, then
 * publishes the table state. `signal` is close(): the pass stops, saves its cursors and frees the lease.
 */
export class ReaperPass {
  readonly #deps: PassDeps
  readonly #signal: AbortSignal
  readonly #startedAt: number
  readonly #calls: ReaperCalls
  readonly #lease: Lease

  constructor (deps: PassDeps, signal: AbortSignal) {
    this.#deps = deps
    this.#signal = signal
    this.#startedAt = deps.now()
    this.#calls = new ReaperCalls(deps.client, deps.observer, deps.budgets, signal)
    this.#lease = new Lease(this.#calls, deps.shape, deps.owner, deps.options.leaseSeconds * 1000, deps.now, deps.watch, deps.leaseId)
  }

  /** Never rejects: failures are logged and reported. `tick`: the scheduled time the pass belongs to (epoch ms). */
  async run (tick: number | undefined): Promise<ReapReport> {
    const state = await this.#takeLease(tick)
    if (typeof state === 'string') return this.#deps.ended(this.#report(state))
    const sweep = this.#sweep(state)
    const end = await runSweep(sweep, this.#signal)
    // Built once: the report stored in the lease is the one runOnce() resolves to (it cannot include the cost of
    // the write that stores it).
    const report = this.#report(end.outcome, sweep)
    if (end.outcome === 'failure') this.#deps.log.error({ err: errorFields(end.failure), report }, 'reaper pass failed')
    const next = this.#nextState(state, report, sweep, end)
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

  #sweep (state: LeaseState): Sweep {
    const { shape, finder, budgets, now, sleep, options, observer } = this.#deps
    const guard = renewalGuard(this.#lease, state, () => sweep.progress)
    const sweep = new Sweep({
      shape,
      finder,
      calls: this.#calls,
      budgets,
      now,
      sleep,
      graceSeconds: options.graceSeconds,
      deadline: this.#startedAt + this.#deps.maxPassMs,
      signal: this.#signal,
      guard,
      observer
    }, this.#progress(state))
    return sweep
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

  #report (result: ReapResult, sweep?: Sweep): ReapReport {
    return {
      ...emptyReport(result, 0, sweep === undefined ? 'none' : this.#deps.strategy),
      ...sweep?.counts,
      consumedReadUnits: this.#calls.tally.read,
      consumedWriteUnits: this.#calls.tally.write,
      durationSeconds: Math.max(0, this.#deps.now() - this.#startedAt) / 1000
    }
  }

  /** The state the pass leaves in the lease: its report, and the sweep to resume or the figures of a complete one. */
  #nextState (state: LeaseState, report: ReapReport, sweep: Sweep, end: SweepEnd): LeaseState {
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
          : { ...figures, active: state.table?.active ?? 0, invalid: state.table?.invalid ?? 0 }
        delete next.sweep
      }
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
