import { MAX_ITEM_BYTES, entrySize } from './marshal.js'
import type { JsonValue, SessionRecord } from './json.js'
import { SessionTooLargeError } from '../errors.js'

/**
 * The bytes a session's data takes in its DynamoDB item, kept per key, so that a change that would take the item
 * past DynamoDB's limit is refused before anything changes. Loaded data is sized on the first change: a read-only
 * request never pays for it.
 */
export class SizeLedger {
  readonly #sizes = new Map<string, number>()
  #total = 0
  // The loaded data, until it is sized (the record itself: it is sized before its first change).
  #unsized: SessionRecord | undefined

  constructor (loaded?: SessionRecord) {
    this.#unsized = loaded
  }

  /**
   * Records `key` holding `value`; throws FST_DYNAMO_SESSION_TOO_LARGE, recording nothing, when the item (the data
   * and `overheadBytes()`, the rest of the item) would exceed MAX_ITEM_BYTES.
   */
  admit (key: string, value: JsonValue, overheadBytes: () => number): void {
    this.#sizeLoaded()
    const size = entrySize(key, value)
    const total = this.#total - (this.#sizes.get(key) ?? 0) + size + overheadBytes()
    if (total > MAX_ITEM_BYTES) throw new SessionTooLargeError(total, MAX_ITEM_BYTES)
    this.#record(key, size)
  }

  remove (key: string): void {
    this.#sizeLoaded()
    this.#record(key, 0)
  }

  clear (): void {
    this.#unsized = undefined
    this.#sizes.clear()
    this.#total = 0
  }

  #sizeLoaded (): void {
    const loaded = this.#unsized
    if (loaded === undefined) return
    this.#unsized = undefined
    for (const [key, value] of Object.entries(loaded)) this.#record(key, entrySize(key, value))
  }

  #record (key: string, size: number): void {
    this.#total += size - (this.#sizes.get(key) ?? 0)
    if (size === 0) this.#sizes.delete(key)
    else this.#sizes.set(key, size)
  }
}
