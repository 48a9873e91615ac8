import { cloneJson, setOwn, type JsonValue, type SessionRecord } from '../store/json.js'
import { SizeLedger } from '../store/size-ledger.js'
import { ChangeSet } from './changes.js'

/** A session's data in memory: the values, their sizes and the changes not yet written. */
export class SessionContents {
  #data: SessionRecord
  readonly #ledger: SizeLedger
  readonly changes = new ChangeSet()

  /** `loaded`: the stored session's data (sized on its first change); none for a new session. */
  constructor (loaded?: SessionRecord) {
    this.#data = loaded === undefined ? {} : { ...loaded }
    this.#ledger = new SizeLedger(loaded === undefined ? undefined : this.#data)
  }

  /** The data itself, for a write of the whole map. */
  get record (): SessionRecord {
    return this.#data
  }

  /** A copy of the value. */
  get (key: string): JsonValue | undefined {
    // Own keys only: a key such as 'constructor' is absent until set.
    const value = Object.hasOwn(this.#data, key) ? this.#data[key] : undefined
    return typeof value === 'object' && value !== null ? structuredClone(value) : value
  }

  /** Keeps a deep copy of `value`, unless the item (with `overheadBytes()`) would grow past DynamoDB's limit. */
  set (key: string, value: unknown, overheadBytes: () => number): void {
    const copy = cloneJson(key, value)
    this.#ledger.admit(key, copy, overheadBytes)
    setOwn(this.#data, key, copy)
    this.changes.set(key, copy)
  }

  delete (key: string): void {
    if (!Object.hasOwn(this.#data, key)) return
    this.#ledger.remove(key)
    delete this.#data[key]
    this.changes.set(key, undefined)
  }

  /** All data, as a copy. */
  copy (): SessionRecord {
    return structuredClone(this.#data)
  }

  /** Every key counts as changed: the data goes into a row of its own. */
  changeAll (): void {
    for (const [key, value] of Object.entries(this.#data)) this.changes.set(key, value)
  }

  clear (): void {
    this.#data = {}
    this.#ledger.clear()
    this.changes.clear()
  }
}
