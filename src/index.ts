// The public API: exactly the names in docs/api.md (test/api.test.ts holds the two together). Everything else in src/
// is internal and may change in any release.
export { dynamoSession, dynamoSession as default } from './plugin.js'
export type { Session, SessionData, SessionKey, SessionValue } from './session.js'
export type { JsonValue } from './store/json.js'
export type {
  DynamoSessionOptions, SessionCookieOptions, ExpiryIndexOptions, OwnerIndexOptions, ReaperOptions, MetricsOptions, ConsistentRead,
  OnStoreError, SameSite
} from './options.js'
export type { SessionStoreApi, SessionSnapshot } from './store/dynamo-store.js'
export type { OwnedSession, ListByOwnerOptions, DestroyByOwnerOptions, OwnerRevocation } from './store/owner-directory.js'
export type { SessionReaper } from './reaper/reaper.js'
export type { ReapReport, ReapResult } from './reaper/report.js'
export { ensureSessionTable } from './store/table.js'
export type { EnsureTableOptions, EnsureTableResult, TtlState, Billing, IndexSetup } from './store/table.js'
export { createMetrics, METRIC_NAMES } from './metrics.js'
export type { MetricName } from './metrics.js'
export * from './errors.js'
