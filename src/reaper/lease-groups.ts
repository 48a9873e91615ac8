import { errorFields } from '../aws-errors.js'
import { leaseId } from '../ids.js'
import type { ReaperObserver } from '../instrumentation.js'
import { ReaperCalls } from './calls.js'
import { readLease, type LeaseWatch } from './lease.js'
import { tableStateOf, type LeaseState } from './lease-state.js'
import { ReaperPass, type PassDeps, type ReaperLogger } from './pass.js'
import { emptyReport, type ReapReport, type ReapResult, type TableState } from './report.js'
import type { ExpiryFinder, FinderPage, FoundRow, StartKey } from './sweep.js'

// Lease groups (`reaper.leases`): the finder's streams are split into groups, stream s in group s mod groups, each
// guarded by its own lease item (leaseId(group)), so that several instances reap at once without overlap. A pass
// takes the groups one after another, each as a whole pass of its own (lease, tick, saved cursors, table figures).

/** Pure: the streams of `group` among `streams` split into `groups`: every s with s mod groups = group. */
export function groupStreams (streams: number, group: number, groups: number): number[] {
  const members: number[] = []
  for (let stream = group; stream < streams; stream += groups) members.push(stream)
  return members
}

/** Pure: the order in which a pass tries the groups: every one, starting at `first` (taken modulo `groups`). */
export function groupOrder (first: number, groups: number): number[] {
  const start = ((first % groups) + groups) % groups
  return Array.from({ length: groups }, (_, i) => (start + i) % groups)
}

/**
 * One lease group's streams of `inner`, numbered from 0. Its `kind` names the grouping (group, groups and the finder's
 * streams), so that cursors saved under another grouping are dropped, never resumed on the wrong streams.
 */
export class GroupFinder implements ExpiryFinder {
  readonly kind: string
  readonly streams: number
  readonly seesLiveRows: boolean
  readonly #inner: ExpiryFinder
  readonly #members: readonly number[]

  constructor (inner: ExpiryFinder, group: number, groups: number) {
    this.#inner = inner
    this.#members = groupStreams(inner.streams, group, groups)
    this.kind = `${inner.kind} group ${group}/${groups} of ${inner.streams}`
    this.streams = this.#members.length
    this.seesLiveRows = inner.seesLiveRows
  }

  async page (calls: ReaperCalls, stream: number, start: StartKey | undefined, limit: number): Promise<FinderPage> {
    return await this.#inner.page(calls, this.#stream(stream), start, limit)
  }

  isCursor (start: StartKey): boolean {
    return this.#inner.isCursor(start)
  }

  after (stream: number, row: FoundRow): StartKey {
    return this.#inner.after(this.#stream(stream), row)
  }

  #stream (local: number): number {
    const stream = this.#members[local]
    if (stream === undefined) throw new RangeError(`no stream ${local} in this lease group`)
    return stream
  }
}

/** `inner` itself for a single group (the one lease of old: same kind, same cursors), else the group's streams. */
export function groupFinder (inner: ExpiryFinder, group: number, groups: number): ExpiryFinder {
  return groups === 1 ? inner : new GroupFinder(inner, group, groups)
}

const RESULT_RANK: Readonly<Record<ReapResult, number>> = { skipped: 0, success: 1, failure: 2 }

/**
 * Pure: the report of a pass over several groups: counts and units summed, `max…` fields the largest; `failure` when
 * a group failed, else `success` when a group ran, else `skipped`; the strategy of the groups that ran.
 */
export function combineReports (reports: readonly ReapReport[], durationSeconds: number): ReapReport {
  const ran = reports.find((report) => report.strategy !== 'none')
  const combined: Record<string, unknown> = { ...emptyReport('skipped', durationSeconds, ran?.strategy ?? 'none') }
  for (const report of reports) {
    if (RESULT_RANK[report.result] > RESULT_RANK[combined.result as ReapResult]) combined.result = report.result
    for (const [key, value] of Object.entries(report)) {
      if (typeof value !== 'number' || key === 'durationSeconds') continue
      const sofar = typeof combined[key] === 'number' ? combined[key] : 0
      combined[key] = key.startsWith('max') ? Math.max(sofar, value) : sofar + value
    }
  }
  return combined as unknown as ReapReport
}

const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0)
/** The values, or undefined when any is missing. */
function all<T> (values: ReadonlyArray<T | undefined>): T[] | undefined {
  const present = values.filter((value): value is T => value !== undefined)
  return present.length === values.length ? present : undefined
}

/**
 * Pure: the table as the groups' lease items describe it (undefined: a group never held). Figures are summed (lags:
 * the largest); they and the last success time (the oldest group's: every group succeeded since) are undefined until
 * every group has them. The strategy is the one of the group that ended a pass last; other fields are group 0's.
 */
export function combineTableStates (states: ReadonlyArray<LeaseState | undefined>): TableState {
  const { strategy: _first, ...base } = tableStateOf(states[0] ?? {})
  const tables = states.map((state) => tableStateOf(state ?? {}))
  const successes = all(tables.map((table) => table.lastSuccessAt))
  const sweeps = all(tables.map((table) => table.sweep))
  let latest: LeaseState | undefined
  for (const state of states) {
    if ((state?.lastReport?.finishedAt ?? -Infinity) > (latest?.lastReport?.finishedAt ?? -Infinity)) latest = state
  }
  const strategy = latest === undefined ? undefined : tableStateOf(latest).strategy
  return {
    ...base,
    lastSuccessAt: successes === undefined ? undefined : Math.min(...successes),
    sweep: sweeps === undefined
      ? undefined
      : {
          active: sum(sweeps.map((s) => s.active)),
          expiredFound: sum(sweeps.map((s) => s.expiredFound)),
          expiredBacklog: sum(sweeps.map((s) => s.expiredBacklog)),
          invalid: sum(sweeps.map((s) => s.invalid)),
          maxLagSeconds: Math.max(...sweeps.map((s) => s.maxLagSeconds)),
          completedAt: Math.min(...sweeps.map((s) => s.completedAt))
        },
    ...(strategy === undefined ? {} : { strategy })
  }
}

/** `observer` without its table-state calls: each group's pass would publish its own group's figures only. */
function withoutTableState (observer: ReaperObserver | undefined): ReaperObserver | undefined {
  if (observer === undefined) return undefined
  return new Proxy(observer, {
    get (target, name) {
      if (name === 'tableState') return () => {}
      const value: unknown = Reflect.get(target, name, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

/** `log` with the lease group in every line. */
function groupLog (log: ReaperLogger, group: number): ReaperLogger {
  const at = (level: keyof ReaperLogger) => (obj: object, msg: string): void => { log[level]({ ...obj, leaseGroup: group }, msg) }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/** What a pass over lease groups needs besides the pass's own collaborators. */
export interface GroupRun {
  /** This instance's memory of the holders of each group's lease. */
  readonly watch: (group: number) => LeaseWatch
  /** The group tried first. */
  readonly first: number
  readonly tick: number | undefined
  readonly signal: AbortSignal
}

/**
 * One pass over `deps.finder` split into `options.leases` groups (fewer when the finder has fewer streams): each group
 * in turn, from `run.first`, as a pass of its own that takes the group's lease or skips it; all of them within
 * maxPassMs. Then publishes the table state of every group's lease item, and resolves to the combined report.
 */
export async function runLeaseGroups (deps: PassDeps, run: GroupRun): Promise<ReapReport> {
  const groups = Math.max(1, Math.min(deps.options.leases, deps.finder.streams))
  if (groups === 1) return await new ReaperPass({ ...deps, watch: run.watch(0) }, run.signal).run(run.tick)
  const startedAt = deps.now()
  const observer = withoutTableState(deps.observer)
  const reports: ReapReport[] = []
  for (const group of groupOrder(run.first, groups)) {
    const left = deps.maxPassMs - (deps.now() - startedAt)
    if (run.signal.aborted || left <= 0) break
    const pass = new ReaperPass({
      ...deps,
      finder: groupFinder(deps.finder, group, groups),
      leaseId: leaseId(group),
      // The backfill and the census cover the whole table: group 0's pass runs them, once.
      backfill: group === 0 ? deps.backfill : undefined,
      coordinator: group === 0,
      watch: run.watch(group),
      maxPassMs: left,
      observer,
      log: groupLog(deps.log, group),
      ended: (report) => report
    }, run.signal)
    reports.push(await pass.run(run.tick))
  }
  const leaseReads = await publishTableState(deps, groups, run.signal)
  const report = combineReports(reports, Math.max(0, deps.now() - startedAt) / 1000)
  return deps.ended({ ...report, consumedReadUnits: report.consumedReadUnits + leaseReads })
}

/** Reads every group's lease item and publishes the table they describe; resolves to the read units it cost. */
async function publishTableState (deps: PassDeps, groups: number, signal: AbortSignal): Promise<number> {
  const calls = new ReaperCalls(deps.client, deps.observer, deps.budgets, signal)
  try {
    const leases = await Promise.all(Array.from({ length: groups }, async (_, group) => await readLease(calls, deps.shape, leaseId(group))))
    deps.observer?.tableState(combineTableStates(leases.map((lease) => lease?.state)))
  } catch (err) {
    if (!signal.aborted) deps.log.warn({ err: errorFields(err) }, 'reaper could not read the lease groups: table state not updated')
  }
  return calls.tally.read
}
