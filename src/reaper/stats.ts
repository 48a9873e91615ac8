import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { UnitBudget, defaultSleep, type Sleep } from './budget.js'
import { ReaperCalls } from './calls.js'
import { readLease } from './lease.js'
import type { LeaseState } from './lease-state.js'
import type { ReapReport } from './report.js'
import { ScanFinder } from './scan-finder.js'
import { runStandaloneSweep } from './sweep.js'

/** What `dynamo-session stats` reports: a count of the table, without deleting, and the reaper's lease item. */
export interface ReaperStats {
  readonly tableName: string
  readonly scanned: number
  readonly active: number
  readonly expired: number
  readonly invalid: number
  readonly maxLagSeconds: number
  readonly consumedReadUnits: number
  readonly durationSeconds: number
  readonly lease: {
    /** The holder, or the last one once released. */
    readonly owner: string | undefined
    /** Epoch ms until which it is held; undefined when free. */
    readonly heldUntil: number | undefined
    /** Epoch ms of the last scheduled tick a pass started for. */
    readonly lastTick: number | undefined
    readonly lastSuccessAt: number | undefined
    readonly lastReport: (ReapReport & { finishedAt: number }) | undefined
    /** A sweep spread over several passes, not finished yet. */
    readonly sweep: { readonly streamsDone: number, readonly streams: number, readonly startedAt: number } | undefined
  } | undefined
}

export interface StatsOptions {
  readonly segments: number
  readonly graceSeconds: number
  readonly maxReadUnitsPerSecond: number
  readonly now: () => number
  readonly sleep?: Sleep
}

function leaseView (
  owner: string | undefined,
  untilMs: number,
  tickMs: number | undefined,
  state: LeaseState,
  nowMs: number
): NonNullable<ReaperStats['lease']> {
  const sweep = state.sweep
  return {
    owner,
    heldUntil: untilMs > nowMs ? untilMs : undefined,
    lastTick: tickMs,
    lastSuccessAt: state.lastSuccessAt,
    lastReport: state.lastReport,
    sweep: sweep === undefined
      ? undefined
      : { streamsDone: sweep.cursors.filter((cursor) => cursor.done).length, streams: sweep.streams, startedAt: sweep.startedAt }
  }
}

/** Counts the table's rows as the reaper classifies them (one full Scan within the read budget) and reads the lease. */
export async function collectStats (client: DynamoDBClient, shape: TableShape, options: StatsOptions): Promise<ReaperStats> {
  const sleep = options.sleep ?? defaultSleep
  // No write budget: the sweep only counts.
  const budgets = { read: new UnitBudget(options.maxReadUnitsPerSecond, options.now, sleep) }
  const calls = new ReaperCalls(client, undefined, budgets)
  const started = options.now()
  const finder = new ScanFinder(shape, options.segments)
  const sweep = await runStandaloneSweep({ shape, finder, calls, budgets, now: options.now, sleep, graceSeconds: options.graceSeconds })
  const lease = await readLease(calls, shape)
  const counts = sweep.counts
  return {
    tableName: shape.tableName,
    scanned: counts.scanned,
    active: counts.active,
    expired: counts.expired,
    invalid: counts.invalid,
    maxLagSeconds: counts.maxLagSeconds,
    consumedReadUnits: calls.tally.read,
    durationSeconds: (options.now() - started) / 1000,
    lease: lease === undefined ? undefined : leaseView(lease.owner, lease.untilMs, lease.tickMs, lease.state, options.now())
  }
}
