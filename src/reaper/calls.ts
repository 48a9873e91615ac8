import {
  DeleteItemCommand, GetItemCommand, QueryCommand, ScanCommand, UpdateItemCommand,
  type ConsumedCapacity, type DeleteItemCommandInput, type DeleteItemCommandOutput, type DynamoDBClient,
  type GetItemCommandInput, type GetItemCommandOutput, type QueryCommandInput, type QueryCommandOutput,
  type ScanCommandInput, type ScanCommandOutput, type UpdateItemCommandInput, type UpdateItemCommandOutput
} from '@aws-sdk/client-dynamodb'
import type { UnitBudget } from './budget.js'
import { billedUnits, isRead, throttleReasonOf, type ReaperObserver, type ReaperOperation } from '../instrumentation.js'

import { isConditionFailure, watchThrottledAttempts, type WithMiddleware } from '../aws-errors.js'

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

  #observeAttempts (operation: ReaperOperation, command: WithMiddleware): void {
    watchThrottledAttempts(command, 'dynamoSessionReaperAttempts', (err) => this.#observer?.throttled(operation, throttleReasonOf(err)))
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

  async #send<T extends { ConsumedCapacity?: ConsumedCapacity }> (
    operation: ReaperOperation,
    command: WithMiddleware,
    run: () => Promise<T>
  ): Promise<T> {
    this.#observeAttempts(operation, command)
    try {
      const out = await run()
      this.record(operation, billedUnits(out.ConsumedCapacity, 'success', operation))
      return out
    } catch (err) {
      this.record(operation, billedUnits(undefined, isConditionFailure(err) ? 'conflict' : 'error', operation))
      throw err
    }
  }

  async scan (input: ScanCommandInput): Promise<ScanCommandOutput> {
    const command = new ScanCommand({ ...input, ReturnConsumedCapacity: 'TOTAL' })
    return await this.#send('Scan', command as unknown as WithMiddleware, () => this.#client.send(command, { abortSignal: this.#signal }))
  }

  async query (input: QueryCommandInput): Promise<QueryCommandOutput> {
    const command = new QueryCommand({ ...input, ReturnConsumedCapacity: 'TOTAL' })
    return await this.#send('Query', command as unknown as WithMiddleware, () => this.#client.send(command, { abortSignal: this.#signal }))
  }

  async deleteItem (input: DeleteItemCommandInput): Promise<DeleteItemCommandOutput> {
    const command = new DeleteItemCommand({ ...input, ReturnConsumedCapacity: 'TOTAL' })
    return await this.#send(
      'DeleteItem',
      command as unknown as WithMiddleware,
      () => this.#client.send(command, { abortSignal: this.#signal })
    )
  }

  async getItem (input: GetItemCommandInput): Promise<GetItemCommandOutput> {
    const command = new GetItemCommand({ ...input, ReturnConsumedCapacity: 'TOTAL' })
    return await this.#send(
      'GetItem',
      command as unknown as WithMiddleware,
      () => this.#client.send(command, { abortSignal: this.#signal })
    )
  }

  /** `signal` replaces the calls' own (a final write that must not be cut short by close(), but is bounded). */
  async updateItem (input: UpdateItemCommandInput, signal = this.#signal): Promise<UpdateItemCommandOutput> {
    const command = new UpdateItemCommand({ ...input, ReturnConsumedCapacity: 'TOTAL' })
    return await this.#send('UpdateItem', command as unknown as WithMiddleware, () => this.#client.send(command, { abortSignal: signal }))
  }
}
