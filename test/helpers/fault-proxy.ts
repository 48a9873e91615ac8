import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'

/** What the proxy does with a request. */
export type Fault =
  | { kind: 'pass' }
  | { kind: 'delay', ms: number, /** Adds a random 0..jitter ms. */ jitter?: number }
  | { kind: 'reset' }
  | { kind: 'stall' }
  /** Forwards the request, sends the response's status and headers, then never the body. */
  | { kind: 'stallBody' }
  /** Forwards the request (DynamoDB applies it), then resets the connection instead of answering. */
  | { kind: 'dropResponse' }
  | {
    kind: 'throttle'
    type?: 'ProvisionedThroughputExceededException' | 'ThrottlingException' | 'RequestLimitExceeded'
    /** The body's ThrottlingReasons (`throttlingReasons` for ThrottlingException, as DynamoDB spells it there). */
    reasons?: Array<{ reason: string, resource?: string }>
  }
  | { kind: 'error5xx', status?: number }
  /** Forwards, with the response's Date header moved by `seconds`: a DynamoDB whose clock is that far ahead (behind if negative). */
  | { kind: 'skewDate', seconds: number }
  /**
   * Answers, without forwarding, DynamoDB's HTTP 400 error of this type, e.g. UpdateTable's LimitExceededException, with
   * this message (default: `<type> (injected)`).
   */
  | { kind: 'refuse', type: string, message?: string }
  /** Answers a BatchGetItem, without forwarding, as DynamoDB does when it read none of the keys: all in UnprocessedKeys. */
  | { kind: 'unprocessed' }

export interface FaultProxy {
  readonly endpoint: string
  /** Operations seen (from X-Amz-Target, e.g. 'GetItem'), faulted or not. */
  readonly seen: string[]
  /** The request headers of each request in `seen`, in the same order. */
  readonly headers: IncomingHttpHeaders[]
  /**
   * Sets the fault for matching operations (all when `operations` is omitted), for the next `times` requests (all
   * when omitted), after letting the first `after` matching requests through (none when omitted).
   */
  inject (fault: Fault, options?: { operations?: string[], times?: number, after?: number }): void
  /** Faulted requests so far, by fault kind. */
  readonly faulted: Record<string, number>
  /** Back to passing everything through. */
  heal (): void
  close (): Promise<void>
}

interface Rule { fault: Fault, operations: string[] | undefined, remaining: number, skip: number }

interface Teardown { teardown (fn: () => unknown): void }

/**
 * A fault-injecting HTTP proxy on 127.0.0.1 between a DynamoDB client and the test's DynamoDB: latency, connection
 * resets, stalls past the client timeout, DynamoDB throttling responses (HTTP 400 with a JSON __type) and 5xx.
 */
export async function startFaultProxy (t: Teardown, target: string): Promise<FaultProxy> {
  const upstream = new URL(target)
  const seen: string[] = []
  const headers: IncomingHttpHeaders[] = []
  const sockets = new Set<Socket>()
  const faulted: Record<string, number> = {}
  let rules: Rule[] = []

  const pick = (operation: string): Fault => {
    const rule = rules.find((r) => r.remaining > 0 && (r.operations === undefined || r.operations.includes(operation)))
    if (rule === undefined) return { kind: 'pass' }
    if (rule.skip > 0) {
      rule.skip--
      return { kind: 'pass' }
    }
    rule.remaining--
    faulted[rule.fault.kind] = (faulted[rule.fault.kind] ?? 0) + 1
    return rule.fault
  }

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, mode: 'pass' | 'stallBody' | 'dropResponse' = 'pass', skewSeconds = 0): void => {
    // An https upstream (the AWS target) gets the request as signed, Host header included.
    const out = (upstream.protocol === 'https:' ? httpsRequest : httpRequest)({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers
    }, (up) => {
      if (mode === 'dropResponse') {
        up.resume()
        up.on('end', () => req.socket.destroy())
        return
      }
      const date = up.headers.date
      if (skewSeconds !== 0 && date !== undefined) up.headers.date = new Date(Date.parse(date) + skewSeconds * 1000).toUTCString()
      res.writeHead(up.statusCode ?? 502, up.headers)
      if (mode === 'stallBody') {
        // Headers out now; the body never follows (until the client gives up or close()).
        res.flushHeaders()
        up.resume()
        return
      }
      up.pipe(res)
    })
    out.on('error', () => res.destroy())
    out.end(body)
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? ''
      seen.push(operation)
      headers.push(req.headers)
      const fault = pick(operation)
      const body = Buffer.concat(chunks)
      switch (fault.kind) {
        case 'refuse': {
          const payload = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${fault.type}`, message: fault.message ?? `${fault.type} (injected)` })
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(payload) })
          res.end(payload)
          return
        }
        case 'unprocessed': {
          const requested = (JSON.parse(body.toString('utf8')) as { RequestItems?: Record<string, unknown> }).RequestItems ?? {}
          const payload = JSON.stringify({
            Responses: Object.fromEntries(Object.keys(requested).map((table) => [table, []])),
            UnprocessedKeys: requested
          })
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(payload) })
          res.end(payload)
          return
        }
        case 'pass':
          forward(req, res, body)
          return
        case 'delay':
          setTimeout(() => forward(req, res, body), fault.ms + Math.random() * (fault.jitter ?? 0))
          return
        case 'stallBody':
        case 'dropResponse':
          forward(req, res, body, fault.kind)
          return
        case 'skewDate':
          forward(req, res, body, 'pass', fault.seconds)
          return
        case 'reset':
          req.socket.destroy()
          return
        case 'stall':
          // Never answers; the client's timeout ends it, or close() does.
          return
        case 'throttle': {
          const type = fault.type ?? 'ProvisionedThroughputExceededException'
          const reasons = fault.reasons === undefined
            ? {}
            : { [type === 'ThrottlingException' ? 'throttlingReasons' : 'ThrottlingReasons']: fault.reasons }
          const payload = JSON.stringify({
            __type: `com.amazonaws.dynamodb.v20120810#${type}`,
            message: 'Rate of requests exceeds the allowed throughput.',
            ...reasons
          })
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(payload) })
          res.end(payload)
          return
        }
        case 'error5xx': {
          const payload = JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error' })
          res.writeHead(fault.status ?? 500, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(payload) })
          res.end(payload)
        }
      }
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as AddressInfo).port

  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)

  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    headers,
    faulted,
    inject (fault, options = {}) {
      rules = [{ fault, operations: options.operations, remaining: options.times ?? Number.POSITIVE_INFINITY, skip: options.after ?? 0 }, ...rules]
    },
    heal () {
      rules = []
    },
    close
  }
}
