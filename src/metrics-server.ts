import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

export interface MetricsServerOptions {
  readonly registry: Registry
  /** 0 picks a free port. */
  readonly port: number
  readonly host: string
  /** The path serving the registry; every other path is 404. */
  readonly path: string
}

export interface MetricsServer {
  /** Where the server listens (the real port when 0 was asked for). */
  readonly address: AddressInfo
  /** `http://host:port/path`, an IPv6 host in brackets. */
  readonly url: string
  /** Stops listening and ends open connections (a scrape in flight is cut). */
  close (): Promise<void>
}

/** `http://host:port` for an address a server listens on. */
export function originOf (address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}

async function answer (registry: Registry, path: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const requested = (request.url ?? '').split('?')[0]
  if (requested !== path) {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n')
    return
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method Not Allowed\n')
    return
  }
  let body: string
  try {
    body = await registry.metrics()
  } catch {
    // A collect() callback failed; the details stay out of an unauthenticated response.
    response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Internal Server Error\n')
    return
  }
  const headers = { 'content-type': registry.contentType, 'cache-control': 'no-store' }
  response.writeHead(200, headers).end(request.method === 'HEAD' ? undefined : body)
}

/**
 * Serves `registry` in Prometheus text format on its own HTTP server: GET `path` answers the metrics, anything else
 * 404 (405 for other methods on `path`). Resolves once listening; rejects with the listen error (e.g. EADDRINUSE).
 */
export async function startMetricsServer (options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    answer(options.registry, options.path, request, response).catch(() => response.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  return {
    address,
    url: originOf(address) + options.path,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  }
}
