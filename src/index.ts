export { dynamoSession, dynamoSession as default } from './plugin.js'
export type { Instrumentation, LoadResult } from './hooks.js'
export { Session } from './session.js'
export type { SessionData, SessionKey, SessionValue } from './session.js'
export type { DynamoSessionOptions, SessionCookieOptions, ConsistentRead, OnStoreError, SameSite, ReaperOptions, MetricsOptions } from './options.js'
export {
  DEFAULT_TABLE_NAME, DEFAULT_ID_ATTRIBUTE, DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_DATA_ATTRIBUTE, DEFAULT_CREATED_ATTRIBUTE,
  DEFAULT_TOUCHED_ATTRIBUTE, DEFAULT_TTL_SECONDS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_MAX_ATTEMPTS
} from './options.js'
export { DEFAULT_TOMBSTONE_SECONDS } from './options.js'
export type { SessionStoreApi, SessionSnapshot } from './store/dynamo-store.js'
export type { JsonValue } from './store/item.js'
export { ensureSessionTable } from './store/table.js'
export type { EnsureTableOptions, EnsureTableResult, TtlState, Billing } from './store/table.js'
export * from './errors.js'
export {
  DEFAULT_REAPER_SCHEDULE, DEFAULT_REAPER_SEGMENTS, DEFAULT_REAPER_GRACE_SECONDS, DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND,
  DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND, DEFAULT_REAPER_LEASE_SECONDS, DEFAULT_METRICS_ROUTE, DEFAULT_METRICS_HOST
} from './options.js'
export { createMetrics, METRIC_NAMES, TTL_LAG_BUCKETS, RUN_DURATION_BUCKETS, STORE_DURATION_BUCKETS } from './metrics.js'
export type { SessionMetrics, Instruments, MetricName } from './metrics.js'
export type { SessionReaper } from './reaper/reaper.js'
export type { ReapReport, ReapResult } from './reaper/report.js'
export { LEASE_ID, LEASE_ATTRIBUTES } from './reaper/lease.js'
