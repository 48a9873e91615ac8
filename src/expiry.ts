import type { AttributeValue } from '@aws-sdk/client-dynamodb'

/*
 * What "live" and "expired" mean, in JavaScript and in DynamoDB condition expressions, side by side: each predicate
 * selects the rows its fragment selects (test/expiry.test.ts checks them on the same rows in dynalite). Expiries are
 * epoch seconds in a Number attribute, named `#exp` in every expression; a row without a numeric expiry is never
 * live and never due (DynamoDB's comparisons are false on a missing attribute or another type).
 */

/** The expiry a write at `nowSec` gives a session: the idle lifetime, capped by the absolute timeout. */
export function computeExpiry (nowSec: number, ttlSeconds: number, createdAt: number, absoluteTimeoutSeconds: number | undefined): number {
  const idle = nowSec + ttlSeconds
  return absoluteTimeoutSeconds === undefined ? idle : Math.min(idle, createdAt + absoluteTimeoutSeconds)
}

/** Live: the expiry is strictly in the future. Undefined or NaN (no numeric expiry): never live. */
export function isLive (expiresAt: number | undefined, nowSec: number): boolean {
  return expiresAt !== undefined && expiresAt > nowSec
}

/** `isLive` as a condition fragment, with `liveValues(nowSec)`. */
export const LIVE_CONDITION = '#exp > :now'

export function liveValues (nowSec: number): Record<':now', AttributeValue> {
  return { ':now': { N: String(nowSec) } }
}

/** The reaper deletes rows whose expiry is before this: `graceSeconds` of clock skew between instances tolerated. */
export function dueCutoff (nowSec: number, graceSeconds: number): number {
  return nowSec - graceSeconds
}

/** Due for deletion by the reaper: expired more than `graceSeconds` ago. Undefined or NaN: never due. */
export function isDue (expiresAt: number | undefined, nowSec: number, graceSeconds: number): boolean {
  return expiresAt !== undefined && expiresAt < dueCutoff(nowSec, graceSeconds)
}

/** `isDue` as a condition fragment, with `dueValues(dueCutoff(nowSec, graceSeconds))`. */
export const DUE_CONDITION = '#exp < :cutoff'

export function dueValues (cutoff: number): Record<':cutoff', AttributeValue> {
  return { ':cutoff': { N: String(cutoff) } }
}

/**
 * An expiry more than this many years ahead is not epoch seconds: most likely milliseconds (1.7e12 reads as the year
 * 55,000), which DynamoDB's TTL ignores. No session lives that long; the reaper counts such rows invalid.
 */
export const MAX_EXPIRY_YEARS_AHEAD = 10
const SECONDS_PER_YEAR = 365.25 * 86_400

/** The latest expiry counted valid at `nowSec` (see MAX_EXPIRY_YEARS_AHEAD). */
export function latestValidExpiry (nowSec: number): number {
  return nowSec + MAX_EXPIRY_YEARS_AHEAD * SECONDS_PER_YEAR
}

/**
 * How the reaper counts a row: `invalid` without a numeric expiry or with one more than MAX_EXPIRY_YEARS_AHEAD years
 * ahead (milliseconds, never due), `due` (see isDue), `grace` when expired but not yet due, `active` otherwise (a row
 * expiring this very second is still counted active).
 */
export type ExpiryClass = 'invalid' | 'active' | 'grace' | 'due'

export function classifyExpiry (expiresAt: number | undefined, nowSec: number, graceSeconds: number): ExpiryClass {
  if (expiresAt === undefined || Number.isNaN(expiresAt) || expiresAt > latestValidExpiry(nowSec)) return 'invalid'
  if (isDue(expiresAt, nowSec, graceSeconds)) return 'due'
  return expiresAt < nowSec ? 'grace' : 'active'
}

/** What the session predicates read of a stored row (store/record.ts's StoredSession). */
export interface ExpiringRow {
  /** NaN when the row has no numeric expiry. */
  readonly expiresAt: number
  readonly createdAt: number | undefined
  /** A login's tombstone (store/tombstone.ts). */
  readonly superseded: boolean
}

/** True while `nowSec` is before the absolute timeout; no timeout, or no creation time on the row: no cap. */
export function isWithinAbsoluteTimeout (
  createdAt: number | undefined,
  nowSec: number,
  absoluteTimeoutSeconds: number | undefined
): boolean {
  return absoluteTimeoutSeconds === undefined || createdAt === undefined || nowSec < createdAt + absoluteTimeoutSeconds
}

/**
 * A live session: not a tombstone, live (see isLive) and, with an absolute timeout, younger than it (rows without a
 * creation time have no cap).
 */
export function isLiveSession (row: ExpiringRow, nowSec: number, absoluteTimeoutSeconds?: number): boolean {
  return !row.superseded && isLive(row.expiresAt, nowSec) && isWithinAbsoluteTimeout(row.createdAt, nowSec, absoluteTimeoutSeconds)
}

/** A tombstone that has not expired: its id was superseded by a login moments ago. */
export function isLiveTombstone (row: ExpiringRow, nowSec: number): boolean {
  return row.superseded && isLive(row.expiresAt, nowSec)
}

/*
 * The expiry index's buckets (see store/expiry-index.ts for the attributes): a row's bucket is floor(expiry /
 * bucketSeconds), so a refresh that stays inside the bucket leaves the index entry unchanged. A bucket is finished at
 * `cutoff` when every expiry it can hold is due: all of [b·w, (b+1)·w) is below the cutoff.
 */

/** The bucket of an expiry (epoch seconds). */
export function bucketOf (expiresAt: number, bucketSeconds: number): number {
  return Math.floor(expiresAt / bucketSeconds)
}

/** The lowest bucket not finished at `cutoff` (see dueCutoff): every bucket below it holds only due rows. */
export function firstUnfinishedBucket (cutoff: number, bucketSeconds: number): number {
  return Math.floor(cutoff / bucketSeconds)
}

/** The latest expiry a bucket can hold. */
export function bucketEnd (bucket: number, bucketSeconds: number): number {
  return (bucket + 1) * bucketSeconds - 1
}
