import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { isConditionFailure } from '../aws-errors.js'
import { defaultClient } from '../client.js'
import { epochSeconds } from '../clock.js'
import { isLiveSession } from '../expiry.js'
import { isInternalId } from '../ids.js'
import { DynamoStore } from '../store/dynamo-store.js'
import { validateOwner } from '../store/owner.js'
import type { SessionRecord } from '../store/json.js'
import type { StoredSession } from '../store/record.js'
import { resolveStoreOptions, type DynamoSessionStoreOptions, type ResolvedStoreOptions } from './options.js'
import {
  RecentSessions, baselineOf, changesSince, cookieExpiry, expiryNeedsWrite, sessionExpiry, sessionObject, sessionRecord,
  type Baseline
} from './snapshot.js'

/**
 * The store behind both callback flavours: the plugin's data model and conditional writes (store/dynamo-store.ts)
 * under the get/set/destroy/touch interface of @fastify/session and express-session. Per session id it keeps the
 * state last read or written, so that `set` writes only the keys a request changed, or only the expiry, throttled.
 */
export class SessionStoreCore {
  readonly #store: DynamoStore
  readonly #options: ResolvedStoreOptions
  readonly #recent: RecentSessions
  readonly client: DynamoDBClient

  constructor (options?: DynamoSessionStoreOptions) {
    this.#options = resolveStoreOptions(options)
    this.client = this.#options.client ?? defaultClient(this.#options.requestTimeoutMs)
    this.#store = new DynamoStore(this.client, this.#options.shape, this.#options.now)
    this.#recent = new RecentSessions(this.#options.maxCachedSessions)
  }

  #nowSec (): number {
    return epochSeconds(this.#options.now())
  }

  /** An eventually consistent read, then a strongly consistent one before calling a session absent. */
  async #load (id: string): Promise<StoredSession | undefined> {
    return await this.#store.load(id, false) ?? await this.#store.load(id, true)
  }

  /** The live session's object (its cookie's expiry from the row), or null when absent, expired or not a session id. */
  async get (id: string): Promise<SessionRecord | null> {
    if (!isSessionId(id)) return null
    const stored = await this.#load(id)
    if (stored === undefined || !isLiveSession(stored, this.#nowSec())) {
      this.#recent.delete(id)
      return null
    }
    this.#recent.set(id, baselineOf(stored.data, stored.expiresAt, stored.hasDataMap, stored.owner))
    return sessionObject(stored.data, stored.expiresAt)
  }

  /**
   * Writes the session: a create when this process holds no state for the id and the row is absent (a set after this
   * process's destroy of the same id included), otherwise the keys changed since the last read or write, or only the
   * expiry (see expiryNeedsWrite). Never revives a row that has expired, nor one deleted since this process saw it
   * live (another process's destroy, destroyByOwner, the reaper): such a set writes nothing.
   */
  async set (id: string, session: unknown): Promise<void> {
    if (!isSessionId(id)) return
    const nowSec = this.#nowSec()
    const owner = this.#ownerOf(session)
    const record = sessionRecord(this.#options.shape, id, session, owner)
    const expiresAt = cookieExpiry(record, nowSec, this.#options.ttlSeconds)
    if (expiresAt <= nowSec) {
      await this.destroy(id)
      return
    }
    const baseline = this.#recent.get(id) ?? await this.#create(id, record, nowSec, expiresAt, owner)
    if (baseline === 'created' || baseline === undefined) return
    const changes = changesSince(baseline, record)
    // A new or changed owner is written with the update (one index write); an unchanged one costs nothing.
    const owned = owner !== undefined && owner !== baseline.owner ? { owner } : {}
    const ownerChanged = owned.owner !== undefined
    if (changes.size === 0 && !ownerChanged &&
      !expiryNeedsWrite(baseline.expiresAt, expiresAt, nowSec, this.#options.touchAfterSeconds)) return
    if (await this.#store.update(id, nowSec, expiresAt, changes, !baseline.hasDataMap, owned)) {
      this.#recent.set(id, baselineOf(record, expiresAt, true, owner ?? baseline.owner))
    } else {
      // The row was live when this process last saw it: deleted since (a logout elsewhere, destroyByOwner, the reaper
      // after expiry) or expired, the session has ended and this set must not bring it back.
      this.#recent.delete(id)
    }
  }

  /** The session's owner by the `ownerOf` option, validated as `session.setOwner()` validates it. */
  #ownerOf (session: unknown): string | undefined {
    const owner = this.#options.ownerOf?.(session)
    return owner === undefined ? undefined : validateOwner(owner)
  }

  /** A conditional create; when the row exists, its live state to compare with (undefined: expired, left alone). */
  async #create (
    id: string, data: SessionRecord, nowSec: number, expiresAt: number, owner: string | undefined
  ): Promise<Baseline | 'created' | undefined> {
    try {
      await this.#store.create({ id, data, nowSec, createdAt: nowSec, expiresAt, owner })
      this.#recent.set(id, baselineOf(data, expiresAt, true, owner))
      return 'created'
    } catch (err) {
      if (!isConditionFailure(err)) throw err
    }
    const stored = await this.#store.load(id, true)
    if (stored === undefined || !isLiveSession(stored, nowSec)) return undefined
    return baselineOf(stored.data, stored.expiresAt, stored.hasDataMap, stored.owner)
  }

  /** Refreshes the expiry only (express-session's `touch`), throttled as `set`'s; never revives an expired row. */
  async touch (id: string, session: unknown): Promise<void> {
    if (!isSessionId(id)) return
    const nowSec = this.#nowSec()
    const expiresAt = sessionExpiry(session, nowSec, this.#options.ttlSeconds)
    const baseline = this.#recent.get(id)
    if (baseline !== undefined && !expiryNeedsWrite(baseline.expiresAt, expiresAt, nowSec, this.#options.touchAfterSeconds)) return
    if (expiresAt > nowSec && await this.#store.update(id, nowSec, expiresAt, new Map(), false)) {
      if (baseline !== undefined) this.#recent.set(id, { ...baseline, expiresAt })
    } else {
      this.#recent.delete(id)
    }
  }

  /** Deletes the session row; resolves whether or not it existed. */
  async destroy (id: string): Promise<void> {
    if (!isSessionId(id)) return
    this.#recent.delete(id)
    await this.#store.delete(id)
  }
}

/** Session ids the store accepts: non-empty strings other than the reaper's lease item ids. */
function isSessionId (id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && !isInternalId(id)
}
