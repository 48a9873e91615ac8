import type { JsonValue, SessionRecord } from './store/json.js'
import type { SessionCore } from './session/core.js'
import type { OwnerRevocation } from './store/owner-directory.js'

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

// The plugin's way from a session to its core, without a per-request WeakMap entry (set by Session's static block).
let coreOf: (session: Session) => SessionCore | undefined = () => undefined

/** The core behind a session the plugin built; undefined for any other object. */
export function sessionCore (session: Session): SessionCore | undefined {
  return coreOf(session)
}

/** The per-request session: `request.session`. Its members are exactly the README's `request.session` table. */
export class Session {
  readonly #core: SessionCore

  static {
    coreOf = (session) => typeof session === 'object' && session !== null && #core in session ? session.#core : undefined
  }

  /** @internal Built by the plugin; use `request.session`. */
  constructor (core: SessionCore) {
    this.#core = core
  }

  /** The session id (created on first access for a new session). */
  get id (): string {
    return this.#core.id
  }

  /** True when the session was started in this request. */
  get isNew (): boolean {
    return this.#core.isNew
  }

  /** When the session expires unless it is used again. */
  get expiresAt (): Date {
    return this.#core.expiresAt
  }

  /** True after destroy() in this request (until regenerate()). */
  get destroyed (): boolean {
    return this.#core.destroyed
  }

  /**
   * True when DynamoDB failed while loading and `onStoreError: 'anonymous'` gave the request this empty stand-in
   * (also `isNew`). Its changes are never stored; `save()`, `regenerate()` and `destroy()` reject with
   * FST_DYNAMO_SESSION_STORE_UNAVAILABLE rather than pretend to succeed. False otherwise.
   */
  get degraded (): boolean {
    return this.#core.degraded
  }

  /** The owner id set by `setOwner()` (stored with the session); undefined for a session without an owner. */
  get owner (): string | undefined {
    return this.#core.owner
  }

  /** The label set by `setLabel()`; undefined when none. */
  get label (): string | undefined {
    return this.#core.label
  }

  /**
   * Binds the session to an opaque owner id (a user id, not an email: it is stored in clear; at most 256 characters),
   * for `fastify.sessionStore.listByOwner()` and `destroyByOwner()`. Written with the session's next write; called
   * before `regenerate()` at login, it goes into the new row's one PutItem. Never logged.
   */
  setOwner (owner: string): void {
    this.#core.setOwner(owner)
  }

  /** A label the owner's session list shows (a device name, a user agent; at most 256 characters). */
  setLabel (label: string): void {
    this.#core.setLabel(label)
  }

  /**
   * "Log out everywhere else": deletes every other session of this session's owner (see
   * `fastify.sessionStore.destroyByOwner`). Resolves `{ deleted: 0, remaining: 0 }` for a session without an owner.
   */
  async destroyOthers (): Promise<OwnerRevocation> {
    return await this.#core.destroyOthers()
  }

  /** A copy of the value: change it, then set() it to store the change. */
  get<K extends SessionKey> (key: K): SessionValue<K> | undefined {
    return this.#core.get(key) as SessionValue<K> | undefined
  }

  /** Stores a JSON-compatible value (a deep copy is kept). `undefined` deletes the key. */
  set<K extends SessionKey> (key: K, value: SessionValue<K> | undefined): void {
    this.#core.set(key, value)
  }

  delete<K extends SessionKey> (key: K): void {
    this.#core.delete(key)
  }

  /** All data, as a copy. */
  data (): Readonly<SessionRecord> {
    return this.#core.data()
  }

  /** Asks for the expiry to be refreshed (and a new session to be stored) when the response is sent. */
  touch (): void {
    this.#core.touch()
  }

  /** Writes pending changes now (otherwise they are written once, before the response is sent). */
  async save (): Promise<void> {
    await this.#core.save()
  }

  /**
   * Replaces the id (keeping the data and the creation time) and turns the old row into a short-lived tombstone: call
   * it when privileges change, e.g. at login.
   */
  async regenerate (): Promise<void> {
    await this.#core.regenerate()
  }

  /** Deletes the session row now; the response clears the cookie. */
  async destroy (): Promise<void> {
    await this.#core.destroy()
  }

  /**
   * For routes that answer through `reply.raw` (after `reply.hijack()`): writes pending changes now (storing a new
   * session too) and returns the `Set-Cookie` value the response must carry, or `undefined` when the cookie does not
   * change. Call it after the route's last session call and pass the value to `reply.raw.setHeader('set-cookie', …)`
   * before writing the headers: the session counts that cookie as delivered.
   */
  async cookieHeader (): Promise<string | undefined> {
    return await this.#core.cookieHeader()
  }
}
