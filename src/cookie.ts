import fastifyCookie from '@fastify/cookie'
import type { ResolvedCookieOptions } from './options.js'
import { isSessionId } from './ids.js'

/** Browsers keep at most 4096 bytes per cookie; anything longer was not set by us. */
export const MAX_COOKIE_HEADER_BYTES = 16 * 1024
const MAX_COOKIE_VALUE_BYTES = 4096
/**
 * Same-name cookies verified per name and request. Each verification costs one HMAC per secret; a forged header can
 * repeat the name hundreds of times. A browser sends more than one only when another (sub)domain or path set it.
 */
export const MAX_SESSION_COOKIE_CANDIDATES = 4

export type CookieRead =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'valid', readonly id: string, readonly renew: boolean, readonly legacy?: true }

/** What the cookie needs of @fastify/cookie's Signer (tests wrap it to count verifications). */
export interface CookieSigner {
  sign (value: string): string
  unsign (signedValue: string): { valid: boolean, renew: boolean, value: string | null }
}

const { serialize } = fastifyCookie.fastifyCookie

/**
 * True once @fastify/cookie's serializer works in this process: the plugin loads its cookie module when it is first
 * registered, by the app or by us.
 */
export function serializerReady (): boolean {
  try {
    serialize('probe', 'probe', {})
    return true
  } catch {
    return false
  }
}

// Characters @fastify/cookie's serializer leaves as they are (cookie-octets): every id and signature of ours.
const VERBATIM_VALUE = /^[A-Za-z0-9._+/-]*$/

/** A Set-Cookie value split around its value and Max-Age: everything else is the same for every session. */
interface SetCookieTemplate { readonly head: string, readonly tail: string }

const NONE: CookieRead = Object.freeze({ kind: 'none' })
const INVALID: CookieRead = Object.freeze({ kind: 'invalid' })

/**
 * Reads and writes the signed session cookie with @fastify/cookie's signer and serializer, independently of whether
 * (and how) the app registered that plugin.
 */
export class SessionCookie {
  readonly #options: ResolvedCookieOptions
  readonly #signer: CookieSigner
  readonly #now: () => number
  // Per protocol (index 1: https), built on first use: the serializer is loaded by then.
  readonly #templates: Array<SetCookieTemplate | null | undefined> = [undefined, undefined]

  constructor (
    options: ResolvedCookieOptions,
    secrets: readonly string[],
    now: () => number = Date.now,
    signer: CookieSigner = new fastifyCookie.Signer([...secrets])
  ) {
    this.#options = options
    this.#signer = signer
    this.#now = now
  }

  /** The cookie's name for a request over https or http. */
  nameFor (https: boolean): string {
    return https ? this.#options.httpsName : this.#options.name
  }

  /**
   * Finds the session cookie in a Cookie header. Where the header holds several cookies of that name (a sibling
   * subdomain can add one to a name without the `__Host-` prefix), the first validly signed one among the first
   * MAX_SESSION_COOKIE_CANDIDATES wins. The legacy name is read only while it is enabled and only when no cookie of
   * the current name is present: a `__Host-` cookie is never overridden by a planted one. Never throws.
   */
  read (header: string | string[] | undefined, https = false): CookieRead {
    if (header === undefined) return NONE
    const text = Array.isArray(header) ? header.join('; ') : header
    if (text.length > MAX_COOKIE_HEADER_BYTES) return INVALID
    const current = this.#find(text, this.nameFor(https))
    const legacy = this.#legacyName(https)
    if (current !== NONE || legacy === undefined) return current
    const old = this.#find(text, legacy)
    // A session found under the old name is re-issued under the current one.
    return old.kind === 'valid' ? { kind: 'valid', id: old.id, renew: true, legacy: true } : old
  }

  #find (text: string, name: string): CookieRead {
    const prefix = name + '='
    let candidates = 0
    for (const part of text.split(';')) {
      const trimmed = part.trimStart()
      if (!trimmed.startsWith(prefix)) continue
      if (++candidates > MAX_SESSION_COOKIE_CANDIDATES) break
      const result = this.#verify(trimmed.slice(prefix.length).trimEnd())
      if (result !== INVALID) return result
    }
    return candidates > 0 ? INVALID : NONE
  }

  /** The older name to read for this request, if enabled, still before its end and not the current name. */
  #legacyName (https: boolean): string | undefined {
    const legacy = this.#options.legacyName
    if (legacy === undefined || legacy.name === this.nameFor(https) || this.#now() >= legacy.until) return undefined
    return legacy.name
  }

  #verify (raw: string): CookieRead {
    if (raw.length === 0 || raw.length > MAX_COOKIE_VALUE_BYTES) return INVALID
    let value = raw
    if (raw.includes('%')) {
      try {
        value = decodeURIComponent(raw)
      } catch {
        return INVALID
      }
    }
    const { valid, renew, value: id } = this.#signer.unsign(value)
    if (!valid || id === null || !isSessionId(id)) return INVALID
    return { kind: 'valid', id, renew }
  }

  /** A Set-Cookie value carrying the signed id, living as long as the session. */
  serialize (id: string, maxAgeSeconds: number, https: boolean): string {
    const value = this.#signer.sign(id)
    const maxAge = Math.max(0, maxAgeSeconds)
    const template = this.#template(https)
    // What the serializer would write, without its per-call validation of options that were validated at startup.
    if (template !== null && VERBATIM_VALUE.test(value) && Number.isSafeInteger(maxAge)) {
      return `${template.head}${value}; Max-Age=${maxAge}${template.tail}`
    }
    return serialize(this.nameFor(https), value, { ...this.#attributes(https), maxAge })
  }

  /** The serializer's output around the value and Max-Age; null if it does not have that shape. */
  #template (https: boolean): SetCookieTemplate | null {
    const index = https ? 1 : 0
    let template = this.#templates[index]
    if (template === undefined) {
      const name = this.nameFor(https)
      const head = `${name}=`
      const sample = serialize(name, 'v', { ...this.#attributes(https), maxAge: 0 })
      const start = `${head}v; Max-Age=0`
      template = sample.startsWith(start) ? { head, tail: sample.slice(start.length) } : null
      this.#templates[index] = template
    }
    return template
  }

  /** A Set-Cookie value that removes the cookie. */
  clear (https: boolean): string {
    return this.#clearing(this.nameFor(https), https)
  }

  /** A Set-Cookie value that removes the cookie of the legacy name (sent with the path and domain configured now). */
  clearLegacy (https: boolean): string {
    return this.#clearing(this.#options.legacyName?.name ?? this.nameFor(https), https)
  }

  #clearing (name: string, https: boolean): string {
    return serialize(name, '', {
      ...this.#attributes(https),
      maxAge: 0,
      expires: new Date(0)
    })
  }

  #attributes (https: boolean): fastifyCookie.SerializeOptions {
    const o = this.#options
    return {
      path: o.path,
      domain: o.domain,
      httpOnly: o.httpOnly,
      sameSite: o.sameSite,
      secure: o.secure === 'auto' ? https : o.secure,
      partitioned: o.partitioned
    }
  }
}
