import { performance } from 'node:perf_hooks'
import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import type { ConsistentRead, OwnerIndexShape, TableShape } from '../options.js'
import { describe } from '../options.js'
import { InvalidOptionError, NoOwnerIndexError, StoreUnavailableError } from '../errors.js'
import { errorFields, errorLabel, errorName } from '../aws-errors.js'
import { epochSeconds } from '../clock.js'
import { isLiveSession } from '../expiry.js'
import { isInternalId } from '../ids.js'
import { UnitBudget, defaultSleep, type Sleep } from '../reaper/budget.js'
import type { DynamoStore } from './dynamo-store.js'
import { parseItem, type StoredSession } from './record.js'
import {
  BATCH_GET_MAX_KEYS, HANDLE_LENGTH, buildBatchGetInput, buildOwnerDeleteInput, buildOwnerQueryInput, handleOf, validateOwner
} from './owner.js'

/** One session of an owner, as `listByOwner` returns it. */
export interface OwnedSession {
  /** Names the session to `destroyByOwner(owner, { handle })`; not a session id, safe to send to the browser. */
  readonly handle: string
  /** The session id: only with `{ withIds: true }`. Server-side use only: never send it to a browser. */
  readonly id?: string
  readonly createdAt: Date | undefined
  /** The last expiry refresh. */
  readonly touchedAt: Date | undefined
  readonly expiresAt: Date
  readonly label: string | undefined
  /** True for the session named by the `current` option (the request's own). */
  readonly current: boolean
}

export interface ListByOwnerOptions {
  /** Include each session's `id`. Defaults to `false`. */
  withIds?: boolean
  /** The id of the request's session (`request.session.id`): marked `current`, and listed even if the index lags. Defaults to none. */
  current?: string
}

export interface DestroyByOwnerOptions {
  /** A session id to keep (`request.session.id`: "log out everywhere else"). Defaults to none. */
  except?: string
  /** Delete only the owner's session with this handle (from `listByOwner`). Defaults to every session of the owner. */
  handle?: string
  /** Write capacity units per second the deletes may consume. Defaults to `50`. */
  maxWriteUnitsPerSecond?: number
  /** Deletes this call makes at most; the rest is reported as `remaining` (call again). Defaults to `1000`. */
  maxDeletes?: number
}

/** What `destroyByOwner` did. */
export interface OwnerRevocation {
  /** Sessions deleted. */
  readonly deleted: number
  /** Sessions of the owner this call did not get to (`maxDeletes`): call again until it is 0. */
  readonly remaining: number
  /**
   * Write units the deletes consumed as DynamoDB reported them, 1 for a delete whose condition failed: what
   * `maxWriteUnitsPerSecond` limits.
   */
  readonly writeUnits: number
}

export const DEFAULT_REVOCATION_WRITE_UNITS_PER_SECOND = 50
export const DEFAULT_REVOCATION_MAX_DELETES = 1000
/** BatchGetItem's UnprocessedKeys are retried this many times, backing off from 50 ms, doubling, to at most 1 s. */
const BATCH_GET_ATTEMPTS = 8
const BATCH_GET_BACKOFF_MS = 50
const BATCH_GET_BACKOFF_MAX_MS = 1000

/** What the owner methods need of the plugin's options. */
export interface OwnerSettings extends TableShape {
  readonly secrets: readonly string[]
  readonly consistentRead: ConsistentRead
  readonly absoluteTimeoutSeconds: number | undefined
  readonly now: () => number
}

/**
 * The sessions of an owner: the owner index's entries (Query, paged), their rows (BatchGetItem, 100 keys a call) and
 * revocation (one conditional DeleteItem per session, under a write budget). Sends through the store only.
 */
export class OwnerDirectory {
  readonly #store: DynamoStore
  readonly #settings: OwnerSettings
  readonly #pageSize: number | undefined
  readonly #sleep: Sleep

  /** `pageSize`: a Query `Limit` (tests force paging with it); undefined: DynamoDB's 1 MB pages. */
  constructor (store: DynamoStore, settings: OwnerSettings, pageSize?: number, sleep: Sleep = defaultSleep) {
    this.#store = store
    this.#settings = settings
    this.#pageSize = pageSize
    this.#sleep = sleep
  }

  #index (): OwnerIndexShape {
    const index = this.#settings.ownerIndex
    if (index === false) throw new NoOwnerIndexError('ownerIndex: false', 'the plugin was registered without it')
    return index
  }

  /** The owner's live sessions, the `current` one included whenever it has this owner. */
  async list (owner: string, options: ListByOwnerOptions = {}): Promise<OwnedSession[]> {
    const index = this.#index()
    validateOwner(owner)
    return await coded(async () => await this.#list(index, owner, options))
  }

  async #list (index: OwnerIndexShape, owner: string, options: ListByOwnerOptions): Promise<OwnedSession[]> {
    const ids = await this.#ownerIds(index, owner)
    const current = options.current
    if (typeof current === 'string' && current.length > 0 && !isInternalId(current) && !ids.includes(current)) ids.push(current)
    const rows = await this.#rows(index, ids)
    const nowSec = epochSeconds(this.#settings.now())
    const secret = this.#settings.secrets[0] ?? ''
    return rows
      .filter((row) => row.owner === owner && isLiveSession(row, nowSec, this.#settings.absoluteTimeoutSeconds))
      .sort((a, b) => (b.touchedAt ?? 0) - (a.touchedAt ?? 0))
      .map((row) => ({
        handle: handleOf(secret, row.id),
        ...(options.withIds === true ? { id: row.id } : {}),
        createdAt: row.createdAt === undefined ? undefined : new Date(row.createdAt * 1000),
        touchedAt: row.touchedAt === undefined ? undefined : new Date(row.touchedAt * 1000),
        expiresAt: new Date(row.expiresAt * 1000),
        label: row.label,
        current: row.id === current
      }))
  }

  /** Deletes the owner's sessions (all, all but `except`, or the one with `handle`) and says how many. */
  async destroy (owner: string, options: DestroyByOwnerOptions = {}): Promise<OwnerRevocation> {
    const index = this.#index()
    validateOwner(owner)
    // A `handle` key left undefined (a form without it) must not widen "this device" to every session.
    if (Object.hasOwn(options, 'handle')) validateHandle(options.handle)
    const limits = revocationLimits(options)
    return await coded(async () => await this.#destroy(index, owner, options, limits))
  }

  async #destroy (
    index: OwnerIndexShape, owner: string, options: DestroyByOwnerOptions, { rate, maxDeletes }: { rate: number, maxDeletes: number }
  ): Promise<OwnerRevocation> {
    const secret = this.#settings.secrets[0] ?? ''
    const targets = (await this.#ownerIds(index, owner))
      .filter((id) => id !== options.except && (options.handle === undefined || handleOf(secret, id) === options.handle))
    const budget = new UnitBudget(rate, () => performance.now(), this.#sleep)
    let deleted = 0
    let done = 0
    let writeUnits = 0
    try {
      for (const id of targets.slice(0, maxDeletes)) {
        // One unit reserved, corrected with DynamoDB's figure (the item's size in KB plus its index entries).
        await budget.take(1)
        const input = buildOwnerDeleteInput(this.#settings, index, id, owner, epochSeconds(this.#settings.now()))
        const result = await this.#store.deleteOwned(input)
        const units = result.units ?? 1
        budget.charge(units - 1)
        writeUnits += units
        if (result.deleted) deleted++
        done++
      }
    } finally {
      this.#store.revoked(deleted)
    }
    return { deleted, remaining: targets.length - done, writeUnits }
  }

  /** Every id the owner index holds for `owner`, page by page. */
  async #ownerIds (index: OwnerIndexShape, owner: string): Promise<string[]> {
    const ids: string[] = []
    let startKey: Record<string, AttributeValue> | undefined
    do {
      const input = buildOwnerQueryInput(this.#settings, index, owner, startKey, this.#pageSize)
      const page = await this.#store.queryOwner(input).catch((err: unknown) => { throw this.#queryFailure(index, err) })
      for (const item of page.Items ?? []) {
        const id = item[this.#settings.idAttribute]?.S
        if (id !== undefined && !isInternalId(id)) ids.push(id)
      }
      startKey = page.LastEvaluatedKey
    } while (startKey !== undefined)
    return ids
  }

  /**
   * A Query on an index the table lacks fails with ValidationException (DynamoDB, dynalite) or ResourceNotFoundException
   * (moto), naming the index: the coded error says how to add it.
   */
  #queryFailure (index: OwnerIndexShape, err: unknown): unknown {
    const { message } = errorFields(err)
    if (['ValidationException', 'ResourceNotFoundException'].includes(errorName(err)) && /index/i.test(message)) {
      return new NoOwnerIndexError(index.indexName, `table ${this.#tableName()} has no such index`, { cause: err })
    }
    return err
  }

  /** The rows of `ids` (absent ones left out), 100 keys a BatchGetItem, UnprocessedKeys retried with backoff. */
  async #rows (index: OwnerIndexShape, ids: readonly string[]): Promise<StoredSession[]> {
    const rows: StoredSession[] = []
    const consistent = this.#settings.consistentRead === 'always'
    for (let from = 0; from < ids.length; from += BATCH_GET_MAX_KEYS) {
      let input = buildBatchGetInput(this.#settings, index, ids.slice(from, from + BATCH_GET_MAX_KEYS), consistent)
      for (let attempt = 1; ; attempt++) {
        const out = await this.#store.batchGet(input)
        for (const item of out.Responses?.[this.#tableName()] ?? []) rows.push(parseItem(this.#settings, item))
        const left = out.UnprocessedKeys?.[this.#tableName()]?.Keys ?? []
        if (left.length === 0) break
        if (attempt >= BATCH_GET_ATTEMPTS) {
          throw new StoreUnavailableError(`BatchGetItem left ${left.length} keys unprocessed after ${attempt} attempts`)
        }
        await this.#sleep(Math.min(BATCH_GET_BACKOFF_MS * 2 ** (attempt - 1), BATCH_GET_BACKOFF_MAX_MS))
        input = { ...input, RequestItems: { [this.#tableName()]: { ...input.RequestItems?.[this.#tableName()], Keys: left } } }
      }
    }
    return rows
  }

  #tableName (): string {
    return this.#settings.tableName
  }
}

/**
 * Runs an owner method's DynamoDB work: its coded errors pass, any other (AccessDenied on the index, throttling, the
 * network) becomes FST_DYNAMO_SESSION_STORE_UNAVAILABLE naming the error only, the AWS error kept as `cause` (its
 * message can carry the account id and ARNs, which an HTTP response must not).
 */
async function coded<T> (run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code
    if (typeof code === 'string' && code.startsWith('FST_DYNAMO_SESSION_')) throw err
    throw new StoreUnavailableError(errorLabel(err), { cause: err })
  }
}

/** A handle as listByOwner gives it: HANDLE_LENGTH base64url characters. */
function validateHandle (handle: unknown): void {
  if (typeof handle !== 'string' || !new RegExp(`^[A-Za-z0-9_-]{${HANDLE_LENGTH}}$`).test(handle)) {
    throw new InvalidOptionError('destroyByOwner handle', `a handle from listByOwner (${HANDLE_LENGTH} characters)`, describe(handle))
  }
}

function revocationLimits (options: DestroyByOwnerOptions): { rate: number, maxDeletes: number } {
  const rate = options.maxWriteUnitsPerSecond ?? DEFAULT_REVOCATION_WRITE_UNITS_PER_SECOND
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw new InvalidOptionError('destroyByOwner maxWriteUnitsPerSecond', 'a positive number', describe(rate))
  }
  const maxDeletes = options.maxDeletes ?? DEFAULT_REVOCATION_MAX_DELETES
  if (typeof maxDeletes !== 'number' || !Number.isSafeInteger(maxDeletes) || maxDeletes < 1) {
    throw new InvalidOptionError('destroyByOwner maxDeletes', 'a positive integer', describe(maxDeletes))
  }
  return { rate, maxDeletes }
}
