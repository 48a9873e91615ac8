import type { ResolvedOptions } from '../options.js'
import type { DynamoStore } from '../store/dynamo-store.js'
import type { RequestObserver } from '../instrumentation.js'
import { epochSeconds } from '../clock.js'
import { computeExpiry, isLiveTombstone } from '../expiry.js'
import { newSessionId } from '../ids.js'
import { validateKey, type JsonValue, type SessionRecord } from '../store/json.js'
import { itemOverhead } from '../store/marshal.js'
import type { StoredSession } from '../store/record.js'
import { NoOwnerIndexError, SessionDestroyedError, SessionGoneError, StoreUnavailableError } from '../errors.js'
import { validateLabel, validateOwner } from '../store/owner.js'
import { OwnerDirectory, type OwnerRevocation } from '../store/owner-directory.js'
import { Session, sessionCore } from '../session.js'
import type { SessionCore } from './core.js'
import { PendingCookie, type CookieAction, type CookieChannel } from './cookie-action.js'
import { SessionContents } from './contents.js'
import { SessionWrites } from './writes.js'

/** What a session reports to metrics. */
type SessionEvents = Pick<RequestObserver, 'created' | 'destroyed'>

/** What a session needs from its plugin: options, the store and the clock. */
export interface SessionEnv {
  readonly options: ResolvedOptions
  readonly store: DynamoStore
  readonly now: () => number
  readonly events: SessionEvents | undefined
}

/** How the hooks open a request's session. */
export interface OpenOptions {
  /** The loaded session's cookie must be sent again (signed with an older secret, or found under the legacy name). */
  readonly renewCookie?: boolean
  /** The request's cookie named a session that is gone: clear it. */
  readonly clearCookie?: boolean
  /** The store failed at load: a stand-in that is never stored (`degraded`). */
  readonly readOnly?: boolean
  /** The request's id was replaced by a login moments ago: nothing is written, no cookie is sent. */
  readonly superseded?: boolean
  readonly cookie?: CookieChannel
}

/** The row this session has in the table, as far as this request knows. */
interface RowState {
  exists: boolean
  /** False when the row was read without a data map: the first change writes the whole map. */
  hasDataMap: boolean
  createdAt: number | undefined
  touchedAt: number | undefined
  expiresAt: number
}

/** The controller behind a session the plugin opened: what only the plugin's hooks call. */
export function controllerOf (session: Session): SessionController {
  const controller = sessionCore(session)
  if (!(controller instanceof SessionController)) throw new TypeError('not a session opened by the plugin')
  return controller
}

/**
 * One request's session: its data, its row and what the response must do with the cookie. `session` is what the
 * request sees; the plugin's hooks alone persist it and carry out its cookie action.
 */
export class SessionController implements SessionCore {
  readonly session: Session
  readonly #env: SessionEnv
  readonly #writes: SessionWrites
  readonly #contents: SessionContents
  readonly #cookie: PendingCookie
  readonly #row: RowState
  readonly #readOnly: boolean
  #id: string | undefined
  #isNew: boolean
  #destroyed = false
  #touchRequested = false
  #persisting: Promise<void> | undefined
  #saveClaimed = false
  #owner: string | undefined
  #label: string | undefined
  // Set in this request and not yet written: the next write of the row carries them.
  #ownerPending = false
  #labelPending = false

  constructor (env: SessionEnv, stored: StoredSession | undefined, opts: OpenOptions = {}) {
    this.#env = env
    this.#writes = new SessionWrites(env.store)
    this.#readOnly = opts.readOnly === true
    this.#id = stored?.id
    this.#isNew = stored === undefined
    this.#contents = new SessionContents(stored?.data)
    const action: CookieAction = stored === undefined
      ? (opts.clearCookie === true ? 'clear' : 'none')
      : (opts.renewCookie === true ? 'set' : 'none')
    this.#cookie = new PendingCookie(action, opts.cookie, opts.superseded === true)
    this.#row = stored === undefined
      ? { exists: false, hasDataMap: true, createdAt: undefined, touchedAt: undefined, expiresAt: this.#freshExpiry() }
      : {
        exists: true,
        hasDataMap: stored.hasDataMap,
        createdAt: stored.createdAt,
        touchedAt: stored.touchedAt,
        expiresAt: stored.expiresAt
      }
    this.#owner = stored?.owner
    this.#label = stored?.label
    this.session = new Session(this)
  }

  get id (): string {
    this.#id ??= newSessionId()
    return this.#id
  }

  get isNew (): boolean {
    return this.#isNew
  }

  get expiresAt (): Date {
    return new Date(this.#row.expiresAt * 1000)
  }

  get destroyed (): boolean {
    return this.#destroyed
  }

  get degraded (): boolean {
    return this.#readOnly
  }

  get owner (): string | undefined {
    return this.#owner
  }

  get label (): string | undefined {
    return this.#label
  }

  setOwner (owner: string): void {
    this.#assertUsable()
    this.#ownerIndex()
    validateOwner(owner)
    if (owner === this.#owner) return
    this.#owner = owner
    this.#ownerPending = true
  }

  setLabel (label: string): void {
    this.#assertUsable()
    this.#ownerIndex()
    validateLabel(label)
    if (label === this.#label) return
    this.#label = label
    this.#labelPending = true
  }

  async destroyOthers (): Promise<OwnerRevocation> {
    this.#assertUsable()
    this.#ownerIndex()
    this.#assertStoreReachable()
    if (this.#owner === undefined) return { deleted: 0, remaining: 0, writeUnits: 0 }
    return await new OwnerDirectory(this.#env.store, this.#env.options).destroy(this.#owner, { except: this.id })
  }

  get (key: string): JsonValue | undefined {
    return this.#contents.get(key)
  }

  set (key: string, value: unknown): void {
    this.#assertUsable()
    validateKey(key)
    if (value === undefined) {
      this.delete(key)
      return
    }
    this.#contents.set(key, value, () => itemOverhead(this.#env.options, this.id, { owner: this.#owner, label: this.#label }))
  }

  delete (key: string): void {
    this.#assertUsable()
    validateKey(key)
    this.#contents.delete(key)
  }

  data (): SessionRecord {
    return this.#contents.copy()
  }

  touch (): void {
    this.#assertUsable()
    this.#touchRequested = true
  }

  async save (): Promise<void> {
    this.#assertUsable()
    this.#assertNotSuperseded()
    this.#assertStoreReachable()
    this.#touchRequested = true
    await this.persist()
  }

  async regenerate (): Promise<void> {
    // After a pending save(), which may be creating the row this moves.
    await this.#oneAtATime(async () => await this.#regenerateNow())
  }

  async destroy (): Promise<void> {
    // After a pending save(): otherwise the row it creates would outlive the logout.
    await this.#oneAtATime(async () => await this.#destroyNow())
  }

  async cookieHeader (): Promise<string | undefined> {
    this.#cookie.deliveredByApp()
    await this.persist()
    return this.#cookie.takeHeader()
  }

  /** True the first time only: the plugin's hooks save a session once (Fastify runs onSend again for an error reply). */
  claimSave (): boolean {
    if (this.#saveClaimed) return false
    this.#saveClaimed = true
    return true
  }

  /** Called by the plugin once per request before the response goes out: writes what changed, or the due expiry refresh. */
  async persist (): Promise<void> {
    await this.#oneAtATime(async () => await this.#persistNow())
  }

  /** persist(), or undefined (and no promise) when no write is in flight and there is nothing to write. */
  persistIfNeeded (): Promise<void> | undefined {
    if (this.#persisting === undefined && !this.#hasWrite(epochSeconds(this.#env.now()))) return undefined
    return this.persist()
  }

  /** True when persisting now would write: a new session with something to store, or a change or due refresh. */
  #hasWrite (nowSec: number): boolean {
    if (this.#readOnly || this.#destroyed || this.#cookie.superseded) return false
    const pending = this.#contents.changes.size > 0 || this.#touchRequested || this.#ownerPending || this.#labelPending
    if (!this.#row.exists || pending) return pending
    const touchedAt = this.#row.touchedAt
    return touchedAt === undefined || nowSec - touchedAt >= this.#env.options.touchAfterSeconds
  }

  /** Seconds the cookie should live. */
  maxAgeSeconds (): number {
    return this.#row.expiresAt - epochSeconds(this.#env.now())
  }

  /** What the response must do with the cookie; reading it resets it. */
  takeCookieAction (): CookieAction {
    return this.#cookie.take()
  }

  async #regenerateNow (): Promise<void> {
    this.#assertNotSuperseded()
    this.#assertStoreReachable()
    this.#cookie.assertSettable('regenerate()')
    const oldId = this.#row.exists ? this.#id : undefined
    // The absolute timeout runs from the first creation: a new id does not restart it.
    const createdAt = oldId === undefined ? undefined : this.#row.createdAt
    // After destroy() the cookie stays cleared unless the new session gets stored.
    this.#destroyed = false
    this.#id = newSessionId()
    this.#isNew = true
    this.#row.createdAt = undefined
    this.#row.touchedAt = undefined
    this.#row.exists = false
    if (oldId === undefined) {
      // A fresh session with data is stored (and its cookie set) when the response is sent.
      this.#contents.changeAll()
      return
    }
    // The new row exists before the old one goes, so a concurrent read of the old id sees it whole or not at all.
    await this.#create(createdAt)
    const oldWasLive = await this.#writes.supersede(oldId, epochSeconds(this.#env.now()), this.#env.options.tombstoneSeconds)
    if (!oldWasLive) {
      // Destroyed, expired or superseded by a concurrent login meanwhile: its copy must not live on under the new id,
      // nor reach the client, even if deleting the copy fails.
      const copyId = this.id
      await this.#markEnded(oldId)
      await this.#writes.delete(copyId)
      throw new SessionGoneError()
    }
    this.#env.events?.destroyed()
  }

  async #destroyNow (): Promise<void> {
    this.#assertNotSuperseded()
    if (this.#destroyed) return
    this.#assertStoreReachable()
    this.#cookie.assertSettable('destroy()')
    const hadRow = this.#row.exists
    if (hadRow && this.#id !== undefined) {
      if (!await this.#writes.delete(this.#id)) {
        // The row is a login's tombstone: that login's cookie must survive this late logout.
        this.#markDestroyed(true)
        this.#cookie.supersede()
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
    if (superseded) this.#cookie.supersede()
  }

  #markDestroyed (hadRow: boolean): void {
    this.#cookie.end(hadRow || !this.#isNew)
    this.#destroyed = true
    this.#row.exists = false
    this.#contents.clear()
    this.#touchRequested = false
    // A logout ends the owner's claim too: a session regenerated afterwards starts anonymous.
    this.#owner = undefined
    this.#label = undefined
    this.#ownerPending = false
    this.#labelPending = false
  }

  /** The owner and label the next UpdateItem writes: those set in this request only (a refresh writes neither). */
  #ownerChange (): { owner?: string, label?: string } {
    return {
      ...(this.#ownerPending && this.#owner !== undefined ? { owner: this.#owner } : {}),
      ...(this.#labelPending && this.#label !== undefined ? { label: this.#label } : {})
    }
  }

  /** After a write that carried them: the owner and label are stored, unless set again meanwhile. */
  #ownerWritten (written: { owner?: string | undefined, label?: string | undefined }): void {
    if (written.owner === this.#owner) this.#ownerPending = false
    if (written.label === this.#label) this.#labelPending = false
  }

  #ownerIndex (): void {
    if (this.#env.options.ownerIndex === false) throw new NoOwnerIndexError('ownerIndex: false', 'the plugin was registered without it')
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
    const nowSec = epochSeconds(this.#env.now())
    if (!this.#hasWrite(nowSec)) return
    if (!this.#row.exists) {
      await this.#create()
      return
    }
    const changes = this.#contents.changes
    const ownerPending = this.#ownerPending || this.#labelPending
    const createdAt = this.#row.createdAt ?? nowSec
    const expiresAt = this.#expiry(nowSec, createdAt)
    const dataChanged = changes.size > 0
    const changed = dataChanged || ownerPending
    const owned = this.#ownerChange()
    const written = await changes.write(async (pending) =>
      await this.#writes.update(this.id, nowSec, expiresAt, pending, !this.#row.hasDataMap, owned))
    this.#touchRequested = false
    if (written) this.#ownerWritten(owned)
    if (!written) {
      // Destroyed, expired or superseded meanwhile: never resurrect it. A lost change is an error; a lost refresh is not.
      await this.#markEnded(this.id)
      if (changed) throw new SessionGoneError()
      return
    }
    this.#row.hasDataMap ||= dataChanged
    this.#stored(nowSec, createdAt, expiresAt)
  }

  /** Writes a new row; `createdAt` (epoch seconds) carries a regenerated session's creation time over. */
  async #create (createdAt = epochSeconds(this.#env.now())): Promise<void> {
    this.#cookie.assertSettable('storing a new session')
    const nowSec = epochSeconds(this.#env.now())
    const expiresAt = this.#expiry(nowSec, createdAt)
    const data = this.#contents.record
    const owned = { owner: this.#owner, label: this.#label }
    await this.#contents.changes.write(async () => {
      await this.#writes.create({ id: this.id, data, nowSec, createdAt, expiresAt, ...owned })
    })
    this.#ownerWritten(owned)
    this.#env.events?.created()
    this.#row.exists = true
    this.#row.hasDataMap = true
    this.#touchRequested = false
    this.#stored(nowSec, createdAt, expiresAt)
  }

  /** After a write of the row: its times as written, and the response carries the cookie. */
  #stored (nowSec: number, createdAt: number, expiresAt: number): void {
    this.#row.createdAt = createdAt
    this.#row.touchedAt = nowSec
    this.#row.expiresAt = expiresAt
    this.#cookie.set()
  }

  #expiry (nowSec: number, createdAt: number): number {
    return computeExpiry(nowSec, this.#env.options.ttlSeconds, createdAt, this.#env.options.absoluteTimeoutSeconds)
  }

  #freshExpiry (): number {
    const nowSec = epochSeconds(this.#env.now())
    return this.#expiry(nowSec, nowSec)
  }

  #assertUsable (): void {
    if (this.#destroyed) throw new SessionDestroyedError()
  }

  /** A degraded session's store failed at load: ending or replacing it must not look like it worked. */
  #assertStoreReachable (): void {
    if (this.#readOnly) throw new StoreUnavailableError('the session could not be loaded')
  }

  /** save(), destroy() and regenerate() of a superseded session would write, or set a cookie over the login's. */
  #assertNotSuperseded (): void {
    if (this.#cookie.superseded) throw new SessionGoneError()
  }
}
