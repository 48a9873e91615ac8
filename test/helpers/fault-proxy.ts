import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** What the proxy does with a request. */
export type Fault =
  | { kind: 'pass' }
  | { kind: 'delay', ms: number }
  | { kind: 'reset' }
  | { kind: 'stall' }
  | { kind: 'throttle', type?: 'ProvisionedThroughputExceededException' | 'ThrottlingException' | 'RequestLimitExceeded' }
  | { kind: 'error5xx', status?: number }

export interface FaultProxy {
  readonly endpoint: string
  /** Operations seen (from X-Amz-Target, e.g. 'GetItem'), faulted or not. */
  readonly seen: string[]
  /** Sets the fault for matching operations (all when `operations` is omitted), for the next `times` requests (all when omitted). */
  inject (fault: Fault, options?: { operations?: string[], times?: number }): void
  /** Back to passing everything through. */
  heal (): void
  close (): Promise<void>
}

interface Rule { fault: Fault, operations: string[] | undefined, remaining: number }

interface Teardown { teardown (fn: () => unknown): void }

/**
 * A fault-injecting HTTP proxy on 127.0.0.1 between a DynamoDB client and dynalite: latency, connection resets,
 * stalls past the client timeout, DynamoDB throttling responses (HTTP 400 with a JSON __type) and 5xx.
 */
export async function startFaultProxy (t: Teardown, target: string): Promise<FaultProxy> {
  const upstream = new URL(target)
  const seen: string[] = []
  const sockets = new Set<Socket>()
  let rules: Rule[] = []

  const pick = (operation: string): Fault => {
    const rule = rules.find((r) => r.remaining > 0 && (r.operations === undefined || r.operations.includes(operation)))
    if (rule === undefined) return { kind: 'pass' }
    rule.remaining--
    return rule.fault
  }

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const out = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers
    }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
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
      const fault = pick(operation)
      const body = Buffer.concat(chunks)
      switch (fault.kind) {
        case 'pass':
          forward(req, res, body)
          return
        case 'delay':
          setTimeout(() => forward(req, res, body), fault.ms)
          return
        case 'reset':
          req.socket.destroy()
          return
        case 'stall':
          // Never answers; the client's timeout ends it, or close() does.
          return
        case 'throttle': {
          const type = fault.type ?? 'ProvisionedThroughputExceededException'
          const payload = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'Rate of requests exceeds the allowed throughput.' })
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
    inject (fault, options = {}) {
      rules = [{ fault, operations: options.operations, remaining: options.times ?? Number.POSITIVE_INFINITY }, ...rules]
    },
    heal () {
      rules = []
    },
    close
  }
}
