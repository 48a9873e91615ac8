import type { DynamoStore, OwnerChange } from '../store/dynamo-store.js'
import type { CreateSpec } from '../store/commands.js'
import type { Changes } from './changes.js'
import { errorLabel } from '../aws-errors.js'
import { SaveFailedError } from '../errors.js'

/**
 * The store's writes as a session makes them: wherever DynamoDB fails, the write rejects with
 * FST_DYNAMO_SESSION_SAVE_FAILED, whose cause is the store's error.
 */
export class SessionWrites {
  readonly #store: DynamoStore

  constructor (store: DynamoStore) {
    this.#store = store
  }

  async create (spec: CreateSpec): Promise<void> {
    await saving(this.#store.create(spec))
  }

  async update (
    id: string, nowSec: number, expiresAt: number, changes: Changes, createMap: boolean, owned?: OwnerChange
  ): Promise<boolean> {
    return await saving(this.#store.update(id, nowSec, expiresAt, changes, createMap, owned))
  }

  async delete (id: string): Promise<boolean> {
    return await saving(this.#store.delete(id))
  }

  async supersede (id: string, nowSec: number, lifetimeSeconds: number): Promise<boolean> {
    return await saving(this.#store.supersede(id, nowSec, lifetimeSeconds))
  }
}

async function saving<T> (write: Promise<T>): Promise<T> {
  try {
    return await write
  } catch (err) {
    throw new SaveFailedError(errorLabel(err), { cause: err })
  }
}
