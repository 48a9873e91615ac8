import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb'
import {
  BUDGET_KINDS, LOAD_RESULTS, OPERATION_RESULTS, REAP_SKIP_REASONS, REAPER_OPERATIONS, REAPER_RESULTS, REAPER_STRATEGIES,
  STORE_OPERATIONS, TABLE_FIGURE_SOURCES, THROTTLE_REASON_LABELS, TRANSPORTS, billedUnits,
  type Component, type LoadResult, type OperationResult, type ReapSkipReason, type ReaperObserver, type ReaperOperation,
  type ReaperStrategy, type RequestObserver, type StoreOperation, type ThrottleReason, type Transport
} from './instrumentation.js'
import type { ReapReport, TableState } from './reaper/report.js'
import { MetricsConflictError } from './errors.js'

/**
 * Every metric name the library exports. Dashboards, alert rules and tests refer to these; a name that must change
 * stays exported, deprecated, for one more release.
 */
export const METRIC_NAMES = Object.freeze({
  activeSessions: 'dynamo_session_active_sessions',
  expiredFoundSessions: 'dynamo_session_expired_found_sessions',
  expiredBacklogSessions: 'dynamo_session_expired_backlog_sessions',
  /** Deprecated: the same value as `expiredFoundSessions`; removed in the next release. */
  expiredPendingSessions: 'dynamo_session_expired_pending_sessions',
  ttlLagSeconds: 'dynamo_session_ttl_lag_seconds',
  ttlLagMaxSeconds: 'dynamo_session_ttl_lag_max_seconds',
  reapedTotal: 'dynamo_session_reaped_total',
  reapSkippedTotal: 'dynamo_session_reap_skipped_total',
  invalidExpirySessions: 'dynamo_session_invalid_expiry_sessions',
  activeSessionsRelativeError: 'dynamo_session_active_sessions_relative_error',
  missingBucketSessions: 'dynamo_session_missing_bucket_sessions',
  tableFiguresTimestampSeconds: 'dynamo_session_table_figures_timestamp_seconds',
  reaperStrategy: 'dynamo_session_reaper_strategy',
  reaperBudgetUnitsPerSecond: 'dynamo_session_reaper_budget_units_per_second',
  reaperRunsTotal: 'dynamo_session_reaper_runs_total',
  reaperRunDurationSeconds: 'dynamo_session_reaper_run_duration_seconds',
  reaperLastSuccessTimestampSeconds: 'dynamo_session_reaper_last_success_timestamp_seconds',
  reaperIntervalSeconds: 'dynamo_session_reaper_interval_seconds',
  consumedCapacityUnitsTotal: 'dynamo_session_consumed_capacity_units_total',
  throttledRequestsTotal: 'dynamo_session_throttled_requests_total',
  storeOperationDurationSeconds: 'dynamo_session_store_operation_duration_seconds',
  loadsTotal: 'dynamo_session_loads_total',
  createdTotal: 'dynamo_session_created_total',
  destroyedTotal: 'dynamo_session_destroyed_total',
  ownerRevocationsTotal: 'dynamo_session_owner_revocations_total',
  clockSkewSeconds: 'dynamo_session_clock_skew_seconds',
  transport: 'dynamo_session_transport'
} as const)

export type MetricName = typeof METRIC_NAMES[keyof typeof METRIC_NAMES]

/** How long past its expiry a row still existed: one second to a week (DynamoDB's TTL takes up to days). */
export const TTL_LAG_BUCKETS = [1, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200, 432000, 604800]
export const RUN_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
export const STORE_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export interface Instruments {
  readonly activeSessions: Gauge
  readonly expiredFoundSessions: Gauge
  readonly expiredBacklogSessions: Gauge
  /** Deprecated: use `expiredFoundSessions` (same value) or `expiredBacklogSessions`. */
  readonly expiredPendingSessions: Gauge
  readonly ttlLagSeconds: Histogram
  readonly ttlLagMaxSeconds: Gauge
  readonly reapedTotal: Counter
  readonly reapSkippedTotal: Counter<'reason'>
  readonly invalidExpirySessions: Gauge
  readonly activeSessionsRelativeError: Gauge
  readonly missingBucketSessions: Gauge
  readonly tableFiguresTimestampSeconds: Gauge<'source'>
  readonly reaperStrategy: Gauge<'strategy'>
  readonly reaperBudgetUnitsPerSecond: Gauge<'kind'>
  readonly reaperRunsTotal: Counter<'result'>
  readonly reaperRunDurationSeconds: Histogram
  readonly reaperLastSuccessTimestampSeconds: Gauge
  readonly reaperIntervalSeconds: Gauge
  readonly consumedCapacityUnitsTotal: Counter<'operation' | 'component'>
  readonly throttledRequestsTotal: Counter<'component' | 'operation' | 'reason'>
  readonly storeOperationDurationSeconds: Histogram<'operation' | 'result'>
  readonly loadsTotal: Counter<'result'>
  readonly createdTotal: Counter
  readonly destroyedTotal: Counter
  readonly ownerRevocationsTotal: Counter
  readonly clockSkewSeconds: Gauge
  readonly transport: Gauge<'transport'>
}

/** The plugin's metrics: the observer contract of instrumentation.ts (both parts), over one Registry. */
export interface SessionMetrics extends RequestObserver, ReaperObserver {
  readonly registry: Registry
  readonly instruments: Instruments
  /**
   * Reads DynamoDB's clock minus ours, in milliseconds, at each scrape (see `clockOffsetMs` of client.ts).
   * Without it the clock-skew gauge stays 0.
   */
  watchClockSkew (readOffsetMs: () => number): void
}

/**
 * Registers the library's metrics on `registry` (never prom-client's global one) and returns them. Throws
 * FST_DYNAMO_SESSION_METRICS_CONFLICT when the registry already holds one of the names.
 */
export function createMetrics (registry: Registry): SessionMetrics {
  for (const name of Object.values(METRIC_NAMES)) {
    if (registry.getSingleMetric(name) !== undefined) throw new MetricsConflictError(name)
  }
  let readClockOffsetMs = (): number => 0
  const instruments = registerInstruments(registry, () => readClockOffsetMs())
  zeroKnownLabels(instruments)
  return {
    registry,
    instruments,
    watchClockSkew (readOffsetMs: () => number) {
      readClockOffsetMs = readOffsetMs
    },
    ...requestObserver(instruments),
    ...reaperObserver(instruments)
  }
}

/** Every instrument, registered on `registry` only. */
function registerInstruments (registry: Registry, readClockOffsetMs: () => number): Instruments {
  const registers = [registry]
  return {
    ...registerSweepInstruments(registers),
    ...registerTableSourceInstruments(registers),
    ...registerPassInstruments(registers),
    ...registerRequestInstruments(registers, readClockOffsetMs)
  }
}

/** What the last complete reaper sweep found. */
function registerSweepInstruments (registers: Registry[]) {
  const N = METRIC_NAMES
  return {
    activeSessions: new Gauge({
      name: N.activeSessions,
      help: 'Live session rows seen by the last complete reaper sweep (any instance)',
      registers
    }),
    expiredFoundSessions: new Gauge({
      name: N.expiredFoundSessions,
      help: 'Rows past expiry (and grace) the last complete reaper sweep found',
      registers
    }),
    expiredBacklogSessions: new Gauge({
      name: N.expiredBacklogSessions,
      help: 'Expired rows the last complete reaper sweep found and left in the table' +
        ' (found, minus deleted, minus found refreshed or gone)',
      registers
    }),
    expiredPendingSessions: new Gauge({
      name: N.expiredPendingSessions,
      help: `Deprecated, removed in the next release: use ${N.expiredFoundSessions} (same value) or ${N.expiredBacklogSessions}`,
      registers
    }),
    ttlLagSeconds: new Histogram({
      name: N.ttlLagSeconds,
      help: 'For each expired row the reaper found, how long past its expiry it still existed' +
        ' (observed once, when deleted or found refreshed or gone)',
      buckets: TTL_LAG_BUCKETS,
      registers
    }),
    ttlLagMaxSeconds: new Gauge({
      name: N.ttlLagMaxSeconds,
      help: 'Longest time past expiry of a row found by the last complete reaper sweep',
      registers
    }),
    invalidExpirySessions: new Gauge({
      name: N.invalidExpirySessions,
      help: 'Rows whose expiry is missing or not a number (never deleted by TTL nor the reaper), as of the last complete sweep',
      registers
    })
  }
}

/** How current and how exact the table figures are, and what the index cannot see. */
function registerTableSourceInstruments (registers: Registry[]) {
  const N = METRIC_NAMES
  return {
    activeSessionsRelativeError: new Gauge({
      name: N.activeSessionsRelativeError,
      help: `Relative standard error of ${N.activeSessions} when it is an estimate (index mode); 0 when counted by a sweep`,
      registers
    }),
    missingBucketSessions: new Gauge({
      name: N.missingBucketSessions,
      help: 'Rows without the expiry bucket attribute (invisible to the expiry index), as of the backfill\'s last complete scan',
      registers
    }),
    tableFiguresTimestampSeconds: new Gauge({
      name: N.tableFiguresTimestampSeconds,
      help: 'Unix time the table figures were last made, by source (sweep: a complete sweep; estimate: the index mode' +
        ' estimate of live rows; backfill: the backfill\'s last complete scan); 0 before the first',
      labelNames: ['source'],
      registers
    }),
    reaperStrategy: new Gauge({
      name: N.reaperStrategy,
      help: 'How the reaper finds expired rows: 1 for the strategy in use (index: the expiry index; scan: the table), 0 for the other',
      labelNames: ['strategy'],
      registers
    }),
    reaperBudgetUnitsPerSecond: new Gauge({
      name: N.reaperBudgetUnitsPerSecond,
      help: 'Capacity units per second this instance\'s reaper may consume, by kind (read, write); 0 without a reaper',
      labelNames: ['kind'],
      registers
    })
  }
}

/** This instance's reaper: rows deleted or skipped, passes, durations, schedule, capacity and throttling. */
function registerPassInstruments (registers: Registry[]) {
  const N = METRIC_NAMES
  return {
    reapedTotal: new Counter({ name: N.reapedTotal, help: 'Expired session rows deleted by this instance\'s reaper', registers }),
    reapSkippedTotal: new Counter({
      name: N.reapSkippedTotal,
      help: 'Expired rows this instance\'s reaper did not delete, by reason' +
        ' (conflict: refreshed or already gone; error: the delete failed)',
      labelNames: ['reason'],
      registers
    }),
    reaperRunsTotal: new Counter({
      name: N.reaperRunsTotal,
      help: 'Reaper passes started by this instance, by result',
      labelNames: ['result'],
      registers
    }),
    reaperRunDurationSeconds: new Histogram({
      name: N.reaperRunDurationSeconds,
      help: 'Duration of reaper passes that ran (success or failure)',
      buckets: RUN_DURATION_BUCKETS,
      registers
    }),
    reaperLastSuccessTimestampSeconds: new Gauge({
      name: N.reaperLastSuccessTimestampSeconds,
      help: 'Unix time of the last successful reaper pass by any instance, passes cut short by shutdown excluded (0 before the first)',
      registers
    }),
    reaperIntervalSeconds: new Gauge({
      name: N.reaperIntervalSeconds,
      help: 'Seconds between scheduled reaper passes (0 when not scheduled)',
      registers
    }),
    consumedCapacityUnitsTotal: new Counter({
      name: N.consumedCapacityUnitsTotal,
      help: 'DynamoDB capacity units consumed by this instance, by operation and component (failed conditional writes count 1)',
      labelNames: ['operation', 'component'],
      registers
    }),
    throttledRequestsTotal: new Counter({
      name: N.throttledRequestsTotal,
      help: 'Throttled DynamoDB call attempts (each SDK retry counts), by component, operation and the exception\'s' +
        ' first ThrottlingReasons entry (other: a reason not listed; unknown: none given)',
      labelNames: ['component', 'operation', 'reason'],
      registers
    })
  }
}

/** The request path: DynamoDB call durations, loads, sessions created and destroyed, clock skew. */
function registerRequestInstruments (registers: Registry[], readClockOffsetMs: () => number) {
  const N = METRIC_NAMES
  return {
    storeOperationDurationSeconds: new Histogram({
      name: N.storeOperationDurationSeconds,
      help: 'Request-path DynamoDB call duration, retries included, by operation and result',
      labelNames: ['operation', 'result'],
      buckets: STORE_DURATION_BUCKETS,
      registers
    }),
    loadsTotal: new Counter({
      name: N.loadsTotal,
      help: 'Session loads by result' +
        ' (expired: the row was still there past its expiry; superseded: the id was replaced by a login moments ago)',
      labelNames: ['result'],
      registers
    }),
    createdTotal: new Counter({ name: N.createdTotal, help: 'Sessions created', registers }),
    destroyedTotal: new Counter({ name: N.destroyedTotal, help: 'Sessions destroyed (destroy() or regenerate())', registers }),
    ownerRevocationsTotal: new Counter({
      name: N.ownerRevocationsTotal,
      help: 'Sessions deleted by owner revocation (destroyByOwner, destroyOthers)',
      registers
    }),
    clockSkewSeconds: new Gauge({
      name: N.clockSkewSeconds,
      help: 'DynamoDB\'s clock minus this instance\'s, from the Date header of the last DynamoDB response' +
        ' (1 s resolution: -1 to 0 is in sync)',
      registers,
      collect () { this.set(readClockOffsetMs() / 1000) }
    }),
    transport: new Gauge({
      name: N.transport,
      help: 'How the library sends its DynamoDB calls: 1 for the transport in use (fast: its own SigV4 pipeline;' +
        ' sdk: the AWS SDK\'s client.send()), 0 for the other',
      labelNames: ['transport'],
      registers
    })
  }
}

/** Every known label combination, at 0 from the first scrape. */
function zeroKnownLabels (i: Instruments): void {
  for (const reason of REAP_SKIP_REASONS) i.reapSkippedTotal.inc({ reason }, 0)
  for (const result of REAPER_RESULTS) i.reaperRunsTotal.inc({ result }, 0)
  for (const operation of STORE_OPERATIONS) i.consumedCapacityUnitsTotal.inc({ operation, component: 'request' }, 0)
  for (const operation of REAPER_OPERATIONS) i.consumedCapacityUnitsTotal.inc({ operation, component: 'reaper' }, 0)
  for (const reason of THROTTLE_REASON_LABELS) {
    for (const operation of STORE_OPERATIONS) i.throttledRequestsTotal.inc({ component: 'request', operation, reason }, 0)
    for (const operation of REAPER_OPERATIONS) i.throttledRequestsTotal.inc({ component: 'reaper', operation, reason }, 0)
  }
  for (const strategy of REAPER_STRATEGIES) i.reaperStrategy.set({ strategy }, 0)
  for (const transport of TRANSPORTS) i.transport.set({ transport }, 0)
  for (const kind of BUDGET_KINDS) i.reaperBudgetUnitsPerSecond.set({ kind }, 0)
  for (const source of TABLE_FIGURE_SOURCES) i.tableFiguresTimestampSeconds.set({ source }, 0)
  for (const operation of STORE_OPERATIONS) {
    for (const result of OPERATION_RESULTS) i.storeOperationDurationSeconds.zero({ operation, result })
  }
  for (const result of LOAD_RESULTS) i.loadsTotal.inc({ result }, 0)
}

function capacity (i: Instruments, operation: StoreOperation | ReaperOperation, component: Component, units: number): void {
  if (units > 0) i.consumedCapacityUnitsTotal.inc({ operation, component }, units)
}

/** The request path's part of the contract. */
function requestObserver (i: Instruments): RequestObserver {
  return {
    load (result: LoadResult) {
      i.loadsTotal.inc({ result })
    },
    created () {
      i.createdTotal.inc()
    },
    destroyed () {
      i.destroyedTotal.inc()
    },
    operation (operation: StoreOperation, result: OperationResult, seconds: number, consumed: ConsumedCapacity | undefined) {
      i.storeOperationDurationSeconds.observe({ operation, result }, seconds)
      capacity(i, operation, 'request', billedUnits(consumed, result, operation))
    },
    requestThrottled (operation: StoreOperation, reason: ThrottleReason) {
      i.throttledRequestsTotal.inc({ component: 'request', operation, reason })
    },
    transport (transport: Transport) {
      for (const known of TRANSPORTS) i.transport.set({ transport: known }, known === transport ? 1 : 0)
    },
    ownerRevoked (count: number) {
      i.ownerRevocationsTotal.inc(count)
    }
  }
}

/** The reaper's part of the contract. */
function reaperObserver (i: Instruments): ReaperObserver {
  return {
    passEnded (report: ReapReport) {
      i.reaperRunsTotal.inc({ result: report.result })
      if (report.result !== 'skipped') i.reaperRunDurationSeconds.observe(report.durationSeconds)
    },
    tableState (state: TableState) {
      showTableState(i, state)
    },
    consumed (operation: ReaperOperation, units: number) {
      capacity(i, operation, 'reaper', units)
    },
    throttled (operation: ReaperOperation, reason: ThrottleReason) {
      i.throttledRequestsTotal.inc({ component: 'reaper', operation, reason })
    },
    reaped () {
      i.reapedTotal.inc()
    },
    ttlLag (lagSeconds: number) {
      i.ttlLagSeconds.observe(lagSeconds)
    },
    skipped (reason: ReapSkipReason) {
      i.reapSkippedTotal.inc({ reason })
    },
    interval (seconds: number) {
      i.reaperIntervalSeconds.set(seconds)
    },
    strategy (strategy: ReaperStrategy) {
      for (const known of REAPER_STRATEGIES) i.reaperStrategy.set({ strategy: known }, known === strategy ? 1 : 0)
    },
    budgets (readUnitsPerSecond: number, writeUnitsPerSecond: number) {
      i.reaperBudgetUnitsPerSecond.set({ kind: 'read' }, readUnitsPerSecond)
      i.reaperBudgetUnitsPerSecond.set({ kind: 'write' }, writeUnitsPerSecond)
    }
  }
}

/**
 * The table gauges from the lease item's state: live and expired rows from the last sweep (in index mode the live
 * count is the estimate, with its error), invalid rows and rows missing the bucket from the backfill's scan when
 * there is one, and when each figure was made. A figure not in `state` keeps its last value.
 */
function showTableState (i: Instruments, state: TableState): void {
  if (state.lastSuccessAt !== undefined) i.reaperLastSuccessTimestampSeconds.set(state.lastSuccessAt)
  const { sweep, activeEstimate, backfill } = state
  if (sweep !== undefined) {
    i.activeSessions.set(sweep.active)
    i.expiredFoundSessions.set(sweep.expiredFound)
    i.expiredBacklogSessions.set(sweep.expiredBacklog)
    i.expiredPendingSessions.set(sweep.expiredFound)
    i.invalidExpirySessions.set(sweep.invalid)
    i.ttlLagMaxSeconds.set(sweep.maxLagSeconds)
    i.activeSessionsRelativeError.set(activeEstimate?.relativeError ?? 0)
    i.tableFiguresTimestampSeconds.set({ source: 'sweep' }, sweep.completedAt)
  }
  if (activeEstimate !== undefined) i.tableFiguresTimestampSeconds.set({ source: 'estimate' }, activeEstimate.completedAt)
  if (backfill !== undefined) {
    i.missingBucketSessions.set(backfill.missing)
    i.invalidExpirySessions.set(backfill.invalid)
    i.tableFiguresTimestampSeconds.set({ source: 'backfill' }, backfill.completedAt)
  }
}
