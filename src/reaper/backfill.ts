import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { UnitBudget, defaultSleep, type Sleep } from './budget.js'
import { ReaperCalls } from './calls.js'
import type { TableState } from './report.js'
import { ScanFinder } from './scan-finder.js'
import { newProgress, resumable, runStandaloneSweep, type SweepProgress } from './sweep.js'

/*
 * The backfill (index strategy): a scan sweep, beside the index passes and on its own read budget, that gives the
 * rows the expiry index cannot see (rows of older versions, of the tutorial's app, of other software) their bucket,
 * and deletes the expired rows it passes (tombstones included: they carry no bucket). Its cost follows the table's
 * size, so it stops once a complete sweep found nothing to fix and starts again `backfillIntervalSeconds` later. Its
 * last complete sweep gives the table figures the index cannot: rows still missing from it, and invalid rows.
 */

/** What the lease item keeps of the backfill. */
export interface BackfillState {
  /** The sweep in progress. */
  sweep?: SweepProgress
  /** Epoch seconds before which no new sweep starts (set when a complete sweep fixed nothing). */
  nextAt?: number
  /** The last complete sweep's figures. */
  figures?: NonNullable<TableState['backfill']>
}

/** The backfill's finder: a Scan that reads the shard and bucket too. */
export function backfillFinder (shape: TableShape, segments: number): ScanFinder {
  return new ScanFinder(shape, segments, true)
}

/** The sweep this pass runs: the saved one, or a new one when due; undefined when the backfill rests. */
export function backfillProgress (finder: ScanFinder, state: BackfillState | undefined, nowSec: number): SweepProgress | undefined {
  const saved = resumable(finder, state?.sweep)
  if (saved !== undefined) return saved
  if (state?.nextAt !== undefined && nowSec < state.nextAt) return undefined
  return newProgress(finder, nowSec)
}

/**
 * Pure: the state after a pass. A complete sweep records its figures and, when it fixed nothing, rests until
 * `intervalSeconds` later; one that fixed rows is followed by a new one at once (rows written meanwhile by an older
 * writer are caught by the next).
 */
export function nextBackfillState (
  previous: BackfillState | undefined,
  progress: SweepProgress | undefined,
  complete: boolean,
  endedAt: number,
  intervalSeconds: number
): BackfillState | undefined {
  if (progress === undefined) return previous
  if (!complete) return { ...previous, sweep: progress }
  const figures = { missing: progress.missing, invalid: progress.invalid, completedAt: endedAt }
  return progress.backfilled === 0 ? { figures, nextAt: endedAt + intervalSeconds } : { figures }
}

/** What `dynamo-session backfill` reports: one complete backfill sweep. */
export interface BackfillResult {
  readonly tableName: string
  /** Rows examined (the lease item excluded). */
  readonly scanned: number
  /** Live rows given their bucket. */
  readonly backfilled: number
  /** Live rows still missing from the index (throttled fixes), for a later run. */
  readonly missing: number
  readonly invalid: number
  /** Expired rows deleted on the way. */
  readonly deleted: number
  readonly consumedReadUnits: number
  readonly consumedWriteUnits: number
  readonly durationSeconds: number
}

export interface BackfillOptions {
  readonly segments: number
  readonly graceSeconds: number
  readonly maxReadUnitsPerSecond: number
  readonly maxWriteUnitsPerSecond: number
  readonly now: () => number
  readonly sleep?: Sleep
  readonly signal?: AbortSignal
}

/**
 * One complete backfill sweep of the table, within the budgets, outside the reaper's lease: every write is
 * conditional, so it can run beside reapers and applications.
 */
export async function runBackfill (client: DynamoDBClient, shape: TableShape, options: BackfillOptions): Promise<BackfillResult> {
  if (shape.expiryIndex === false) throw new TypeError('a backfill needs the expiry index options')
  const sleep = options.sleep ?? defaultSleep
  const budgets = {
    read: new UnitBudget(options.maxReadUnitsPerSecond, options.now, sleep),
    write: new UnitBudget(options.maxWriteUnitsPerSecond, options.now, sleep)
  }
  const signal = options.signal ?? new AbortController().signal
  const calls = new ReaperCalls(client, undefined, budgets, signal)
  const started = options.now()
  const finder = backfillFinder(shape, options.segments)
  const sweep = await runStandaloneSweep({
    shape, finder, calls, budgets, now: options.now, sleep, graceSeconds: options.graceSeconds, signal, backfill: true
  })
  const { scanned, backfilled, missing, invalid, deleted } = sweep.counts
  return {
    tableName: shape.tableName,
    scanned,
    backfilled,
    missing,
    invalid,
    deleted,
    consumedReadUnits: calls.tally.read,
    consumedWriteUnits: calls.tally.write,
    durationSeconds: (options.now() - started) / 1000
  }
}
