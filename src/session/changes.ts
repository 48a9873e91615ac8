import type { JsonValue } from '../store/json.js'

/** Per-key changes not yet written: the new value, or `undefined` for a deleted key. */
export type Changes = ReadonlyMap<string, JsonValue | undefined>

/** The changes a session's next write must carry. */
export class ChangeSet {
  #pending = new Map<string, JsonValue | undefined>()

  get size (): number {
    return this.#pending.size
  }

  set (key: string, value: JsonValue | undefined): void {
    this.#pending.set(key, value)
  }

  clear (): void {
    this.#pending.clear()
  }

  /**
   * Hands the pending changes to `write`. Changes made while it is in flight belong to the next write; when it
   * throws, its changes are pending again, unless changed since.
   */
  async write<T> (write: (changes: Changes) => Promise<T>): Promise<T> {
    const changes = this.#pending
    this.#pending = new Map()
    try {
      return await write(changes)
    } catch (err) {
      for (const [key, value] of changes) if (!this.#pending.has(key)) this.#pending.set(key, value)
      throw err
    }
  }
}
