import { SessionHijackedError } from '../errors.js'

/** What the response must do with the cookie once the session is persisted. */
export type CookieAction = 'none' | 'set' | 'clear'

/** How a Session reaches its response's `Set-Cookie` header: one per request, from the plugin. */
export interface CookieChannel {
  /** False once the reply was hijacked or answered through `reply.raw`: the plugin's onSend will not run. */
  readonly pluginCanSet: () => boolean
  /** True once the raw response's headers are out: no `Set-Cookie` can be added any more. */
  readonly headersSent: () => boolean
  /** The `Set-Cookie` value that carries out an action. */
  readonly serialize: (action: 'set' | 'clear') => string
}

/** What a session's response must do with the cookie, and who can still do it: the plugin, the app, or nobody. */
export class PendingCookie {
  #action: CookieAction
  // The id this request carried was superseded by a login in another request: no cookie is ever sent, since the
  // client's cookie may be the login's new one.
  #superseded: boolean
  readonly #channel: CookieChannel | undefined
  // Set by cookieHeader(): the app delivers the cookie itself (after reply.hijack()).
  #appDelivers = false

  constructor (action: CookieAction, channel: CookieChannel | undefined, superseded: boolean) {
    this.#action = action
    this.#channel = channel
    this.#superseded = superseded
  }

  get superseded (): boolean {
    return this.#superseded
  }

  /** The session was stored: the response carries its cookie. */
  set (): void {
    this.#action = 'set'
  }

  /** The session ended: its cookie is cleared, unless there is none to clear (`hadCookie` false, nothing set). */
  end (hadCookie: boolean): void {
    this.#action = hadCookie || this.#action !== 'none' ? 'clear' : 'none'
  }

  /** A login superseded the session: the client's cookie is left alone from now on. */
  supersede (): void {
    this.#superseded = true
    this.#action = 'none'
  }

  /** What the response must do with the cookie; reading it resets it. */
  take (): CookieAction {
    const action = this.#superseded ? 'none' : this.#action
    this.#action = 'none'
    return action
  }

  /** After reply.hijack() only the app can deliver a cookie, through cookieHeader() while the headers are unsent. */
  assertSettable (what: string): void {
    const channel = this.#channel
    if (channel === undefined || channel.pluginCanSet()) return
    if (this.#appDelivers && !channel.headersSent()) return
    throw new SessionHijackedError(what)
  }

  /** cookieHeader() was called: from now on the app delivers the cookie, until the headers are sent. */
  deliveredByApp (): void {
    const channel = this.#channel
    if (channel === undefined || channel.headersSent()) throw new SessionHijackedError('the headers were already sent')
    this.#appDelivers = true
  }

  /** The `Set-Cookie` value for the app to send (undefined when the cookie does not change); resets the action. */
  takeHeader (): string | undefined {
    const action = this.take()
    // deliveredByApp() checked that there is a channel.
    return action === 'none' ? undefined : this.#channel?.serialize(action)
  }
}
