import * as crypto from 'node:crypto'
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import type { AwsCredentialIdentity } from '@smithy/types'

/** Headers SigV4 leaves unsigned, as @smithy/signature-v4's ALWAYS_UNSIGNABLE_HEADERS (hop-by-hop, tracing, user agent). */
const UNSIGNABLE_HEADERS = new Set([
  'authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards', 'pragma', 'referer', 'te',
  'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id'
])
/** Header name prefixes left unsigned too (@smithy/signature-v4's PROXY_HEADER_PATTERN and SEC_HEADER_PATTERN). */
const UNSIGNABLE_PREFIX = /^(?:proxy|sec)-/
/** Headers the signer writes itself: a caller's own copies, whatever their case, are dropped first (as smithy's prepareRequest). */
const GENERATED_HEADERS = new Set(['authorization', 'x-amz-date', 'date'])
const DATE_HEADER = 'x-amz-date'
const TOKEN_HEADER = 'x-amz-security-token'
const CONTENT_SHA256_HEADER = 'x-amz-content-sha256'
const ALGORITHM = 'AWS4-HMAC-SHA256'
const SCOPE_TERMINATOR = 'aws4_request'
/** A value that trimming or whitespace collapsing would change. */
const UNTIDY_VALUE = /[\t\r\n]| {2}|^ | $/

/** A request as the fast transport sends it: no query string (its path has no '?'). */
export interface SignableRequest {
  readonly method: string
  /** Starts with '/'; escaped and normalised (dot segments, empty segments) for signing when uriEscapePath is on. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  /** Hashed as UTF-8. */
  readonly body: string
}

export interface SigV4SignerOptions {
  readonly credentials: AwsCredentialIdentity
  readonly region: string
  readonly service: string
  /** Escape and normalise the path for the canonical request, as smithy's option of that name. Defaults to true. */
  readonly uriEscapePath?: boolean
  /**
   * Send and sign `x-amz-content-sha256` (the body's hash) unless the request has one, as smithy's option of that name.
   * Defaults to true, as smithy's SignatureV4 and the SDK's DynamoDB client (which send it on every request).
   */
  readonly applyChecksum?: boolean
}

/**
 * A synchronous AWS Signature Version 4 header signer for one identity and one scope (region and service): for a
 * request with the same method, path, headers, body and date, `sign()` returns the headers @smithy/signature-v4's
 * `SignatureV4.sign()` returns for default signing options (no signableHeaders / unsignableHeaders / signing region or
 * service overrides): the same unsigned headers, value trimming, path escaping and signing-key derivation. The signing
 * key is derived once a UTC day; a call then costs one SHA-256 of the body, one of the canonical request and one HMAC.
 *
 * Not covered: query strings (a path with '?' is a TypeError), non-string bodies, presigned URLs, event streams,
 * SigV4a, and a header value `undefined`.
 */
export class SigV4Signer {
  readonly #credentials: AwsCredentialIdentity
  readonly #region: string
  readonly #service: string
  readonly #uriEscapePath: boolean
  readonly #applyChecksum: boolean
  /**
   * The last signing key, the day ('yyyymmdd') and the secret it was derived for: a provider may rotate the keys of
   * the credentials object in place, so the secret is compared at each call (as smithy's cache keys on it).
   */
  #keyDay = ''
  #keySecret = ''
  #key: KeyObject | undefined
  #second = Number.NaN
  #longDate = ''
  /** The last path's canonical form (the fast transport signs one path per endpoint). */
  #path: string | undefined
  #canonicalPath = ''

  constructor ({ credentials, region, service, uriEscapePath = true, applyChecksum = true }: SigV4SignerOptions) {
    if (typeof credentials?.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string') {
      throw new TypeError('SigV4Signer: expected credentials with a string accessKeyId and secretAccessKey')
    }
    this.#credentials = credentials
    this.#region = region
    this.#service = service
    this.#uriEscapePath = uriEscapePath
    this.#applyChecksum = applyChecksum
  }

  /**
   * A new headers object: the request's headers (less any authorization, date and x-amz-date of its own) plus
   * `x-amz-date`, `x-amz-security-token` (with a session token), `x-amz-content-sha256` (with applyChecksum, unless
   * present) and `authorization`, signed at `signingDateMs` (epoch milliseconds, UTC).
   */
  sign (request: SignableRequest, signingDateMs: number): Record<string, string> {
    const longDate = this.#amzDate(signingDateMs)
    const shortDate = longDate.slice(0, 8)
    const token = this.#credentials.sessionToken
    const headers: Record<string, string> = {}
    let payloadHash: string | undefined
    for (const [name, value] of Object.entries(request.headers)) {
      const lower = name.toLowerCase()
      if (GENERATED_HEADERS.has(lower)) continue
      headers[name] = value
      if (lower === CONTENT_SHA256_HEADER) payloadHash ??= value
    }
    headers[DATE_HEADER] = longDate
    if (token) headers[TOKEN_HEADER] = token
    if (payloadHash === undefined) {
      payloadHash = sha256Hex(request.body)
      if (this.#applyChecksum) headers[CONTENT_SHA256_HEADER] = payloadHash
    }
    const { lines, signedHeaders } = canonicalHeaders(headers)
    const canonicalRequest = `${request.method}\n${this.#canonical(request.path)}\n\n${lines}\n\n${signedHeaders}\n${payloadHash}`
    const scope = `${shortDate}/${this.#region}/${this.#service}/${SCOPE_TERMINATOR}`
    const stringToSign = `${ALGORITHM}\n${longDate}\n${scope}\n${sha256Hex(canonicalRequest)}`
    const signature = createHmac('sha256', this.#signingKey(shortDate)).update(stringToSign).digest('hex')
    const credential = `${this.#credentials.accessKeyId}/${scope}`
    headers.authorization = `${ALGORITHM} Credential=${credential}, SignedHeaders=${signedHeaders}, Signature=${signature}`
    return headers
  }

  /** 'yyyymmddThhmmssZ', UTC; the last second's kept (calls come many a second). */
  #amzDate (ms: number): string {
    const second = Math.floor(ms / 1000)
    if (second !== this.#second) {
      this.#longDate = amzDate(ms)
      this.#second = second
    }
    return this.#longDate
  }

  #signingKey (shortDate: string): KeyObject {
    const secret = this.#credentials.secretAccessKey
    if (this.#keyDay !== shortDate || this.#keySecret !== secret) {
      let key: Buffer | string = `AWS4${secret}`
      for (const part of [shortDate, this.#region, this.#service, SCOPE_TERMINATOR]) key = createHmac('sha256', key).update(part).digest()
      this.#key = createSecretKey(key as Buffer)
      this.#keyDay = shortDate
      this.#keySecret = secret
    }
    return this.#key as KeyObject
  }

  #canonical (path: string): string {
    if (path !== this.#path) {
      if (!path.startsWith('/')) throw new TypeError(`SigV4Signer: expected a path starting with '/', got '${path}'`)
      if (path.includes('?')) throw new TypeError(`SigV4Signer: query strings are not supported, got the path '${path}'`)
      this.#canonicalPath = this.#uriEscapePath ? escapedPath(path) : path
      this.#path = path
    }
    return this.#canonicalPath
  }
}

/** The one-shot `crypto.hash` where Node has it (20.12, 21.7), else a Hash object: hex SHA-256 of UTF-8 text. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash
const sha256Hex: (text: string) => string = oneShot === undefined
  ? (text) => createHash('sha256').update(text).digest('hex')
  : (text) => oneShot('sha256', text, 'hex')

/** 'yyyymmddThhmmssZ', UTC. */
function amzDate (ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')
}

/**
 * The canonical header lines and the signed header list. As smithy: names are lowercased in sorted order of the
 * original names (so of two names differing in case, the lowercase one's value wins), values have CR/LF turned to
 * spaces, runs of spaces and tabs collapsed to one space, and one leading and trailing space removed.
 */
function canonicalHeaders (headers: Record<string, string>): { lines: string, signedHeaders: string } {
  const keys = Object.keys(headers)
  // The usual case, names already lower case (so no two alike): one sort, no map.
  if (keys.every(isLowerCase)) {
    keys.sort()
    let lines = ''
    let signedHeaders = ''
    for (const name of keys) {
      if (UNSIGNABLE_HEADERS.has(name) || UNSIGNABLE_PREFIX.test(name)) continue
      const value = headers[name] as string
      lines += `${lines === '' ? '' : '\n'}${name}:${UNTIDY_VALUE.test(value) ? tidy(value) : value}`
      signedHeaders += `${signedHeaders === '' ? '' : ';'}${name}`
    }
    return { lines, signedHeaders }
  }
  const canonical = new Map<string, string>()
  for (const [name, value] of Object.entries(headers).sort(byName)) {
    const lower = name.toLowerCase()
    if (UNSIGNABLE_HEADERS.has(lower) || UNSIGNABLE_PREFIX.test(lower)) continue
    canonical.set(lower, UNTIDY_VALUE.test(value) ? tidy(value) : value)
  }
  const names = [...canonical.keys()].sort()
  return { lines: names.map((name) => `${name}:${canonical.get(name)}`).join('\n'), signedHeaders: names.join(';') }
}

function isLowerCase (name: string): boolean {
  return name === name.toLowerCase()
}

/** Array.prototype.sort's default order (UTF-16 code units) on the names. */
function byName ([a]: [string, string], [b]: [string, string]): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function tidy (value: string): string {
  return value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '')
}

/** The path with '.', '..' and empty segments resolved, each segment URI-escaped (RFC 3986: also !'()*). */
function escapedPath (path: string): string {
  const segments: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') segments.pop()
    else segments.push(segment)
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : ''
  return `/${segments.map(escapeSegment).join('/')}${trailing}`
}

function escapeSegment (segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}
