/** How a pass ended: `skipped` when another pass (in this process or any instance) holds the lease or ran this tick. */
export const REAPER_RESULTS = ['success', 'failure', 'skipped'] as const
export type ReapResult = typeof REAPER_RESULTS[number]

/** What `runOnce()` resolves to. Counts cover the rows this pass examined. */
export interface ReapReport {
  readonly result: ReapResult
  /** Rows examined (the lease item excluded): active + expired + invalid + rows past expiry within the grace. */
  readonly scanned: number
  /** Live rows: expiry at or after now. */
  readonly active: number
  /** Rows due for deletion: `deleted + conflicts + failed deletes`. */
  readonly expired: number
  readonly deleted: number
  /** Conditional deletes that found the row refreshed or already gone: not errors. */
  readonly conflicts: number
  /** Rows whose expiry is missing or not a number: left alone, as DynamoDB's TTL leaves them. */
  readonly invalid: number
  /** The longest time an expired row had been past its expiry (grace included) when found, in seconds (0 when none). */
  readonly maxLagSeconds: number
  readonly consumedReadUnits: number
  readonly consumedWriteUnits: number
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
}

export function emptyReport (result: ReapResult, durationSeconds = 0): ReapReport {
  return {
    result,
    scanned: 0,
    active: 0,
    expired: 0,
    deleted: 0,
    conflicts: 0,
    invalid: 0,
    maxLagSeconds: 0,
    consumedReadUnits: 0,
    consumedWriteUnits: 0,
    durationSeconds
  }
}
