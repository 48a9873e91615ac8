import autocannon from 'autocannon'

export interface LoadSpec {
  port: number
  method: 'GET' | 'POST'
  path: string
  /** Cookies sent in rotation, one per request; none for anonymous scenarios. */
  cookies: readonly string[]
  connections: number
  durationSeconds: number
  /** Requests a second over all connections; none for as fast as the app answers. */
  rate?: number | undefined
}

export interface LoadResult {
  /** Requests that received a response. */
  completed: number
  /** Requests written to the socket (the app processed these, including the few in flight when the run stopped). */
  sent: number
  seconds: number
  requestsPerSecond: number
  latencyMs: { p50: number, p99: number, mean: number }
  /** Responses other than 2xx, connection errors and timeouts: a correct run has none. */
  failures: number
  statusCodes: Record<string, number>
}

/** One autocannon run against 127.0.0.1. */
export async function runLoad (spec: LoadSpec): Promise<LoadResult> {
  let next = 0
  const { cookies } = spec
  const headers: Record<string, string> = spec.method === 'POST' ? { 'content-type': 'application/json' } : {}
  const body = spec.method === 'POST' ? '{}' : undefined
  const result = await autocannon({
    url: `http://127.0.0.1:${spec.port}`,
    connections: spec.connections,
    duration: spec.durationSeconds,
    timeout: 10,
    ...(spec.rate === undefined ? {} : { overallRate: spec.rate }),
    requests: [{
      method: spec.method,
      path: spec.path,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(cookies.length === 0
        ? {}
        : { setupRequest: (req) => ({ ...req, headers: { ...req.headers, cookie: cookies[next++ % cookies.length] as string } }) })
    }]
  })
  const statusCodes: Record<string, number> = {}
  for (const [code, s] of Object.entries(result.statusCodeStats)) statusCodes[code] = s.count
  const completed = result.requests.total
  return {
    completed,
    // At most one request in flight per connection when the run stops: autocannon's own count also includes the
    // requests it scheduled but did not send when it paces a fixed rate.
    sent: Math.min(result.requests.sent, completed + spec.connections),
    seconds: result.duration,
    requestsPerSecond: result.duration > 0 ? completed / result.duration : 0,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean },
    failures: result.non2xx + result.errors + result.timeouts,
    statusCodes
  }
}
