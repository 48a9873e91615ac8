import type { ResolvedOptions } from './options.js'
import type { DynamoStore } from './store/dynamo-store.js'
import { epochSeconds } from './clock.js'
import { computeExpiry, isLiveTombstone } from './expiry.js'
import { newSessionId } from './ids.js'
import { cloneJson, setOwn, validateKey, type JsonValue, type SessionRecord } from './store/json.js'
import { MAX_ITEM_BYTES, entrySize, itemOverhead } from './store/marshal.js'
import type { StoredSession } from './store/record.js'
import { errorName } from './aws-errors.js'
import {
  SaveFailedError, SessionDestroyedError, SessionGoneError, SessionHijackedError, SessionTooLargeError, StoreUnavailableError
} from './errors.js'

/**
 * Session data, typed by augmentation:
 *
 * ```ts
 * declare module 'fastify-dynamo-session' {
 *   interface SessionData { userId: string, visits: number }
 * }
 * ```
 *
 * Left empty, any string key holds any JSON value.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SessionData {}

export type SessionKey = [keyof SessionData] extends [never] ? string : Extract<keyof SessionData, string>
export type SessionValue<K extends string> = K extends keyof SessionData ? SessionData[K] : JsonValue

/** What the response must do with the cookie once the session is persisted. */
export type CookieAction = 'none' | 'set' | 'clear'

/** Events the plugin reports to metrics. */
export interface SessionEvents {
  created (): void
  destroyed (): void
}

/** What a Session needs from its plugin: options, the store and the clock. */
export interface SessionEnv {
  readonly options: ResolvedOptions
  readonly store: DynamoStore
  readonly now: () => number
  readonly events: SessionEvents | undefined
}

/** @internal How a Session reaches its response's `Set-Cookie` header: one per request, from the plugin. */
export interface CookieChannel {
  /** False once the reply was hijacked or answered through `reply.raw`: the plugin's onSend will not run. */
  readonly pluginCanSet: () => boolean
  /** True once the raw response's headers are out: no `Set-Cookie` can be added any more. */
  readonly headersSent: () => boolean
  /** The `Set-Cookie` value that carries out an action. */
  readonly serialize: (action: 'set' | 'clear') => string
}

function storeFailure (err: unknown): Error {
  return new SaveFailedError(errorName(err) || 'unknown error', { cause: err })
}

/** The per-request session: `request.session`. */
export class Session {
  readonly #env: SessionEnv
  #id: string | undefined
  #isNew: boolean
  #rowExists: boolean
  #hasDataMap: boolean
  #createdAt: number | undefined
  #touchedAt: number | undefined
  #expiresAt: number
  #data: SessionRecord
  readonly #sizes = new Map<string, number>()
  #dataBytes = 0
  // Sizes of loaded data are computed on the first write: read-only requests never pay for it.
  #sizesKnown = true
  #changes = new Map<string, JsonValue | undefined>()
  #touchRequested = false
  #destroyed = false
  // The id this request carried was superseded by a login in another request: nothing is ever written and no cookie
  // is sent, since the client's cookie may be the login's new one.
  #superseded = false
  #persisting: Promise<void> | undefined
  #cookie: CookieAction
  readonly #readOnly: boolean
  readonly #channel: CookieChannel | undefined
  // Set by cookieHeader(): the app delivers the cookie itself (after reply.hijack()).
  #appCookie = false

  /** @internal Built by the plugin; use `request.session`. */
  constructor (env: SessionEnv, stored: StoredSession | undefined, opts: { renewCookie?: boolean, clearCookie?: boolean, readOnly?: boolean, superseded?: boolean, cookie?: CookieChannel } = {}) {
    this.#env = env
    this.#readOnly = opts.readOnly === true
    this.#superseded = opts.superseded === true
    this.#channel = opts.cookie
    if (stored === undefined) {
      this.#id = undefined
      this.#isNew = true
      this.#rowExists = false
      this.#hasDataMap = true
      this.#data = {}
      this.#expiresAt = this.#freshExpiry(epochSeconds(env.now()))
      this.#cookie = opts.clearCookie === true ? 'clear' : 'none'
    } else {
      this.#id = stored.id
      this.#isNew = false
      this.#rowExists = true
      this.#hasDataMap = stored.hasDataMap
      this.#createdAt = stored.createdAt
      this.#touchedAt = stored.touchedAt
      this.#expiresAt = stored.expiresAt
      this.#data = { ...stored.data }
      this.#sizesKnown = false
      this.#cookie = opts.renewCookie === true ? 'set' : 'none'
    }
  }

  /** The session id (created on first access for a new session). */
  get id (): string {
    this.#id ??= newSessionId()
    return this.#id
  }

  /** True when the session was started in this request. */
  get isNew (): boolean {
    return this.#isNew
  }

  /** When the session expires unless it is used again. */
  get expiresAt (): Date {
    return new Date(this.#expiresAt * 1000)
  }

  /** True after destroy() in this request (until regenerate()). */
  get destroyed (): boolean {
    return this.#destroyed
  }

  /**
   * True when DynamoDB failed while loading and `onStoreError: 'anonymous'` gave the request this empty stand-in
   * (also `isNew`). Its changes are never stored; `save()`, `regenerate()` and `destroy()` reject with
   * FST_DYNAMO_SESSION_STORE_UNAVAILABLE rather than pretend to succeed. False otherwise.
   */
  get degraded (): boolean {
    return this.#readOnly
  }

  /** A copy of the value: change it, then set() it to store the change. */
  get<K extends SessionKey> (key: K): SessionValue<K> | undefined {
    // Own keys only: a key such as 'constructor' is absent until set.
    const value = Object.hasOwn(this.#data, key) ? this.#data[key] : undefined
    return (typeof value === 'object' && value !== null ? structuredClone(value) : value) as SessionValue<K> | undefined
  }

  /** Stores a JSON-compatible value (a deep copy is kept). `undefined` deletes the key. */
  set<K extends SessionKey> (key: K, value: SessionValue<K> | undefined): void {
    this.#assertUsable()
    validateKey(key)
    if (value === undefined) {
      this.delete(key)
      return
    }
    const copy = cloneJson(key, value)
    this.#knowSizes()
    const size = entrySize(key, copy)
    const total = this.#dataBytes - (this.#sizes.get(key) ?? 0) + size + itemOverhead(this.#env.options, this.id)
    if (total > MAX_ITEM_BYTES) throw new SessionTooLargeError(total, MAX_ITEM_BYTES)
    this.#addSize(key, size)
    setOwn(this.#data, key, copy)
    this.#changes.set(key, copy)
  }

  delete<K extends SessionKey> (key: K): void {
    this.#assertUsable()
    validateKey(key)
    if (!Object.hasOwn(this.#data, key)) return
    this.#knowSizes()
    this.#addSize(key, 0)
    delete this.#data[key]
    this.#changes.set(key, undefined)
  }

  /** All data, as a copy. */
  data (): Readonly<SessionRecord> {
    return structuredClone(this.#data)
  }

  /** Asks for the expiry to be refreshed (and a new session to be stored) when the response is sent. */
  touch (): void {
    this.#assertUsable()
    this.#touchRequested = true
  }

  /**
   * Replaces the id (keeping the data and the creation time) and turns the old row into a short-lived tombstone: call
   * it when privileges change, e.g. at login.
   */
  async regenerate (): Promise<void> {
    // After a pending save(), which may be creating the row this moves.
    await this.#oneAtATime(async () => await this.#regenerateNow())
  }

  async #regenerateNow (): Promise<void> {
    this.#assertNotSuperseded()
    this.#assertStoreReachable()
    this.#assertCookieSettable('regenerate()')
    const oldId = this.#rowExists ? this.#id : undefined
    // The absolute timeout runs from the first creation: a new id does not restart it.
    const createdAt = oldId === undefined ? undefined : this.#createdAt
    // After destroy() the cookie stays cleared unless the new session gets stored.
    this.#destroyed = false
    this.#id = newSessionId()
    this.#isNew = true
    this.#createdAt = undefined
    this.#touchedAt = undefined
    if (oldId === undefined) {
      this.#rowExists = false
      // A fresh session with data is stored (and its cookie set) when the response is sent.
      for (const [k, v] of Object.entries(this.#data)) this.#changes.set(k, v)
      return
    }
    // The new row exists before the old one goes, so a concurrent read of the old id sees it whole or not at all.
    this.#rowExists = false
    await this.#create(createdAt)
    let oldWasLive: boolean
    try {
      oldWasLive = await this.#env.store.supersede(oldId, epochSeconds(this.#env.now()), this.#env.options.tombstoneSeconds)
    } catch (err) {
      throw storeFailure(err)
    }
    if (!oldWasLive) {
      // Destroyed, expired or superseded by a concurrent login meanwhile: its copy must not live on under the new id,
      // nor reach the client, even if deleting the copy fails.
      const copyId = this.id
      await this.#markEnded(oldId)
      try {
        await this.#env.store.delete(copyId)
      } catch (err) {
        throw storeFailure(err)
      }
      throw new SessionGoneError()
    }
    this.#env.events?.destroyed()
  }

  /** Deletes the session row now; the response clears the cookie. */
  async destroy (): Promise<void> {
    // After a pending save(): otherwise the row it creates would outlive the logout.
    await this.#oneAtATime(async () => await this.#destroyNow())
  }

  async #destroyNow (): Promise<void> {
    this.#assertNotSuperseded()
    if (this.#destroyed) return
    this.#assertStoreReachable()
    this.#assertCookieSettable('destroy()')
    const hadRow = this.#rowExists
    if (hadRow && this.#id !== undefined) {
      let deleted: boolean
      try {
        deleted = await this.#env.store.delete(this.#id)
      } catch (err) {
        throw storeFailure(err)
      }
      if (!deleted) {
        // The row is a login's tombstone: that login's cookie must survive this late logout.
        this.#markDestroyed(true)
        this.#markSuperseded()
        throw new SessionGoneError()
      }
      this.#env.events?.destroyed()
    }
    this.#markDestroyed(hadRow)
  }

  /**
   * After a conditional write failed on `id`: the session is over. A login's tombstone there means the client may
   * already hold the login's cookie, so the response must not touch it; otherwise the cookie is cleared. When the
   * row cannot be read, the cookie is left alone too (the next request clears a dead one).
   */
  async #markEnded (id: string): Promise<void> {
    let superseded: boolean
    try {
      const row = await this.#env.store.load(id, true)
      superseded = row !== undefined && isLiveTombstone(row, epochSeconds(this.#env.now()))
    } catch {
      superseded = true
    }
    this.#markDestroyed(true)
    if (superseded) this.#markSuperseded()
  }

  #markSuperseded (): void {
    this.#superseded = true
    this.#cookie = 'none'
  }

  #markDestroyed (hadRow: boolean): void {
    this.#cookie = hadRow || !this.#isNew || this.#cookie !== 'none' ? 'clear' : 'none'
    this.#destroyed = true
    this.#rowExists = false
    this.#data = {}
    this.#sizes.clear()
    this.#dataBytes = 0
    this.#changes.clear()
    this.#touchRequested = false
  }

  /** Writes pending changes now (otherwise they are written once, before the response is sent). */
  async save (): Promise<void> {
    this.#assertUsable()
    this.#assertNotSuperseded()
    this.#assertStoreReachable()
    this.#touchRequested = true
    await this.persist()
  }

  /**
   * @internal Called by the plugin once per request before the response goes out: writes what changed, or the
   * due expiry refresh.
   */
  async persist (): Promise<void> {
    await this.#oneAtATime(async () => await this.#persistNow())
  }

  /**
   * One write at a time: a save() left unawaited, or two in parallel, must not write twice (or fail the second
   * create on its own condition), and destroy() or regenerate() must act on what a pending save() wrote.
   */
  async #oneAtATime (write: () => Promise<void>): Promise<void> {
    while (this.#persisting !== undefined) await this.#persisting.catch(() => {})
    this.#persisting = write().finally(() => { this.#persisting = undefined })
    await this.#persisting
  }

  async #persistNow (): Promise<void> {
    if (this.#readOnly || this.#destroyed || this.#superseded) return
    const nowSec = epochSeconds(this.#env.now())
    if (!this.#rowExists) {
      if (this.#changes.size > 0 || this.#touchRequested) await this.#create()
      return
    }
    const touchDue = this.#touchedAt === undefined || nowSec - this.#touchedAt >= this.#env.options.touchAfterSeconds
    if (this.#changes.size === 0 && !this.#touchRequested && !touchDue) return

    const createdAt = this.#createdAt ?? nowSec
    const expiresAt = computeExpiry(nowSec, this.#env.options.ttlSeconds, createdAt, this.#env.options.absoluteTimeoutSeconds)
    // Changes made while the write is in flight belong to the next write.
    const changes = this.#takeChanges()
    let written: boolean
    try {
      written = await this.#env.store.update(this.id, nowSec, expiresAt, changes, !this.#hasDataMap)
    } catch (err) {
      this.#restoreChanges(changes)
      throw storeFailure(err)
    }
    this.#touchRequested = false
    if (!written) {
      // Destroyed, expired or superseded meanwhile: never resurrect it. A lost change is an error; a lost refresh is not.
      await this.#markEnded(this.id)
      if (changes.size > 0) throw new SessionGoneError()
      return
    }
    this.#hasDataMap ||= changes.size > 0
    this.#createdAt = createdAt
    this.#touchedAt = nowSec
    this.#expiresAt = expiresAt
    this.#cookie = 'set'
  }

  /**
   * For routes that answer through `reply.raw` (after `reply.hijack()`): writes pending changes now (storing a new
   * session too) and returns the `Set-Cookie` value the response must carry, or `undefined` when the cookie does not
   * change. Call it after the route's last session call and pass the value to `reply.raw.setHeader('set-cookie', …)`
   * before writing the headers: the session counts that cookie as delivered.
   */
  async cookieHeader (): Promise<string | undefined> {
    const channel = this.#channel
    if (channel === undefined || channel.headersSent()) throw new SessionHijackedError('the headers were already sent')
    this.#appCookie = true
    await this.persist()
    const action = this.takeCookieAction()
    return action === 'none' ? undefined : channel.serialize(action)
  }

  /** @internal Seconds the cookie should live. */
  maxAgeSeconds (): number {
    return this.#expiresAt - epochSeconds(this.#env.now())
  }

  /** Writes a new row; `createdAt` (epoch seconds) carries a regenerated session's creation time over. */
  async #create (createdAt = epochSeconds(this.#env.now())): Promise<void> {
    this.#assertCookieSettable('storing a new session')
    const nowSec = epochSeconds(this.#env.now())
    const expiresAt = computeExpiry(nowSec, this.#env.options.ttlSeconds, createdAt, this.#env.options.absoluteTimeoutSeconds)
    const changes = this.#takeChanges()
    try {
      await this.#env.store.create({ id: this.id, data: this.#data, nowSec, createdAt, expiresAt })
    } catch (err) {
      this.#restoreChanges(changes)
      throw storeFailure(err)
    }
    this.#env.events?.created()
    this.#rowExists = true
    this.#hasDataMap = true
    this.#createdAt = createdAt
    this.#touchedAt = nowSec
    this.#expiresAt = expiresAt
    this.#touchRequested = false
    this.#cookie = 'set'
  }

  #takeChanges (): Map<string, JsonValue | undefined> {
    const changes = this.#changes
    this.#changes = new Map()
    return changes
  }

  /** After a failed write: its changes are pending again, unless changed since. */
  #restoreChanges (changes: Map<string, JsonValue | undefined>): void {
    for (const [key, value] of changes) if (!this.#changes.has(key)) this.#changes.set(key, value)
  }

  #freshExpiry (nowSec: number): number {
    return computeExpiry(nowSec, this.#env.options.ttlSeconds, nowSec, this.#env.options.absoluteTimeoutSeconds)
  }

  /** @internal What the response must do with the cookie; reading it resets it. */
  takeCookieAction (): CookieAction {
    const action = this.#superseded ? 'none' : this.#cookie
    this.#cookie = 'none'
    return action
  }

  #knowSizes (): void {
    if (this.#sizesKnown) return
    this.#sizesKnown = true
    for (const [k, v] of Object.entries(this.#data)) this.#addSize(k, entrySize(k, v))
  }

  #addSize (key: string, size: number): void {
    this.#dataBytes += size - (this.#sizes.get(key) ?? 0)
    if (size === 0) this.#sizes.delete(key)
    else this.#sizes.set(key, size)
  }

  #assertUsable (): void {
    if (this.#destroyed) throw new SessionDestroyedError()
  }

  /** A degraded session's store failed at load: ending or replacing it must not look like it worked. */
  #assertStoreReachable (): void {
    if (this.#readOnly) throw new StoreUnavailableError('the session could not be loaded')
  }

  /** After reply.hijack() only the app can deliver a cookie, through cookieHeader() while the headers are unsent. */
  #assertCookieSettable (what: string): void {
    const channel = this.#channel
    if (channel === undefined || channel.pluginCanSet()) return
    if (this.#appCookie && !channel.headersSent()) return
    throw new SessionHijackedError(what)
  }

  /** save(), destroy() and regenerate() of a superseded session would write, or set a cookie over the login's. */
  #assertNotSuperseded (): void {
    if (this.#superseded) throw new SessionGoneError()
  }
}
