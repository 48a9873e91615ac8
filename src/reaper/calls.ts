import {
  type ConsumedCapacity, type DeleteItemCommandInput, type DeleteItemCommandOutput, type DynamoDBClient,
  type GetItemCommandInput, type GetItemCommandOutput, type QueryCommandInput, type QueryCommandOutput,
  type ScanCommandInput, type ScanCommandOutput, type UpdateItemCommandInput, type UpdateItemCommandOutput
} from '@aws-sdk/client-dynamodb'
import type { UnitBudget } from './budget.js'
import { billedUnits, isRead, throttleReasonOf, type ReaperObserver, type ReaperOperation } from '../instrumentation.js'

import { isConditionFailure, isThrottle } from '../aws-errors.js'
import { senderOf } from '../transport/sender.js'
import type { FastOperation, OperationInputs, OperationOutputs } from '../transport/operations.js'

/** Units consumed so far, split as DynamoDB bills them. */
export interface Tally {
  read: number
  write: number
}

export interface Budgets {
  readonly read: UnitBudget
  /** Undefined where nothing is written but the lease (stats). */
  readonly write?: UnitBudget
}

/**
 * The reaper's only door to DynamoDB: every call asks for its consumed capacity, which is tallied, reported to the
 * observer and charged to the budgets; every throttled attempt, including the SDK's own retries, is reported.
 * Aborting `signal` aborts the calls in flight (close() must not wait on a stalled DynamoDB).
 */
export class ReaperCalls {
  readonly tally: Tally = { read: 0, write: 0 }
  readonly #client: DynamoDBClient
  readonly #observer: ReaperObserver | undefined
  readonly #budgets: Budgets | undefined
  readonly #signal: AbortSignal | undefined

  constructor (client: DynamoDBClient, observer: ReaperObserver | undefined, budgets?: Budgets, signal?: AbortSignal) {
    this.#client = client
    this.#observer = observer
    this.#budgets = budgets
    this.#signal = signal
  }

  /** Records units consumed by a call (also used for conditional failures, which report none). */
  record (operation: ReaperOperation, units: number): void {
    if (units <= 0) return
    const read = isRead(operation)
    if (read) this.tally.read += units
    else this.tally.write += units
    this.#observer?.consumed(operation, units)
    if (read) this.#budgets?.read.charge(units)
    else this.#budgets?.write?.charge(units)
  }

  /** Sends through the client's transport, reporting each throttled attempt (the retries included). */
  async #send<Op extends FastOperation & ReaperOperation> (
    operation: Op,
    input: OperationInputs[Op],
    signal: AbortSignal | undefined = this.#signal
  ): Promise<OperationOutputs[Op]> {
    const onAttemptError = (err: unknown): void => { if (isThrottle(err)) this.#observer?.throttled(operation, throttleReasonOf(err)) }
    try {
      const options = { abortSignal: signal, onAttemptError }
      const out = await senderOf(this.#client).send(operation, { ...input, ReturnConsumedCapacity: 'TOTAL' }, options)
      this.record(operation, billedUnits((out as { ConsumedCapacity?: ConsumedCapacity }).ConsumedCapacity, 'success', operation))
      return out
    } catch (err) {
      this.record(operation, billedUnits(undefined, isConditionFailure(err) ? 'conflict' : 'error', operation))
      throw err
    }
  }

  async scan (input: ScanCommandInput): Promise<ScanCommandOutput> {
    return await this.#send('Scan', input)
  }

  async query (input: QueryCommandInput): Promise<QueryCommandOutput> {
    return await this.#send('Query', input)
  }

  async deleteItem (input: DeleteItemCommandInput): Promise<DeleteItemCommandOutput> {
    return await this.#send('DeleteItem', input)
  }

  async getItem (input: GetItemCommandInput): Promise<GetItemCommandOutput> {
    return await this.#send('GetItem', input)
  }

  /** `signal` replaces the calls' own (a final write that must not be cut short by close(), but is bounded). */
  async updateItem (input: UpdateItemCommandInput, signal = this.#signal): Promise<UpdateItemCommandOutput> {
    return await this.#send('UpdateItem', input, signal)
  }
}
