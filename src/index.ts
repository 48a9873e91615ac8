export { dynamoSession, dynamoSession as default } from './plugin.js'
export type { Instrumentation, LoadResult } from './plugin.js'
export { Session } from './session.js'
export type { SessionData, SessionKey, SessionValue } from './session.js'
export type { DynamoSessionOptions, SessionCookieOptions, ConsistentRead, OnStoreError, SameSite } from './options.js'
export {
  DEFAULT_TABLE_NAME, DEFAULT_ID_ATTRIBUTE, DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_DATA_ATTRIBUTE, DEFAULT_CREATED_ATTRIBUTE,
  DEFAULT_TOUCHED_ATTRIBUTE, DEFAULT_TTL_SECONDS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_MAX_ATTEMPTS
} from './options.js'
export type { SessionStoreApi, SessionSnapshot } from './store/dynamo-store.js'
export type { JsonValue } from './store/item.js'
export { ensureSessionTable } from './store/table.js'
export type { EnsureTableOptions, EnsureTableResult, TtlState, Billing } from './store/table.js'
export * from './errors.js'
