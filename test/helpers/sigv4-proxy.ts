import { createHash, createHmac } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/**
 * A proxy in front of the test's DynamoDB that checks every request's SigV4 signature as DynamoDB would: it
 * recomputes it from the raw request it receives (method, path, query, the signed headers as sent, the body's
 * SHA-256) with the known secret of the access key, and answers a mismatch with DynamoDB's
 * InvalidSignatureException, an unknown key with UnrecognizedClientException, and a signing time more than 15
 * minutes from its clock with "Signature expired". Written from the SigV4 specification, independently of the SDK.
 */
export interface SigV4Proxy {
  readonly endpoint: string
  /** The access key id of each request received, in order. */
  readonly keyIds: string[]
  /** The session token of each request received (undefined when it had none), in order. */
  readonly sessionTokens: Array<string | undefined>
  /** Requests rejected, by reason. */
  readonly rejected: Record<'signature' | 'unknownKey' | 'expired' | 'malformed', number>
  /** Accepts the key (with this secret) from now on. */
  allow (accessKeyId: string, secretAccessKey: string): void
  close (): Promise<void>
}

interface Teardown { teardown (fn: () => unknown): void }

const ALGORITHM = 'AWS4-HMAC-SHA256'
const MAX_SKEW_MS = 15 * 60 * 1000
/** Headers DynamoDB requires in the signature. */
const MUST_SIGN = ['host', 'x-amz-date', 'x-amz-target']

const hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest()

interface Authorization { keyId: string, date: string, region: string, service: string, signedHeaders: string[], signature: string }

function parseAuthorization (header: string | undefined): Authorization | undefined {
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/
    .exec(header ?? '')
  if (match === null) return undefined
  const [, keyId = '', date = '', region = '', service = '', signed = '', signature = ''] = match
  return { keyId, date, region, service, signedHeaders: signed.split(';'), signature }
}

/** SigV4's URI encoding (RFC 3986 unreserved characters kept). */
function encode (text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

function canonicalQuery (search: URLSearchParams): string {
  return [...search.entries()].map(([k, v]) => `${encode(k)}=${encode(v)}`).sort().join('&')
}

/** The header's value as SigV4 canonicalises it: repeated values joined by commas, spaces trimmed and folded. */
function headerValue (headers: IncomingHttpHeaders, name: string): string {
  const raw = headers[name]
  const value = Array.isArray(raw) ? raw.join(',') : raw ?? ''
  return value.trim().replace(/\s+/g, ' ')
}

/** The signature the request should carry, computed from what was received. */
export function expectedSignature (req: { method: string, url: string, headers: IncomingHttpHeaders }, body: Buffer, auth: Authorization, secret: string): string {
  const url = new URL(req.url, 'http://placeholder')
  const path = url.pathname.split('/').map((segment) => encode(decodeURIComponent(segment))).join('/')
  const canonicalHeaders = auth.signedHeaders.map((name) => `${name}:${headerValue(req.headers, name)}\n`).join('')
  const payloadHash = hex(body)
  const canonicalRequest = [req.method, path, canonicalQuery(url.searchParams), canonicalHeaders, auth.signedHeaders.join(';'), payloadHash].join('\n')
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`
  const stringToSign = [ALGORITHM, headerValue(req.headers, 'x-amz-date'), scope, hex(canonicalRequest)].join('\n')
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, auth.date), auth.region), auth.service), 'aws4_request')
  return createHmac('sha256', key).update(stringToSign).digest('hex')
}

function amzDateMs (text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text)
  if (m === null) return Number.NaN
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
}

function reject (res: ServerResponse, type: string, message: string): void {
  const payload = JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message })
  res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(payload), 'x-amzn-requestid': 'sigv4-proxy' })
  res.end(payload)
}

type Verdict = { ok: true } | { ok: false, reason: keyof SigV4Proxy['rejected'], type: string, message: string }

function verify (req: IncomingMessage, body: Buffer, secrets: ReadonlyMap<string, string>, keyIds: string[]): Verdict {
  const auth = parseAuthorization(req.headers.authorization)
  if (auth === undefined) return { ok: false, reason: 'malformed', type: 'IncompleteSignatureException', message: 'Authorization header is malformed' }
  keyIds.push(auth.keyId)
  const secret = secrets.get(auth.keyId)
  if (secret === undefined) return { ok: false, reason: 'unknownKey', type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' }
  const missing = MUST_SIGN.filter((name) => !auth.signedHeaders.includes(name))
  const token = req.headers['x-amz-security-token']
  if (token !== undefined) missing.push(...(auth.signedHeaders.includes('x-amz-security-token') ? [] : ['x-amz-security-token']))
  if (missing.length > 0) return { ok: false, reason: 'signature', type: 'InvalidSignatureException', message: `Unsigned headers: ${missing.join(', ')}` }
  const signedAt = amzDateMs(headerValue(req.headers, 'x-amz-date'))
  if (!(Math.abs(Date.now() - signedAt) <= MAX_SKEW_MS)) {
    return { ok: false, reason: 'expired', type: 'InvalidSignatureException', message: `Signature expired: ${headerValue(req.headers, 'x-amz-date')} is now earlier or later than allowed` }
  }
  if (expectedSignature({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, body, auth, secret) !== auth.signature) {
    return { ok: false, reason: 'signature', type: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.' }
  }
  return { ok: true }
}

/** Starts the verifying proxy for `target`, accepting `accessKeyId` with `secretAccessKey`; closed at teardown. */
export async function startSigV4Proxy (t: Teardown, target: string, accessKeyId = 'test', secretAccessKey = 'test'): Promise<SigV4Proxy> {
  const upstream = new URL(target)
  const secrets = new Map([[accessKeyId, secretAccessKey]])
  const keyIds: string[] = []
  const sessionTokens: Array<string | undefined> = []
  const rejected = { signature: 0, unknownKey: 0, expired: 0, malformed: 0 }
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const token = req.headers['x-amz-security-token']
      sessionTokens.push(Array.isArray(token) ? token[0] : token)
      const verdict = verify(req, body, secrets, keyIds)
      if (!verdict.ok) {
        rejected[verdict.reason]++
        reject(res, verdict.type, verdict.message)
        return
      }
      const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      })
      out.on('error', () => res.destroy())
      out.end(body)
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keyIds,
    sessionTokens,
    rejected,
    allow: (id, secret) => { secrets.set(id, secret) },
    close
  }
}
