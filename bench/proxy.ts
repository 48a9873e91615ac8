import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { itemSize, readUnits, scanUnits, writeUnits, type WireItem } from './capacity.js'

/** What the proxy counted for one operation (e.g. GetItem). */
export interface OperationCount {
  calls: number
  /** Responses other than 200 (a failed conditional write is one). */
  errors: number
  readUnits: number
  writeUnits: number
  /** Calls whose response carried ConsumedCapacity (their units are DynamoDB's own figures). */
  reportedCalls: number
  /** Calls whose units were computed by the proxy (see capacity.ts). */
  estimatedCalls: number
  /** For reported calls, what the proxy's own arithmetic would have said: checks the estimates. */
  shadowReadUnits: number
  shadowWriteUnits: number
}

export type Counters = Record<string, OperationCount>

const READ_OPERATIONS = new Set(['GetItem', 'BatchGetItem', 'Scan', 'Query'])
// Item sizes remembered per key so updates and deletes of items the proxy has seen can be priced; bounded.
const MAX_TRACKED_KEYS = 500_000
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade'])

interface Body {
  TableName?: string
  Key?: WireItem
  Item?: WireItem
  Items?: WireItem[]
  Attributes?: WireItem
  ConsistentRead?: boolean
  ReturnValues?: string
  RequestItems?: Record<string, Array<{ PutRequest?: { Item: WireItem }, DeleteRequest?: { Key: WireItem } }>>
  ConsumedCapacity?: { CapacityUnits?: number } | Array<{ CapacityUnits?: number }>
  __type?: string
}

function parse (buf: Buffer): Body {
  if (buf.length === 0) return {}
  try {
    return JSON.parse(buf.toString('utf8')) as Body
  } catch {
    return {}
  }
}

function reportedUnits (res: Body): number | undefined {
  const cc = res.ConsumedCapacity
  if (cc === undefined) return undefined
  const list = Array.isArray(cc) ? cc : [cc]
  if (list.length === 0) return undefined
  return list.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0)
}

/** Prices calls by the documented rules, remembering item sizes by key. */
export class CallPricer {
  readonly #keyAttribute: string
  readonly #sizes = new Map<string, number>()

  constructor (keyAttribute: string) {
    this.#keyAttribute = keyAttribute
  }

  #key (table: string | undefined, item: WireItem | undefined): string | undefined {
    const k = item?.[this.#keyAttribute]
    return k === undefined ? undefined : `${table ?? ''}\u0000${JSON.stringify(k)}`
  }

  #remember (key: string | undefined, size: number | undefined): void {
    if (key === undefined) return
    if (size === undefined) {
      this.#sizes.delete(key)
      return
    }
    if (this.#sizes.size >= MAX_TRACKED_KEYS) this.#sizes.clear()
    this.#sizes.set(key, size)
  }

  /** Units of a BatchWriteItem: each put or delete priced as its own write. */
  #priceBatchWrite (req: Body, ok: boolean): number {
    let units = 0
    for (const [name, requests] of Object.entries(req.RequestItems ?? {})) {
      for (const r of requests) {
        if (r.PutRequest !== undefined) {
          const size = itemSize(r.PutRequest.Item)
          units += writeUnits(size)
          if (ok) this.#remember(this.#key(name, r.PutRequest.Item), size)
        } else if (r.DeleteRequest !== undefined) {
          const key = this.#key(name, r.DeleteRequest.Key)
          units += writeUnits(key === undefined ? undefined : this.#sizes.get(key))
          if (ok) this.#remember(key, undefined)
        }
      }
    }
    return units
  }

  /** Estimated units of one call, and what it teaches about item sizes. */
  price (operation: string, req: Body, res: Body, ok: boolean): number {
    const table = req.TableName
    switch (operation) {
      case 'GetItem': {
        const size = res.Item === undefined ? undefined : itemSize(res.Item)
        if (ok) this.#remember(this.#key(table, req.Key), size)
        return readUnits(size, req.ConsistentRead === true)
      }
      case 'PutItem': {
        const key = this.#key(table, req.Item)
        const size = req.Item === undefined ? undefined : itemSize(req.Item)
        const units = writeUnits(size, key === undefined ? undefined : this.#sizes.get(key))
        if (ok) this.#remember(key, size)
        return units
      }
      case 'UpdateItem': {
        const key = this.#key(table, req.Key)
        const after = ok && req.ReturnValues === 'ALL_NEW' && res.Attributes !== undefined ? itemSize(res.Attributes) : undefined
        const units = writeUnits(key === undefined ? undefined : this.#sizes.get(key), after)
        if (after !== undefined) this.#remember(key, after)
        return units
      }
      case 'DeleteItem': {
        const key = this.#key(table, req.Key)
        const units = writeUnits(key === undefined ? undefined : this.#sizes.get(key))
        if (ok) this.#remember(key, undefined)
        return units
      }
      case 'BatchWriteItem':
        return this.#priceBatchWrite(req, ok)
      case 'Scan':
      case 'Query': {
        // Only returned items are visible: a lower bound when a filter dropped some.
        const size = (res.Items ?? []).reduce((sum, item) => sum + itemSize(item), 0)
        return scanUnits(size, req.ConsistentRead === true)
      }
      default:
        return 0
    }
  }
}

function emptyCount (): OperationCount {
  return { calls: 0, errors: 0, readUnits: 0, writeUnits: 0, reportedCalls: 0, estimatedCalls: 0, shadowReadUnits: 0, shadowWriteUnits: 0 }
}

export interface CountingProxy {
  readonly endpoint: string
  counters (): Counters
  close (): Promise<void>
}

function readAll (stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve(Buffer.concat(chunks)))
    stream.on('error', reject)
  })
}

/** Counts one call and its units: reported ones when the response has them (the estimate kept as a shadow), else the estimate. */
function recordCall (counts: Counters, pricer: CallPricer, operation: string, call: { req: Body, res: Body, status: number }): void {
  const { req, res, status } = call
  const c = counts[operation] ??= emptyCount()
  const ok = status === 200
  c.calls++
  if (!ok) c.errors++
  const isRead = READ_OPERATIONS.has(operation)
  const reported = ok ? reportedUnits(res) : undefined
  // A failed conditional write is still charged; other errors are not.
  const charged = ok || res.__type?.endsWith('ConditionalCheckFailedException') === true
  const estimate = charged ? pricer.price(operation, req, res, ok) : 0
  if (reported !== undefined) {
    c.reportedCalls++
    if (isRead) { c.readUnits += reported; c.shadowReadUnits += estimate } else { c.writeUnits += reported; c.shadowWriteUnits += estimate }
  } else {
    c.estimatedCalls++
    if (isRead) c.readUnits += estimate
    else c.writeUnits += estimate
  }
}

/** Sends the request upstream unchanged; the response and its whole body. */
async function forward (
  upstream: URL,
  agent: http.Agent,
  req: IncomingMessage,
  body: Buffer
): Promise<{ response: IncomingMessage, payload: Buffer }> {
  const out = http.request({
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: { ...req.headers },
    agent
  })
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    out.on('response', resolve)
    out.on('error', reject)
    out.end(body)
  })
  return { response, payload: await readAll(response) }
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a DynamoDB endpoint that counts calls per operation (from X-Amz-Target)
 * and their capacity units: the figure in the response when the caller asked for ConsumedCapacity, otherwise
 * CallPricer's estimate. Requests and responses pass through unchanged.
 */
export async function startCountingProxy (target: string, keyAttribute: string): Promise<CountingProxy> {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const pricer = new CallPricer(keyAttribute)
  const counts: Counters = {}

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readAll(req)
    const target = String(req.headers['x-amz-target'] ?? '')
    const operation = target.slice(target.indexOf('.') + 1) || 'unknown'
    const { response, payload } = await forward(upstream, agent, req, body)
    const status = response.statusCode ?? 500
    try {
      recordCall(counts, pricer, operation, { req: parse(body), res: parse(payload), status })
    } catch {
      // Counting must never break the call; an unparseable body is still passed through.
    }
    const replyHeaders: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) replyHeaders[name] = value
    }
    replyHeaders['content-length'] = String(payload.length)
    res.writeHead(status, replyHeaders)
    res.end(payload)
  }

  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
      res.end(`proxy error: ${err.message}`)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counters: () => structuredClone(counts),
    close: async () => {
      server.closeAllConnections()
      agent.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** The difference between two snapshots (after - before). */
export function diffCounters (after: Counters, before: Counters): Counters {
  const out: Counters = {}
  for (const [op, a] of Object.entries(after)) {
    const b = before[op] ?? emptyCount()
    const d = emptyCount()
    for (const k of Object.keys(d) as Array<keyof OperationCount>) d[k] = a[k] - b[k]
    if (d.calls !== 0) out[op] = d
  }
  return out
}

/** The sum of several runs' counters. */
export function sumCounters (list: readonly Counters[]): Counters {
  const out: Counters = {}
  for (const counters of list) {
    for (const [op, c] of Object.entries(counters)) {
      const sum = out[op] ??= emptyCount()
      for (const k of Object.keys(sum) as Array<keyof OperationCount>) sum[k] += c[k]
    }
  }
  return out
}
