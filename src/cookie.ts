import fastifyCookie from '@fastify/cookie'
import type { ResolvedCookieOptions } from './options.js'
import { isSessionId } from './store/item.js'

/** Browsers keep at most 4096 bytes per cookie; anything longer was not set by us. */
export const MAX_COOKIE_HEADER_BYTES = 16 * 1024
const MAX_COOKIE_VALUE_BYTES = 4096

export type CookieRead =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'valid', readonly id: string, readonly renew: boolean }

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

const NONE: CookieRead = Object.freeze({ kind: 'none' })
const INVALID: CookieRead = Object.freeze({ kind: 'invalid' })

/**
 * Reads and writes the signed session cookie with @fastify/cookie's signer and serializer, independently of whether
 * (and how) the app registered that plugin.
 */
export class SessionCookie {
  readonly #options: ResolvedCookieOptions
  readonly #signer: InstanceType<typeof fastifyCookie.Signer>
  readonly #prefix: string

  constructor (options: ResolvedCookieOptions, secrets: readonly string[]) {
    this.#options = options
    this.#signer = new fastifyCookie.Signer([...secrets])
    this.#prefix = options.name + '='
  }

  get name (): string {
    return this.#options.name
  }

  /**
   * Finds the session cookie in a Cookie header. Where the header holds several cookies of that name (a sibling
   * subdomain can add one), the first validly signed one wins. Never throws.
   */
  read (header: string | string[] | undefined): CookieRead {
    if (header === undefined) return NONE
    const text = Array.isArray(header) ? header.join('; ') : header
    if (text.length > MAX_COOKIE_HEADER_BYTES) return INVALID
    let found = false
    for (const part of text.split(';')) {
      const trimmed = part.trimStart()
      if (!trimmed.startsWith(this.#prefix)) continue
      found = true
      const result = this.#verify(trimmed.slice(this.#prefix.length).trimEnd())
      if (result !== INVALID) return result
    }
    return found ? INVALID : NONE
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
    return serialize(this.#options.name, this.#signer.sign(id), {
      ...this.#attributes(https),
      maxAge: Math.max(0, maxAgeSeconds)
    })
  }

  /** A Set-Cookie value that removes the cookie. */
  clear (https: boolean): string {
    return serialize(this.#options.name, '', {
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
