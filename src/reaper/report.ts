/** How a pass ended: `skipped` when another pass (in this process or any instance) holds the lease or ran this tick. */
export const REAPER_RESULTS = ['success', 'failure', 'skipped'] as const
export type ReapResult = typeof REAPER_RESULTS[number]

/** How a pass found expired rows: by querying the expiry index, or by scanning the table. */
export const REAPER_STRATEGIES = ['index', 'scan'] as const
export type ReaperStrategy = typeof REAPER_STRATEGIES[number]

/** What `runOnce()` resolves to. Counts cover the rows this pass examined. */
export interface ReapReport {
  readonly result: ReapResult
  /** The finder the pass used; `none` when no pass ran (skipped, or failed before choosing). */
  readonly strategy: ReaperStrategy | 'none'
  /** Rows examined (the lease item excluded): active + expired + invalid + rows past expiry within the grace. */
  readonly scanned: number
  /** Live rows: expiry at or after now. */
  readonly active: number
  /** Rows due for deletion: `deleted + conflicts + failed deletes`. */
  readonly expired: number
  readonly deleted: number
  /** Conditional deletes that found the row refreshed or already gone: not errors. */
  readonly conflicts: number
  /**
   * Index entries found with a stale bucket (a writer extended the row's expiry without moving it) and re-bucketed
   * from the row's expiry (index strategy; 0 otherwise).
   */
  readonly repaired: number
  /** Rows the backfill (index strategy) gave their bucket in this pass. */
  readonly backfilled: number
  /** Rows whose expiry is missing or not a number: left alone, as DynamoDB's TTL leaves them. */
  readonly invalid: number
  /** The longest time an expired row had been past its expiry (grace included) when found, in seconds (0 when none). */
  readonly maxLagSeconds: number
  readonly consumedReadUnits: number
  readonly consumedWriteUnits: number
  /** What the backfill's scan and writes cost in this pass, apart from the figures above. */
  readonly backfillReadUnits: number
  readonly backfillWriteUnits: number
  /** What the census of live sessions (index strategy, every 5 minutes) read in this pass, apart too. */
  readonly censusReadUnits: number
  readonly durationSeconds: number
}

/**
 * The table as described by the last complete sweep by any instance, kept in the lease item so that every instance
 * can show it (an instance that lost the lease shows the leader's figures).
 */
export interface TableState {
  /** Epoch seconds of the last successful pass by any instance; undefined before the first. */
  readonly lastSuccessAt: number | undefined
  /** Figures of the last complete sweep; undefined until one has completed. */
  readonly sweep: {
    readonly active: number
    /** Expired rows (past expiry and grace) the sweep found. */
    readonly expiredFound: number
    /** Of those, rows still in the table after it: found − deleted − found refreshed or gone (conflicts). */
    readonly expiredBacklog: number
    readonly invalid: number
    readonly maxLagSeconds: number
    /** Epoch seconds when that sweep completed. */
    readonly completedAt: number
  } | undefined
  /**
   * In index mode `sweep.active` is an estimate (see docs/reaper.md#table-gauges-in-index-mode): its relative standard
   * error and when it was made. Undefined when `active` was counted by a scan.
   */
  readonly activeEstimate?: { readonly relativeError: number, readonly completedAt: number } | undefined
  /**
   * From the backfill's last complete scan (index mode): rows missing the bucket attribute (invisible to the index)
   * and rows without a numeric expiry, and when that scan completed.
   */
  readonly backfill?: { readonly missing: number, readonly invalid: number, readonly completedAt: number } | undefined
  /** The strategy the reaper used last. */
  readonly strategy?: ReaperStrategy | undefined
}

export function emptyReport (result: ReapResult, durationSeconds = 0, strategy: ReaperStrategy | 'none' = 'none'): ReapReport {
  return {
    result,
    strategy,
    scanned: 0,
    active: 0,
    expired: 0,
    deleted: 0,
    conflicts: 0,
    repaired: 0,
    backfilled: 0,
    invalid: 0,
    maxLagSeconds: 0,
    consumedReadUnits: 0,
    consumedWriteUnits: 0,
    backfillReadUnits: 0,
    backfillWriteUnits: 0,
    censusReadUnits: 0,
    durationSeconds
  }
}
