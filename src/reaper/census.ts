import type { ScanCommandInput } from '@aws-sdk/client-dynamodb'
import { epochSeconds } from '../clock.js'
import { classifyExpiry } from '../expiry.js'
import { isInternalId } from '../ids.js'
import { billedUnits } from '../instrumentation.js'
import { DEFAULT_REAPER_GRACE_SECONDS, type TableShape } from '../options.js'
import type { UnitBudget } from './budget.js'
import type { ReaperCalls } from './calls.js'
import { buildScanInput, parseScannedRow } from './scan-finder.js'
import { pageLimit, type FoundRow, type StartKey } from './sweep.js'

/*
 * The table gauges of index mode, without a full scan: a census reads a few segments of a parallel Scan and scales
 * up. DynamoDB puts a row in a segment by a hash of its key, and a session id is random, so each row lands in a given
 * segment with probability 1/segments, independently of its expiry: the rows of `k` segments out of `T` are a uniform
 * sample of share p = k/T. The estimate of a class (active, expired) is its sampled count divided by p: unbiased, with
 * the binomial relative standard error sqrt((1 − p) / (N·p)) for a class of N rows. The sample reads whole rows, so
 * "active" is exactly what a sweep counts (expiry ≥ now), grace and due rows told apart, unlike a count of index
 * buckets, whose current bucket mixes live and expired rows. A census costs p of a full scan pass, whatever the row
 * size (docs/reaper.md#table-gauges-in-index-mode).
 */

/** A census at least this often (seconds): the table gauges of index mode are never older than this. */
export const DEFAULT_CENSUS_SECONDS = 300
/** A census page reserves this share of a second's read budget (1/4): the pass's streams take theirs beside it. */
const CENSUS_BUDGET_SHARES = 4
/** The fewest segments a census divides the table into: it reads at most 1/32 of the table (≤ 5% of a scan's units). */
export const MIN_CENSUS_SEGMENTS = 32
/**
 * The most: a census reads at least 1/4096 of the table. Segments are powers of two so that they split the hash space
 * evenly (dynalite splits 4096 hash prefixes, moto the first byte of an MD5, 256 values: keep to 256 there).
 */
export const MAX_CENSUS_SEGMENTS = 4096
/** Active rows a census aims to sample: a relative standard error of about 0.5%. */
export const CENSUS_TARGET_SAMPLE = 40_000
// Read units per row assumed before the first page (with a budget): a 4 KB row read eventually consistently.
const INITIAL_UNITS_PER_ROW = 0.5
const MIN_UNITS_PER_ROW = 0.001

/** Rows of the sample, by class as a sweep counts them; tombstones and the lease item are no class. */
export interface CensusCounts {
  /** Expiry at or after now. */
  active: number
  /** Past expiry, within the grace: not live, not yet due. */
  grace: number
  /** Past expiry and the grace: due for deletion, still in the table. */
  expired: number
  /** No numeric expiry. */
  invalid: number
}

export interface CensusResult {
  /** Estimated live rows (expiry ≥ now), tombstones and the lease item excluded. */
  readonly active: number
  /** The relative standard error of `active` (see relativeError). */
  readonly relativeError: number
  /** Estimated due rows still in the table (expired more than graceSeconds ago): the expired-pending gauge. */
  readonly expired: number
  readonly expiredRelativeError: number
  /** Estimated rows past expiry but within the grace. */
  readonly grace: number
  /** The sampled rows, before scaling up. */
  readonly sampled: Readonly<CensusCounts>
  /** The share of the table read: sampleSegments / segments. */
  readonly share: number
  readonly segments: number
  readonly startSegment: number
  readonly sampleSegments: number
  readonly consumedReadUnits: number
  /** Epoch seconds when the census ended. */
  readonly completedAt: number
}

/** All optional: `runCensus(calls, shape, now, { ...nextCensusOptions(last), graceSeconds, budget, signal })`. */
export interface CensusOptions {
  /** Segments the table is divided into: a power of two, MIN_ to MAX_CENSUS_SEGMENTS. Defaults to MIN_CENSUS_SEGMENTS. */
  readonly segments?: number
  /** Consecutive segments read (wrapping around). Defaults to 1. */
  readonly sampleSegments?: number
  /** The first segment read; rotate it with nextCensusOptions. Defaults to 0. */
  readonly startSegment?: number
  /** Expired rows within this many seconds count as grace, not expired. Defaults to DEFAULT_REAPER_GRACE_SECONDS (60). */
  readonly graceSeconds?: number
  /** The read budget `calls` charges: each page waits for its share first and is sized to it. No budget: 1 MB pages. */
  readonly budget?: UnitBudget
  readonly signal?: AbortSignal
  /** Epoch milliseconds, for `completedAt`. Defaults to Date.now. */
  readonly now?: () => number
}

/** Pure: the estimate of a class of which `sampled` rows were found in a sample of share `share` of the table. */
export function estimate (sampled: number, share: number): number {
  return sampled / share
}

/**
 * Pure: the relative standard error of `estimate(sampled, share)`: sqrt((1 − share) / sampled), the binomial
 * sqrt((1 − p) / (N·p)) with N·p estimated by the sample. 0 for a full read; 1 when nothing was sampled (an estimate
 * of 0 says only that the class is small: fewer than about 3/share rows, at 95%).
 */
export function relativeError (sampled: number, share: number): number {
  if (share >= 1) return 0
  if (sampled <= 0) return 1
  return Math.sqrt((1 - share) / sampled)
}

/** Pure: the relative standard error the method predicts for a class of `rows` rows: sqrt((1 − p) / (rows·p)). */
export function predictedRelativeError (rows: number, share: number): number {
  return relativeError(rows * share, share)
}

/**
 * Pure: how far a census's active estimate is from a known true count, in the standard errors the method predicts for
 * that count (the bench compares an estimate with the rows it loaded: within ±2 about 95% of the time).
 */
export function standardErrors (result: Pick<CensusResult, 'active' | 'share'>, trueActive: number): number {
  const error = predictedRelativeError(trueActive, result.share) * trueActive
  return error === 0 ? (result.active === trueActive ? 0 : Number.POSITIVE_INFINITY) : (result.active - trueActive) / error
}

/**
 * Pure: the segments of the next census, from the active rows the last one found: the largest power of two that still
 * leaves CENSUS_TARGET_SAMPLE active rows in one segment, within MIN_ and MAX_CENSUS_SEGMENTS. Small tables are read
 * at 1/32, large ones at a fixed sample size (and a cost that no longer grows with the table).
 */
export function censusSegments (previousActive: number | undefined): number {
  let segments = MIN_CENSUS_SEGMENTS
  const active = previousActive ?? 0
  while (segments < MAX_CENSUS_SEGMENTS && active / (segments * 2) >= CENSUS_TARGET_SAMPLE) segments *= 2
  return segments
}

/**
 * Pure: the segments and first segment of the next census: after the segments the last one read, so that successive
 * estimates use different rows (their errors are independent, and no row's segment is read more often than another's).
 */
export function nextCensusOptions (
  previous: Pick<CensusResult, 'active' | 'startSegment' | 'sampleSegments'> | undefined
): { segments: number, startSegment: number } {
  const segments = censusSegments(previous?.active)
  if (previous === undefined) return { segments, startSegment: 0 }
  return { segments, startSegment: (previous.startSegment + previous.sampleSegments) % segments }
}

/** Pure: the segments a census reads, `count` of them from `start`, wrapping around. */
export function sampledSegments (start: number, count: number, segments: number): number[] {
  return Array.from({ length: count }, (_, i) => (start + i) % segments)
}

/** Pure: one page of a census: a page of the sweep's Scan (key, expiry, tombstone marker) in one segment; no Limit: 1 MB. */
export function buildCensusScanInput (
  shape: TableShape,
  segment: number,
  segments: number,
  start: StartKey | undefined,
  limit: number | undefined
): ScanCommandInput {
  const input = buildScanInput(shape, segment, segments, start, limit ?? 0)
  if (limit === undefined) delete input.Limit
  return input
}

export function emptyCounts (): CensusCounts {
  return { active: 0, grace: 0, expired: 0, invalid: 0 }
}

/** Pure: adds a row to the counts as a sweep counts it (src/reaper/sweep.ts): tombstones and the lease item nowhere. */
export function countRow (counts: CensusCounts, row: FoundRow, nowSec: number, graceSeconds: number): void {
  if (row.tombstone === true || isInternalId(row.id)) return
  const kind = classifyExpiry(row.expiresAt, nowSec, graceSeconds)
  counts[kind === 'due' ? 'expired' : kind]++
}

/** Pure: the result of a census whose sample of `share` held `sampled`. */
export function censusResult (
  sampled: CensusCounts,
  read: { segments: number, startSegment: number, sampleSegments: number, consumedReadUnits: number, completedAt: number }
): CensusResult {
  const share = read.sampleSegments / read.segments
  return {
    active: estimate(sampled.active, share),
    relativeError: relativeError(sampled.active, share),
    expired: estimate(sampled.expired, share),
    expiredRelativeError: relativeError(sampled.expired, share),
    grace: estimate(sampled.grace, share),
    sampled: { ...sampled },
    share,
    ...read
  }
}

function checkOptions (segments: number, sampleSegments: number, startSegment: number): void {
  const power = Number.isInteger(Math.log2(segments))
  // One segment: the whole table, an exact count (a small table's, see takeCensus).
  if (segments !== 1 && (!power || segments < MIN_CENSUS_SEGMENTS || segments > MAX_CENSUS_SEGMENTS)) {
    const range = `${MIN_CENSUS_SEGMENTS} to ${MAX_CENSUS_SEGMENTS}`
    throw new RangeError(`expected census segments to be a power of two from ${range}, got ${segments}`)
  }
  if (!Number.isInteger(sampleSegments) || sampleSegments < 1 || sampleSegments > segments) {
    throw new RangeError(`expected sampleSegments to be an integer from 1 to ${segments}, got ${sampleSegments}`)
  }
  if (!Number.isInteger(startSegment) || startSegment < 0) {
    throw new RangeError(`expected startSegment to be a non-negative integer, got ${startSegment}`)
  }
}

interface SegmentRead {
  readonly calls: ReaperCalls
  readonly shape: TableShape
  readonly segments: number
  readonly nowSec: number
  readonly options: CensusOptions
  readonly counts: CensusCounts
  readonly grace: number
  units: number
  unitsPerRow: number
}

/** Reads one segment to its end, counting its rows; with a budget, page by page within it. */
async function readSegment (read: SegmentRead, segment: number): Promise<void> {
  const { budget, signal } = read.options
  let start: StartKey | undefined
  for (;;) {
    signal?.throwIfAborted()
    // A quarter of a second's budget per page: the pass's own streams share the budget meanwhile.
    const limit = budget === undefined ? undefined : pageLimit(budget.ratePerSecond, CENSUS_BUDGET_SHARES, read.unitsPerRow)
    const reserved = limit === undefined ? 0 : limit * read.unitsPerRow
    // Refused only when `signal` aborts (no guard is passed): the loop's first line then rejects.
    if (budget !== undefined && !await budget.take(reserved, signal)) continue
    let out
    try {
      out = await read.calls.scan(buildCensusScanInput(read.shape, segment, read.segments, start, limit))
    } finally {
      // The call charged what it really cost: the reservation goes back whatever happened.
      budget?.charge(-reserved)
    }
    const units = billedUnits(out.ConsumedCapacity, 'success', 'Scan')
    read.units += units
    const evaluated = out.ScannedCount ?? 0
    if (evaluated > 0) read.unitsPerRow = Math.max(MIN_UNITS_PER_ROW, units / evaluated)
    for (const item of out.Items ?? []) countRow(read.counts, parseScannedRow(read.shape, item), read.nowSec, read.grace)
    start = out.LastEvaluatedKey
    if (start === undefined) return
  }
}

/**
 * Estimates the table's active and expired rows at `nowSec` from `sampleSegments` of `segments` segments of a
 * parallel Scan (see the top of this file), through the reaper's calls (so its units are tallied, observed and
 * charged like a pass's). Rejects when a call fails or `signal` aborts: a census is whole or nothing.
 */
export async function runCensus (calls: ReaperCalls, shape: TableShape, nowSec: number, options: CensusOptions): Promise<CensusResult> {
  const segments = options.segments ?? MIN_CENSUS_SEGMENTS
  const sampleSegments = options.sampleSegments ?? 1
  const startSegment = options.startSegment ?? 0
  checkOptions(segments, sampleSegments, startSegment)
  const grace = options.graceSeconds ?? DEFAULT_REAPER_GRACE_SECONDS
  const counts = emptyCounts()
  const read: SegmentRead = { calls, shape, segments, nowSec, options, counts, grace, units: 0, unitsPerRow: INITIAL_UNITS_PER_ROW }
  for (const segment of sampledSegments(startSegment, sampleSegments, segments)) await readSegment(read, segment)
  const completedAt = epochSeconds((options.now ?? Date.now)())
  const figures = { segments, startSegment: startSegment % segments, sampleSegments, consumedReadUnits: read.units, completedAt }
  return censusResult(read.counts, figures)
}

/**
 * Below this many rows (live, expired and within the grace, as one sampled census estimates them) a table is counted
 * whole: a full read of at most ~1,000 rows costs at most ~125 read units of 1 KB rows, and a 1/32 sample of so few rows
 * would carry a relative error of 15% or more.
 */
export const EXACT_CENSUS_ROWS = 1000

/** What the lease item keeps of the last census: the estimate and where the next one starts. */
export interface CensusRecord {
  readonly active: number
  readonly relativeError: number
  readonly completedAt: number
  readonly segments: number
  readonly startSegment: number
  readonly sampleSegments: number
}

/** Pure: the record of a census. */
export function censusRecord (result: CensusResult): CensusRecord {
  const { active, relativeError, completedAt, segments, startSegment, sampleSegments } = result
  return { active, relativeError, completedAt, segments, startSegment, sampleSegments }
}

/**
 * One census: a sample of segments after the previous one's, and on a small table (EXACT_CENSUS_ROWS) every segment,
 * for an exact count.
 */
export async function takeCensus (
  calls: ReaperCalls,
  shape: TableShape,
  nowSec: number,
  previous: CensusRecord | undefined,
  options: Pick<CensusOptions, 'graceSeconds' | 'budget' | 'signal' | 'now'>
): Promise<CensusResult> {
  const next = nextCensusOptions(previous)
  const sample = await runCensus(calls, shape, nowSec, { ...options, ...next })
  if (sample.share >= 1 || sample.active + sample.expired + sample.grace >= EXACT_CENSUS_ROWS) return sample
  // The whole table in one segment: a few 1 MB pages for so few rows.
  return await runCensus(calls, shape, nowSec, { ...options, segments: 1, startSegment: 0, sampleSegments: 1 })
}
