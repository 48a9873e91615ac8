import { performance } from 'node:perf_hooks'
import {
  BatchGetItemCommand, type BatchGetItemCommandInput, type BatchGetItemCommandOutput, type ConsumedCapacity,
  type DeleteItemCommandInput, type DynamoDBClient, type QueryCommandInput, type QueryCommandOutput,
  type ReturnConsumedCapacity
} from '@aws-sdk/client-dynamodb'
import type { TableShape } from '../options.js'
import { isConditionFailure, isThrottle } from '../aws-errors.js'
import { throttleReasonOf, type RequestObserver, type StoreOperation } from '../instrumentation.js'
import { epochSeconds } from '../clock.js'
import { isLiveSession } from '../expiry.js'
import { isInternalId } from '../ids.js'
import { buildCreateInput, buildDeleteInput, buildGetInput, buildUpdateInput, type CreateSpec } from './commands.js'
import { setOwn, type JsonValue, type SessionRecord } from './json.js'
import { parseItem, type StoredSession } from './record.js'
import { buildTombstoneInput } from './tombstone.js'
import { senderOf } from '../transport/sender.js'
import type { DestroyByOwnerOptions, ListByOwnerOptions, OwnedSession, OwnerRevocation } from './owner-directory.js'
import type { FastOperation, OperationInputs, OperationOutputs } from '../transport/operations.js'
import type { FastSendOptions } from '../transport/fast-transport.js'

/** Receives every request-path DynamoDB call, and each throttled attempt, for metrics. */
type StoreObserver = Pick<RequestObserver, 'operation'> & Partial<Pick<RequestObserver, 'requestThrottled' | 'ownerRevoked'>>

/** A live session as `fastify.sessionStore.get()` returns it. */
export interface SessionSnapshot {
  readonly id: string
  readonly expiresAt: Date
  readonly createdAt: Date | undefined
  readonly data: SessionRecord
}

/** Administration outside a request, as `fastify.sessionStore`. */
export interface SessionStoreApi {
  /** The live session with this id, or undefined when it is absent, expired or a login's tombstone (strongly consistent read). */
  get (id: string): Promise<SessionSnapshot | undefined>
  /** Deletes the session row; resolves whether or not it existed (a login's tombstone is left in place). */
  destroy (id: string): Promise<void>
  /**
   * The owner's live sessions (the owner index, then their rows), most recently refreshed first. See
   * docs/sessions-of-a-user.md for its consistency window.
   */
  listByOwner (owner: string, options?: ListByOwnerOptions): Promise<OwnedSession[]>
  /** Deletes the owner's sessions (all, all but `except`, or the one with `handle`), under a write budget. */
  destroyByOwner (owner: string, options?: DestroyByOwnerOptions): Promise<OwnerRevocation>
}

// UpdateExpression is capped at 4 KB: about 21 characters a key (`#data.#k123 = :v123, `) fits some 180 keys beside
// the expiry clauses; larger changes go in further writes.
const KEYS_PER_UPDATE = 150


/** A freshly built input, asking for its consumed capacity (the metrics count it). */
function withCapacity<T extends { ReturnConsumedCapacity?: ReturnConsumedCapacity | undefined }> (input: T): T {
  input.ReturnConsumedCapacity = 'TOTAL'
  return input
}

/** The owner and label an UpdateItem writes: each only when set in this request. */
export interface OwnerChange {
  readonly owner?: string | undefined
  readonly label?: string | undefined
}

/** The only module that sends request-path commands. */
export class DynamoStore {
  readonly #client: DynamoDBClient
  readonly #shape: TableShape & { readonly absoluteTimeoutSeconds?: number | undefined }
  readonly #now: () => number
  readonly #observer: StoreObserver | undefined
  readonly #optionsByOperation = new Map<StoreOperation, FastSendOptions>()

  constructor (
    client: DynamoDBClient,
    shape: TableShape & { readonly absoluteTimeoutSeconds?: number | undefined },
    now: () => number,
    observer?: StoreObserver
  ) {
    this.#client = client
    this.#shape = shape
    this.#now = now
    this.#observer = observer
  }

  /** Sends through the client's transport, timed and observed, reporting each throttled attempt (the retries included). */
  async #call<Op extends FastOperation & StoreOperation> (operation: Op, input: OperationInputs[Op]): Promise<OperationOutputs[Op]> {
    const started = performance.now()
    try {
      const out = await senderOf(this.#client).send(operation, input, this.#sendOptions(operation))
      this.#observer?.operation(operation, 'success', (performance.now() - started) / 1000, out.ConsumedCapacity)
      return out
    } catch (err) {
      this.#failed(operation, started, err)
      throw err
    }
  }

  /** The send options of an operation's calls: one attempt observer per operation, made once. */
  #sendOptions (operation: StoreOperation): FastSendOptions {
    let options = this.#optionsByOperation.get(operation)
    if (options === undefined) {
      const throttled = this.#observer?.requestThrottled?.bind(this.#observer)
      options = {
        // Inputs built from session data (JSON) and strings: never a binary value to encode.
        jsonOnly: true,
        onAttemptError: throttled === undefined
          ? undefined
          : (err: unknown): void => { if (isThrottle(err)) throttled(operation, throttleReasonOf(err)) }
      }
      this.#optionsByOperation.set(operation, options)
    }
    return options
  }

  async #send<T extends { ConsumedCapacity?: ConsumedCapacity }> (operation: StoreOperation, run: () => Promise<T>): Promise<T> {
    const started = performance.now()
    try {
      const out = await run()
      this.#observer?.operation(operation, 'success', (performance.now() - started) / 1000, out.ConsumedCapacity)
      return out
    } catch (err) {
      this.#failed(operation, started, err)
      throw err
    }
  }

  /** Reports a failed call, begun at `started` (performance.now()): a condition failure is a conflict. */
  #failed (operation: StoreOperation, started: number, err: unknown): void {
    this.#observer?.operation(operation, isConditionFailure(err) ? 'conflict' : 'error', (performance.now() - started) / 1000, undefined)
  }

  /** The row as stored, expired or not; undefined when absent. */
  async load (id: string, consistent: boolean): Promise<StoredSession | undefined> {
    const input = withCapacity(buildGetInput(this.#shape, id, consistent))
    const out = await this.#call('GetItem', input)
    return out.Item === undefined ? undefined : parseItem(this.#shape, out.Item)
  }

  /** Writes a new row; never overwrites one. */
  async create (spec: CreateSpec): Promise<void> {
    const input = withCapacity(buildCreateInput(this.#shape, spec))
    await this.#call('PutItem', input)
  }

  async #update (input: ReturnType<typeof buildUpdateInput>): Promise<boolean> {
    return await this.#conditional(this.#call('UpdateItem', withCapacity(input)))
  }

  /**
   * Refreshes the expiry and applies per-key changes to a live row. Resolves false when the row is gone, expired or
   * a tombstone (nothing is written then). With `createMap`, the row was read without the data map: the first write
   * sets the whole map, and falls back to per-key writes when a concurrent request created it first.
   */
  async update (
    id: string,
    nowSec: number,
    expiresAt: number,
    changes: ReadonlyMap<string, JsonValue | undefined>,
    createMap: boolean,
    owned: OwnerChange = {}
  ): Promise<boolean> {
    if (createMap && changes.size > 0) {
      const wholeData: SessionRecord = {}
      for (const [key, value] of changes) if (value !== undefined) setOwn(wholeData, key, value)
      if (await this.#update(buildUpdateInput(this.#shape, { id, nowSec, expiresAt, wholeData, ...owned }))) return true
    }
    const entries = [...changes]
    let first = true
    do {
      const chunk = new Map(entries.splice(0, KEYS_PER_UPDATE))
      // The owner and label go with the first write.
      const extra = first ? owned : {}
      first = false
      // A row that ended between two writes of a large change did not get all of it: not saved.
      if (!await this.#update(buildUpdateInput(this.#shape, { id, nowSec, expiresAt, changes: chunk, ...extra }))) return false
    } while (entries.length > 0)
    return true
  }

  /** Deletes the session row, if any; resolves false (and leaves it) when the row is a tombstone. */
  async delete (id: string): Promise<boolean> {
    const input = withCapacity(buildDeleteInput(this.#shape, id))
    return await this.#conditional(this.#call('DeleteItem', input))
  }

  /**
   * Replaces a live session row by its tombstone (one conditional PutItem); resolves false when the row was already
   * gone, expired or a tombstone.
   */
  async supersede (id: string, nowSec: number, lifetimeSeconds: number): Promise<boolean> {
    const input = withCapacity(buildTombstoneInput(this.#shape, id, nowSec, lifetimeSeconds))
    return await this.#conditional(this.#call('PutItem', input))
  }

  /** One page of the owner index (store/owner.ts builds the input). */
  async queryOwner (input: QueryCommandInput): Promise<QueryCommandOutput> {
    return await this.#call('Query', input)
  }

  /**
   * One BatchGetItem, through the client (the fast transport does not carry it): its consumed capacity is the sum
   * over its tables.
   */
  async batchGet (input: BatchGetItemCommandInput): Promise<BatchGetItemCommandOutput> {
    const out = await this.#send('BatchGetItem', async () => {
      const answer = await this.#client.send(new BatchGetItemCommand(input))
      const units = answer.ConsumedCapacity?.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0)
      return { answer, ConsumedCapacity: units === undefined ? undefined : { CapacityUnits: units } }
    })
    return out.answer
  }

  /**
   * A conditional delete of an owner's session: whether it deleted, and the write units DynamoDB reported (undefined
   * when it did not, or when the condition failed).
   */
  async deleteOwned (input: DeleteItemCommandInput): Promise<{ deleted: boolean, units: number | undefined }> {
    try {
      const out = await this.#call('DeleteItem', input)
      return { deleted: true, units: out.ConsumedCapacity?.CapacityUnits }
    } catch (err) {
      if (isConditionFailure(err)) return { deleted: false, units: undefined }
      throw err
    }
  }

  /** Reports sessions deleted by an owner revocation. */
  revoked (count: number): void {
    if (count > 0) this.#observer?.ownerRevoked?.(count)
  }

  /** Whether a conditional write wrote: false when its condition failed. */
  async #conditional (write: Promise<unknown>): Promise<boolean> {
    try {
      await write
      return true
    } catch (err) {
      if (isConditionFailure(err)) return false
      throw err
    }
  }

  async get (id: string): Promise<SessionSnapshot | undefined> {
    if (typeof id !== 'string' || id.length === 0 || isInternalId(id)) return undefined
    const stored = await this.load(id, true)
    if (stored === undefined || !isLiveSession(stored, epochSeconds(this.#now()), this.#shape.absoluteTimeoutSeconds)) return undefined
    return {
      id: stored.id,
      expiresAt: new Date(stored.expiresAt * 1000),
      createdAt: stored.createdAt === undefined ? undefined : new Date(stored.createdAt * 1000),
      data: stored.data
    }
  }

  async destroy (id: string): Promise<void> {
    if (typeof id !== 'string' || id.length === 0 || isInternalId(id)) return
    await this.delete(id)
  }
}
