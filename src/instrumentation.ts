import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb'
import {
  REAPER_RESULTS, REAPER_STRATEGIES, type ReapReport, type ReapResult, type ReaperStrategy, type TableState
} from './reaper/report.js'

/**
 * What the library reports for metrics: every label value (each array derives its union, and every combination is
 * exported from the first scrape, at 0), the observer contract in two parts (the request path's and the reaper's)
 * and how a call's capacity is billed. metrics.ts implements the contract over a prom-client Registry; the CLI's
 * `reap` prints through the reaper's part.
 */

/** Load outcomes, as counted by `dynamo_session_loads_total{result}`. */
export const LOAD_RESULTS = ['found', 'not_found', 'expired', 'invalid_cookie', 'superseded'] as const
export type LoadResult = typeof LOAD_RESULTS[number]

/** DynamoDB operations the request path sends (Query and BatchGetItem: the owner methods, sessions-of-a-user.md). */
export const STORE_OPERATIONS = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'BatchGetItem'] as const
export type StoreOperation = typeof STORE_OPERATIONS[number]

/** How a DynamoDB call ended: `conflict` is a failed condition (the row changed meanwhile), not an error. */
export const OPERATION_RESULTS = ['success', 'conflict', 'error'] as const
export type OperationResult = typeof OPERATION_RESULTS[number]

/** DynamoDB operations the reaper sends. */
export const REAPER_OPERATIONS = ['Scan', 'Query', 'DeleteItem', 'GetItem', 'UpdateItem'] as const
export type ReaperOperation = typeof REAPER_OPERATIONS[number]

/** How a reaper pass ended: the array lives beside `ReapReport` (reaper/report.ts), whose `result` it types. */
export { REAPER_RESULTS, type ReapResult }

/** Why an expired row was not deleted. */
export const REAP_SKIP_REASONS = ['conflict', 'error'] as const
export type ReapSkipReason = typeof REAP_SKIP_REASONS[number]

/** Who spent the capacity: `dynamo_session_consumed_capacity_units_total{component}`. */
export const COMPONENTS = ['request', 'reaper'] as const
export type Component = typeof COMPONENTS[number]

/** How the reaper finds expired rows: the array lives beside `ReapReport.strategy` (reaper/report.ts). */
export { REAPER_STRATEGIES, type ReaperStrategy }

/** How the library sends its DynamoDB calls: `dynamo_session_transport{transport}` (see the `transport` option). */
export const TRANSPORTS = ['fast', 'sdk'] as const
export type Transport = typeof TRANSPORTS[number]

/** The reaper's capacity budgets: `dynamo_session_reaper_budget_units_per_second{kind}`. */
export const BUDGET_KINDS = ['read', 'write'] as const
export type BudgetKind = typeof BUDGET_KINDS[number]

/** Where the table figures come from: `dynamo_session_table_figures_timestamp_seconds{source}`. */
export const TABLE_FIGURE_SOURCES = ['sweep', 'estimate', 'backfill'] as const
export type TableFigureSource = typeof TABLE_FIGURE_SOURCES[number]

/**
 * Why DynamoDB throttled a call, from the exception's `ThrottlingReasons` (`ResourceType + OperationType +
 * LimitType`, e.g. `IndexWriteKeyRangeThroughputExceeded`: the expiry index's back-pressure on the table's writes).
 */
export const THROTTLE_REASONS = (['Table', 'Index'] as const).flatMap((resource) =>
  (['Read', 'Write'] as const).flatMap((access) =>
    (['ProvisionedThroughputExceeded', 'AccountLimitExceeded', 'KeyRangeThroughputExceeded', 'MaxOnDemandThroughputExceeded'] as const)
      .map((limit) => `${resource}${access}${limit}` as const)))
/** A documented reason, `other` for a reason this version does not know, `unknown` when the exception carries none. */
export type ThrottleReason = typeof THROTTLE_REASONS[number] | 'other' | 'unknown'
/** Every label value of `dynamo_session_throttled_requests_total{reason}`. */
export const THROTTLE_REASON_LABELS: readonly ThrottleReason[] = [...THROTTLE_REASONS, 'other', 'unknown']

const KNOWN_THROTTLE_REASONS: ReadonlySet<string> = new Set(THROTTLE_REASONS)

/**
 * The label of a throttling exception: its first reason (one attempt counts once, so sums by operation still count
 * attempts). `ThrottlingException` spells the field `throttlingReasons`, the other throttling exceptions
 * `ThrottlingReasons`.
 */
export function throttleReasonOf (err: unknown): ThrottleReason {
  const e = err as { ThrottlingReasons?: unknown, throttlingReasons?: unknown } | null
  const reasons = e?.ThrottlingReasons ?? e?.throttlingReasons
  const first = Array.isArray(reasons) ? (reasons[0] as { reason?: unknown } | undefined)?.reason : undefined
  if (typeof first !== 'string' || first === '') return 'unknown'
  return KNOWN_THROTTLE_REASONS.has(first) ? first as ThrottleReason : 'other'
}

const READ_OPERATIONS: ReadonlySet<StoreOperation | ReaperOperation> = new Set(['GetItem', 'Scan', 'Query', 'BatchGetItem'])

/** True for the operations DynamoDB bills in read units. */
export function isRead (operation: StoreOperation | ReaperOperation): boolean {
  return READ_OPERATIONS.has(operation)
}

/**
 * The capacity units one call cost: what DynamoDB reported (`ReturnConsumedCapacity`), or, for a failed conditional
 * write, which is billed but not reported, the minimum: one unit. A call that failed otherwise costs nothing known.
 */
export function billedUnits (
  consumed: ConsumedCapacity | undefined,
  result: OperationResult,
  operation: StoreOperation | ReaperOperation
): number {
  return consumed?.CapacityUnits ?? (result === 'conflict' && !isRead(operation) ? 1 : 0)
}

/** What the request path reports. Must not throw. */
export interface RequestObserver {
  /** A session was loaded (or not) at the start of a request. */
  load (result: LoadResult): void
  /** A session row was created (a new session, or regenerate()'s new id). */
  created (): void
  /** A session ended by destroy() or regenerate(). */
  destroyed (): void
  /** A request-path DynamoDB call ended, after `seconds` (the SDK's retries included). */
  operation (operation: StoreOperation, result: OperationResult, seconds: number, consumed: ConsumedCapacity | undefined): void
  /** A request-path call attempt was throttled (each SDK retry counts), with the exception's first reason. */
  requestThrottled (operation: StoreOperation, reason: ThrottleReason): void
  /** The transport the store's and the reaper's calls go through (at registration). */
  transport (transport: Transport): void
  /** `count` sessions were deleted by an owner revocation (`destroyByOwner`, `destroyOthers`). */
  ownerRevoked (count: number): void
}

/** What the reaper reports. Must not throw. */
export interface ReaperObserver {
  /** A pass ended, whatever its result. */
  passEnded (report: ReapReport): void
  /** The table's figures as last recorded in the lease item. */
  tableState (state: TableState): void
  /** Capacity units one reaper call consumed. */
  consumed (operation: ReaperOperation, units: number): void
  /** A reaper call attempt was throttled (each SDK retry counts), with the exception's first reason. */
  throttled (operation: ReaperOperation, reason: ThrottleReason): void
  /** An expired row was deleted. */
  reaped (): void
  /**
   * An expired row the pass settled (deleted, or found refreshed or gone at delete time) had existed `lagSeconds`
   * past its expiry when found. Each row once: a row whose delete failed is observed by the pass that settles it.
   */
  ttlLag (lagSeconds: number): void
  /** An expired row was not deleted. */
  skipped (reason: ReapSkipReason): void
  /** The schedule's period in seconds (0 when not scheduled). */
  interval (seconds: number): void
  /** The finder the reaper uses from now on (at start, and whenever it changes). */
  strategy (strategy: ReaperStrategy): void
  /** The reaper's capacity budgets in units per second, as configured (at start). */
  budgets (readUnitsPerSecond: number, writeUnitsPerSecond: number): void
}
