import { setMaxListeners } from 'node:events'
import type { AttributeValue, DeleteItemCommandInput } from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { epochSeconds } from '../clock.js'
import { DUE_CONDITION, classifyExpiry, dueCutoff, dueValues } from '../expiry.js'
import { isInternalId } from '../ids.js'
import { itemKey, numberAttribute } from '../store/marshal.js'
import { buildBackfillInput, buildRebucketInput } from './index-finder.js'
import { NO_GUARD, type Sleep, type UnitBudget, type WaitGuard } from './budget.js'
import { errorName, isConditionFailure, isThrottle } from '../aws-errors.js'
import type { Budgets, ReaperCalls } from './calls.js'
import type { TableState } from './report.js'
import type { ReaperObserver } from '../instrumentation.js'

/** Where a stream (a Scan segment, an index shard) continues: DynamoDB's ExclusiveStartKey. */
export type StartKey = Record<string, AttributeValue>

/** A row a finder returns: its id and its expiry in epoch seconds, undefined when missing or not a number. */
export interface FoundRow {
  readonly id: string
  readonly expiresAt: number | undefined
  /** A login's tombstone (see store/tombstone.ts): never counted as a session, deleted once expired. */
  readonly tombstone?: boolean
  /** The row's expiry-index bucket, when the finder read it. */
  readonly bucket?: number | undefined
  /**
   * True when the row has a numeric expiry but is missing from the expiry index or in the wrong bucket there (no
   * shard, no bucket, or a bucket other than its expiry's): what the backfill fixes. Set by a finder that reads them.
   */
  readonly needsBucket?: boolean
  /**
   * False when `expiresAt` is only an upper bound (an index entry holds the bucket, not the expiry): the delete then
   * returns the row to learn the real expiry, and a failed delete means the bucket may be stale.
   */
  readonly exactExpiry?: boolean
}

export interface FinderPage {
  readonly rows: readonly FoundRow[]
  /** Undefined when the stream is exhausted. */
  readonly next: StartKey | undefined
  /** Items DynamoDB read for this page (what the read units paid for). */
  readonly evaluated: number
}

/**
 * A way of finding candidate rows, page by page, over independent streams. The Scan finder reads the whole table in
 * parallel segments; an expiry-index finder would query shards for `expiry < now`, reading only expired rows. The
 * sweep does the rest (classification, conditional deletes, budget, metrics), whatever the finder.
 */
export interface ExpiryFinder {
  /** Names the finder in saved progress: a sweep saved by another kind of finder is started over, never resumed. */
  readonly kind: string
  readonly streams: number
  /** True when pages include live rows, so `active` and `invalid` describe the whole table. */
  readonly seesLiveRows: boolean
  page (calls: ReaperCalls, stream: number, start: StartKey | undefined, limit: number): Promise<FinderPage>
  /**
   * True when `start` has exactly the key this finder's pages start from (attribute names and types): a saved cursor
   * that is not (another version, a manual edit) is dropped and the sweep starts over.
   */
  isCursor (start: StartKey): boolean
  /** Where `stream` continues right after `row`: a pass that stops inside a page resumes there. */
  after (stream: number, row: FoundRow): StartKey
}

/** A stream's position: finished, or where its next page starts (undefined: at the beginning). */
export type StreamCursor = { readonly done: true } | { readonly done: false, readonly start: StartKey | undefined }

/**
 * A sweep over the whole table, possibly spread over several passes when the budget makes it longer than one: the
 * cursors say where to resume, right after the last row settled; the counts cover exactly the rows before them, so
 * a finished sweep counts every row once.
 */
export interface SweepProgress extends Omit<SweepCounts, 'scanned' | 'repaired'> {
  /** The `kind` of the finder whose cursors these are. */
  finder: string
  streams: number
  cursors: StreamCursor[]
  /** Epoch seconds when the sweep began. */
  startedAt: number
}

/** What a sweep (or one pass of it) counted. */
export interface SweepCounts {
  scanned: number
  active: number
  /** Rows found due for deletion. */
  expired: number
  /** Of those, rows deleted; and rows found refreshed or already gone at delete time. */
  deleted: number
  conflicts: number
  invalid: number
  maxLagSeconds: number
  /** Index entries whose stale bucket was rewritten from the row's expiry. */
  repaired: number
  /** Backfill: live rows given their bucket (see `SweepOptions.backfill`). */
  backfilled: number
  /** Live rows found missing from the expiry index (or in a wrong bucket) and left so (not fixed, or only counted). */
  missing: number
}

export interface SweepOptions {
  readonly shape: TableShape
  readonly finder: ExpiryFinder
  readonly calls: ReaperCalls
  /** Without a `write` budget the sweep only counts, deleting nothing (stats). */
  readonly budgets: Budgets
  readonly now: () => number
  readonly sleep: Sleep
  readonly graceSeconds: number
  /** On the `now()` clock: no page is started and no row deleted after it. */
  readonly deadline: number
  /** Aborting stops the sweep after the call in flight (close()). */
  readonly signal: AbortSignal
  /**
   * Checked right before every page and delete, and at its due times while the sweep waits on a budget or backs
   * off; throws when the pass must stop (the lease could not be renewed).
   */
  readonly guard: WaitGuard
  readonly observer: ReaperObserver | undefined
  /**
   * Backfill: live rows the finder marks `needsBucket` get their bucket (and, if missing, their shard) from their
   * expiry, conditionally on that expiry, within the write budget. Without it such rows are only counted (`missing`).
   */
  readonly backfill?: boolean
}

/** What became of an expired row: deleted, found refreshed or gone (conflict), or left in the table for later. */
type ExpiredOutcome = 'deleted' | 'conflict' | 'left'
type RowOutcome = 'active' | 'invalid' | ExpiredOutcome

/** Throttled pages are retried this many times (after the SDK's own retries), backing off, before the pass fails. */
export const MAX_THROTTLED_PAGE_RETRIES = 4
export const THROTTLE_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 16_000
// Read units per item assumed before the first page: a 4 KB item read eventually consistently.
const INITIAL_UNITS_PER_ITEM = 0.5
const MIN_UNITS_PER_ITEM = 0.001
/** Upper bound of a page's Limit, whatever the budget. */
export const MAX_PAGE_LIMIT = 5000

export function newProgress (finder: Pick<ExpiryFinder, 'kind' | 'streams'>, startedAt: number): SweepProgress {
  return {
    finder: finder.kind,
    streams: finder.streams,
    cursors: Array.from({ length: finder.streams }, () => ({ done: false, start: undefined })),
    startedAt,
    active: 0,
    expired: 0,
    deleted: 0,
    conflicts: 0,
    invalid: 0,
    maxLagSeconds: 0,
    backfilled: 0,
    missing: 0
  }
}

/**
 * A whole sweep outside the reaper's passes (stats, the backfill command): from the beginning, with no lease to renew,
 * no deadline and no observer. Resolves when every stream is exhausted.
 */
export async function runStandaloneSweep (
  options: Pick<SweepOptions, 'shape' | 'finder' | 'calls' | 'budgets' | 'now' | 'sleep' | 'graceSeconds' | 'backfill'> & {
    readonly signal?: AbortSignal
  }
): Promise<Sweep> {
  const { signal = new AbortController().signal, ...rest } = options
  const sweep = new Sweep({ ...rest, deadline: Number.POSITIVE_INFINITY, signal, guard: NO_GUARD, observer: undefined },
    newProgress(options.finder, epochSeconds(options.now())))
  await sweep.run()
  return sweep
}

/** Pure: the table figures of a complete sweep, whatever finder made it. */
export function sweepFigures (progress: SweepProgress, completedAt: number): NonNullable<TableState['sweep']> {
  const { active, expired, deleted, conflicts, invalid, maxLagSeconds } = progress
  return { active, expiredFound: expired, expiredBacklog: Math.max(0, expired - deleted - conflicts), invalid, maxLagSeconds, completedAt }
}

/** Saved progress `finder` can resume: written by the same kind of finder, same streams, every cursor its own. */
export function resumable (finder: ExpiryFinder, progress: SweepProgress | undefined): SweepProgress | undefined {
  if (progress === undefined || progress.finder !== finder.kind || progress.streams !== finder.streams) return undefined
  const valid = progress.cursors.every((cursor) => cursor.done || cursor.start === undefined || finder.isCursor(cursor.start))
  return valid ? progress : undefined
}

export function isComplete (progress: SweepProgress): boolean {
  return progress.cursors.every((cursor) => cursor.done)
}

/** Pure: the conditional delete of one expired row; fails when the row was refreshed (or is gone) meanwhile. */
export function buildReapDeleteInput (shape: TableShape, id: string, cutoff: number): DeleteItemCommandInput {
  return {
    TableName: shape.tableName,
    Key: itemKey(shape, id),
    ConditionExpression: `attribute_exists(#id) AND ${DUE_CONDITION}`,
    ExpressionAttributeNames: { '#id': shape.idAttribute, '#exp': shape.expiresAttribute },
    ExpressionAttributeValues: dueValues(cutoff)
  }
}

/** Pure: a page's Limit, so that it costs about the budget's share of one second. */
export function pageLimit (unitsPerSecond: number, streams: number, unitsPerItem: number): number {
  return Math.max(1, Math.min(MAX_PAGE_LIMIT, Math.floor(unitsPerSecond / streams / unitsPerItem)))
}

export function backoffMs (attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, THROTTLE_BACKOFF_MS * 2 ** attempt)
}

/**
 * One pass over the finder's streams, in parallel: classifies every row, deletes the expired ones with a conditional
 * DeleteItem, within the budgets. Mutates `progress` row by row, so that a pass that stops (deadline, close,
 * failure) leaves cursors to resume from; `counts` cover what this pass did.
 */
export class Sweep {
  readonly counts: SweepCounts = {
    scanned: 0, active: 0, expired: 0, deleted: 0, conflicts: 0, invalid: 0, maxLagSeconds: 0, repaired: 0, backfilled: 0, missing: 0
  }
  readonly progress: SweepProgress
  readonly #options: SweepOptions
  // The caller's guard, and the deadline: a wait stops there.
  readonly #guard: WaitGuard
  #unitsPerItem = INITIAL_UNITS_PER_ITEM
  // Write units of the last delete (rows over 1 KB cost more than one).
  #unitsPerDelete = 1
  #cursorRejected = false

  constructor (options: SweepOptions, progress: SweepProgress) {
    this.#options = options
    this.progress = progress
    const { guard, deadline, now } = options
    this.#guard = {
      get dueAt () { return Math.min(guard.dueAt, deadline) },
      check: async () => await guard.check() && now() < deadline
    }
  }

  /**
   * True when DynamoDB rejected a page's start key (ValidationException): the saved progress must be dropped, or every
   * later pass would fail on the same cursor.
   */
  get cursorRejected (): boolean {
    return this.#cursorRejected
  }

  /** Resolves true when every stream is exhausted. */
  async run (): Promise<boolean> {
    const failed = new AbortController()
    const signal = AbortSignal.any([this.#options.signal, failed.signal])
    // Every stream waits on it (budget, backoff, calls): one index shard each, up to 1000. The calls in flight
    // listen on the pass's own signal too (ReaperCalls).
    setMaxListeners(0, signal)
    setMaxListeners(0, this.#options.signal)
    const results = await Promise.allSettled(this.progress.cursors.map(async (_, stream) => {
      try {
        await this.#stream(stream, signal)
      } catch (err) {
        failed.abort()
        throw err
      }
    }))
    const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (rejected !== undefined) throw rejected.reason
    return isComplete(this.progress)
  }

  #stopping (signal: AbortSignal): boolean {
    return signal.aborted || this.#options.now() >= this.#options.deadline
  }

  async #stream (stream: number, signal: AbortSignal): Promise<void> {
    const options = this.#options
    for (;;) {
      const cursor = this.progress.cursors[stream]
      if (cursor === undefined || cursor.done || this.#stopping(signal)) return
      const limit = pageLimit(options.budgets.read.ratePerSecond, this.progress.streams, this.#unitsPerItem)
      const reserved = limit * this.#unitsPerItem
      if (!await options.budgets.read.take(reserved, signal, this.#guard)) return
      const before = options.calls.tally.read
      let page: FinderPage | undefined
      try {
        page = await this.#page(stream, cursor.start, limit, signal)
      } catch (err) {
        // The call was aborted by close(): a stop, not a failure.
        if (signal.aborted) return
        if (cursor.start !== undefined && errorName(err) === 'ValidationException') this.#cursorRejected = true
        throw err
      } finally {
        // The call charged what it really cost, if anything: the reservation goes back whatever happened, or the
        // budget, which outlives the pass, would start the next one in debt.
        options.budgets.read.charge(-reserved)
      }
      if (page === undefined) return
      if (page.evaluated > 0) this.#unitsPerItem = Math.max(MIN_UNITS_PER_ITEM, (options.calls.tally.read - before) / page.evaluated)
      if (!await this.#rows(stream, page.rows, signal)) return
      this.progress.cursors[stream] = page.next === undefined ? { done: true } : { done: false, start: page.next }
    }
  }

  async #page (stream: number, start: StartKey | undefined, limit: number, signal: AbortSignal): Promise<FinderPage | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#options.finder.page(this.#options.calls, stream, start, limit)
      } catch (err) {
        if (!isThrottle(err) || attempt >= MAX_THROTTLED_PAGE_RETRIES) throw err
        if (!await this.#pause(backoffMs(attempt), signal)) return undefined
      }
    }
  }

  /** Sleeps `ms`, checking the guard at its due times and at the end; false when the sweep must stop. */
  async #pause (ms: number, signal: AbortSignal): Promise<boolean> {
    const options = this.#options
    const until = options.now() + ms
    for (;;) {
      const left = until - options.now()
      if (signal.aborted) return false
      if (left <= 0) return true
      await options.sleep(Math.max(1, Math.min(left, Math.ceil(this.#guard.dueAt - options.now()))), signal)
      if (!signal.aborted && !await this.#guard.check()) return false
    }
  }

  /**
   * Handles a page's rows. Each row, once settled, is counted into `progress` together with a cursor right after it,
   * so a pass that stops inside the page (budget, deadline, close) resumes there and no row is counted twice or
   * missed, even when the rows it deleted are gone by then. False when the pass stopped before the end of the page.
   */
  async #rows (stream: number, rows: readonly FoundRow[], signal: AbortSignal): Promise<boolean> {
    const options = this.#options
    const write = options.budgets.write
    for (const row of rows) {
      // The lease item: never a session.
      if (isInternalId(row.id)) {
        this.#settle(stream, row, undefined)
        continue
      }
      const nowSec = epochSeconds(options.now())
      const expiry = classifyExpiry(row.expiresAt, nowSec, options.graceSeconds)
      const due = expiry === 'due'
      const reserved = this.#unitsPerDelete
      if (due && write !== undefined) {
        if (this.#stopping(signal) || !await write.take(reserved, signal, this.#guard)) return false
      }
      // A backfill leaves the due rows the index holds to the index sweep: it deletes only those the index misses.
      if (due && options.backfill === true && row.needsBucket === false) {
        this.#settle(stream, row, undefined)
        continue
      }
      if (row.tombstone === true) {
        // Never a session: deleted once due, counted nowhere.
        if (due && write !== undefined && (await this.#delete(write, reserved, row, undefined, signal)).outcome === 'stopped') return false
        this.#settle(stream, row, undefined)
        continue
      }
      this.counts.scanned++
      if (!due) {
        // Past its expiry but within the grace: not live any more, not yet due; counted in `scanned` only.
        const kind = expiry === 'grace' ? undefined : expiry
        if (kind !== undefined) this.counts[kind]++
        const indexed = row.needsBucket === true && expiry !== 'invalid' ? await this.#backfill(row, signal) : 'yes'
        if (indexed === 'stopped') return false
        this.#settle(stream, row, kind, 0, indexed)
        continue
      }
      this.counts.expired++
      // The lag of a row found with its exact expiry; an index entry's comes back with the delete.
      const foundLag = row.exactExpiry === false ? undefined : nowSec - (row.expiresAt as number)
      if (foundLag !== undefined) this.counts.maxLagSeconds = Math.max(this.counts.maxLagSeconds, foundLag)
      const end = write === undefined
        ? { outcome: 'left' as const, lag: foundLag }
        : await this.#delete(write, reserved, row, foundLag, signal)
      // A delete cut short by close() may not have happened: the row is read again next pass.
      if (end.outcome === 'stopped') return false
      this.#settle(stream, row, end.outcome, end.lag ?? 0)
    }
    return true
  }

  /**
   * Gives a live row missing from the expiry index its bucket (backfill), or counts it missing: `fixed`, `no`
   * (missing still), `yes` (a concurrent write changed or removed the row: it is not ours to count), `stopped`.
   */
  async #backfill (row: FoundRow, signal: AbortSignal): Promise<Indexed | 'stopped'> {
    const options = this.#options
    const write = options.budgets.write
    const { shape } = options
    if (options.backfill !== true || write === undefined || shape.expiryIndex === false || row.expiresAt === undefined) {
      this.counts.missing++
      return 'no'
    }
    if (this.#stopping(signal) || !await write.take(1, signal, this.#guard)) return 'stopped'
    try {
      await options.calls.updateItem(buildBackfillInput({ ...shape, expiryIndex: shape.expiryIndex }, row.id, row.expiresAt))
      this.counts.backfilled++
      return 'fixed'
    } catch (err) {
      if (isConditionFailure(err)) return 'yes'
      if (isThrottle(err) || signal.aborted) {
        // Left for the next backfill.
        this.counts.missing++
        return signal.aborted ? 'stopped' : 'no'
      }
      throw err
    } finally {
      write.charge(-1)
    }
  }

  /** Counts a settled row into the sweep's progress and moves the stream's cursor past it, in one step. */
  #settle (stream: number, row: FoundRow, outcome: RowOutcome | undefined, lag = 0, indexed: Indexed = 'yes'): void {
    const progress = this.progress
    if (indexed === 'fixed') progress.backfilled++
    if (indexed === 'no') progress.missing++
    if (outcome === 'active') progress.active++
    else if (outcome === 'invalid') progress.invalid++
    else if (outcome !== undefined) {
      progress.expired++
      if (outcome === 'deleted') progress.deleted++
      if (outcome === 'conflict') progress.conflicts++
      progress.maxLagSeconds = Math.max(progress.maxLagSeconds, lag)
    }
    progress.cursors[stream] = { done: false, start: this.#options.finder.after(stream, row) }
  }

  /**
   * Deletes one expired row (`reserved` units were taken from `write` for it). A row settled here, deleted or found
   * refreshed or gone, has its lag observed (`foundLag`, or for an index entry the expiry the delete returned); one
   * left for a later pass is observed by the pass that settles it, so each row is observed once. A tombstone is
   * deleted the same way but counted nowhere. An index entry whose delete fails may carry a stale bucket (a writer that
   * extends the expiry without moving it): it is re-bucketed so that later passes do not read it again.
   */
  async #delete (
    write: UnitBudget,
    reserved: number,
    row: FoundRow,
    foundLag: number | undefined,
    signal: AbortSignal
  ): Promise<DeleteEnd> {
    const options = this.#options
    const counted = row.tombstone !== true
    const fromIndex = row.exactExpiry === false
    try {
      const before = options.calls.tally.write
      const input = buildReapDeleteInput(options.shape, row.id, dueCutoff(epochSeconds(options.now()), options.graceSeconds))
      const out = await options.calls.deleteItem(fromIndex ? { ...input, ...RETURN_OLD } : input)
      this.#unitsPerDelete = Math.max(1, options.calls.tally.write - before)
      if (!counted) return { outcome: 'deleted', lag: undefined }
      const lag = fromIndex ? lagOf(options.shape, out.Attributes, epochSeconds(options.now())) : foundLag
      this.counts.deleted++
      options.observer?.reaped()
      if (lag !== undefined) {
        this.counts.maxLagSeconds = Math.max(this.counts.maxLagSeconds, lag)
        options.observer?.ttlLag(lag)
      }
      return { outcome: 'deleted', lag }
    } catch (err) {
      if (isConditionFailure(err)) {
        if (!counted) return { outcome: 'conflict', lag: undefined }
        this.counts.conflicts++
        options.observer?.skipped('conflict')
        if (fromIndex) {
          // Not known to have expired at all: no lag. Its bucket may be stale.
          await this.#repair(write, row, err, signal)
          return { outcome: 'conflict', lag: undefined }
        }
        if (foundLag !== undefined) options.observer?.ttlLag(foundLag)
        return { outcome: 'conflict', lag: foundLag }
      }
      if (counted) options.observer?.skipped('error')
      if (isThrottle(err)) {
        // Left for a later pass; slow down meanwhile.
        await this.#pause(backoffMs(0), signal)
        return { outcome: 'left', lag: foundLag }
      }
      // Aborted by close(): the row is left for the next pass.
      if (!signal.aborted) throw err
      return { outcome: 'stopped', lag: undefined }
    } finally {
      write.charge(-reserved)
    }
  }

  /**
   * Re-buckets an index entry whose delete found the row not due: from the row as the failed delete returned it
   * (AWS, with ReturnValuesOnConditionCheckFailure) or as a GetItem reads it, conditionally on the expiry read, so a
   * concurrent refresh wins. Nothing is written when the bucket is already right or the row is gone. A throttled or
   * conflicting repair is left for the next pass that finds the entry.
   */
  async #repair (write: UnitBudget, row: FoundRow, failure: unknown, signal: AbortSignal): Promise<void> {
    const options = this.#options
    const { shape } = options
    if (shape.expiryIndex === false || this.#stopping(signal)) return
    if (!await write.take(1, signal, this.#guard)) return
    try {
      let item = (failure as { Item?: Record<string, AttributeValue> }).Item
      item ??= (await options.calls.getItem({ TableName: shape.tableName, Key: itemKey(shape, row.id), ConsistentRead: true })).Item
      const input = item === undefined ? undefined : buildRebucketInput({ ...shape, expiryIndex: shape.expiryIndex }, row.id, item)
      if (input === undefined) return
      await options.calls.updateItem(input)
      this.counts.repaired++
    } catch (err) {
      if (!isConditionFailure(err) && !isThrottle(err) && !signal.aborted) throw err
    } finally {
      write.charge(-1)
    }
  }
}

/** Whether a live row is in the expiry index: yes (or not ours to count), fixed by the backfill, or not. */
type Indexed = 'yes' | 'fixed' | 'no'

/** How a delete ended, and the lag to record for the row (undefined: none known). */
interface DeleteEnd {
  readonly outcome: ExpiredOutcome | 'stopped'
  readonly lag: number | undefined
}

// An index entry's delete returns the row (its expiry gives the lag), and on AWS a failed one returns it too.
const RETURN_OLD = { ReturnValues: 'ALL_OLD', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const

/** Pure: seconds the deleted row had been past its expiry; undefined without a numeric expiry. */
export function lagOf (shape: TableShape, item: Record<string, AttributeValue> | undefined, nowSec: number): number | undefined {
  const expiresAt = numberAttribute(item?.[shape.expiresAttribute])
  return expiresAt === undefined ? undefined : Math.max(0, nowSec - expiresAt)
}
