import { createRequire } from 'node:module'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { DynaliteMissingError } from './errors.js'

/**
 * A dynalite server started in this process. dynalite is an optional peer dependency (the demo and the tests use it):
 * it is imported only here, when a server is started, so the library works without it.
 */
export interface EmbeddedDynamo {
  readonly endpoint: string
  readonly port: number
  readonly server: Server
  close (): Promise<void>
}

/** The part of dynalite's API used here, declared here so that the published typings do not need dynalite's. */
type Dynalite = (options: { createTableMs: number, deleteTableMs: number, updateTableMs: number, path: string | undefined }) => Server

/** Imports dynalite; a parameter so that a test can simulate a missing module. */
export type DynaliteLoader = () => Promise<{ default: Dynalite }>

/**
 * dynalite in the project of the working directory (a user's devDependency; `npx` may run this package from its own
 * cache, out of that project's reach), as a file URL; undefined when that project has none.
 */
export function projectDynalite (cwd: string = process.cwd()): string | undefined {
  try {
    return pathToFileURL(createRequire(join(cwd, 'package.json')).resolve('dynalite')).href
  } catch {
    return undefined
  }
}

/** The project's dynalite first, else wherever this package resolves it. */
const importDynalite: DynaliteLoader = async () => {
  const fromProject = projectDynalite()
  return fromProject !== undefined ? await import(fromProject) as { default: Dynalite } : await import('dynalite')
}

/**
 * Starts dynalite, a DynamoDB-compatible server, on 127.0.0.1. In memory unless `dataDir` is given. Port 0 picks a
 * free port. Without dynalite installed it fails with `FST_DYNAMO_SESSION_DYNALITE_MISSING` (an install hint).
 */
export async function startEmbeddedDynamo (
  options: { port?: number, dataDir?: string } = {},
  load: DynaliteLoader = importDynalite
): Promise<EmbeddedDynamo> {
  let dynalite: Dynalite
  try {
    dynalite = (await load()).default
  } catch (err) {
    // The import's own error (module not found, or a broken install) stays reachable as the cause.
    throw new DynaliteMissingError({ cause: err })
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
