import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A dynalite server started in this process (development dependency: the demo and the tests use it). */
export interface EmbeddedDynamo {
  readonly endpoint: string
  readonly port: number
  readonly server: Server
  close (): Promise<void>
}

/**
 * Starts dynalite, a DynamoDB-compatible server, on 127.0.0.1. In memory unless `dataDir` is given. Port 0 picks a
 * free port.
 */
export async function startEmbeddedDynamo (options: { port?: number, dataDir?: string } = {}): Promise<EmbeddedDynamo> {
  let dynalite: typeof import('dynalite').default
  try {
    dynalite = (await import('dynalite')).default
  } catch {
    throw new Error('dynalite is not installed: run `npm install --save-dev dynalite` or set AWS_ENDPOINT_URL_DYNAMODB')
  }
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: options.dataDir })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    server,
    close: async () => {
      server.closeAllConnections?.()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
