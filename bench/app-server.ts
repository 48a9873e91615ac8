// Child process: one contestant's Fastify app on 127.0.0.1, port 0.
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import { serveChild } from './children.js'
import type { AppContext, BuildApp } from './contestants/context.js'

export interface AppInfo {
  port: number
  pid: number
}

const CONTESTANTS: Record<string, () => Promise<{ build: BuildApp }>> = {
  limit: async () => await import('./contestants/limit.js'),
  floor: async () => await import('./contestants/floor.js'),
  plugin: async () => await import('./contestants/plugin.js'),
  'plugin-sdk': async () => ({ build: (await import('./contestants/plugin.js')).buildWith('sdk') }),
  'session-dynamodb': async () => await import('./contestants/session-dynamodb.js'),
  'session-memory': async () => await import('./contestants/session-memory.js')
}

serveChild<AppInfo>(async () => {
  const ctx = JSON.parse(process.env.BENCH_APP_CONTEXT ?? '{}') as AppContext & { contestant: string }
  const load = CONTESTANTS[ctx.contestant]
  if (load === undefined) throw new Error(`unknown contestant ${ctx.contestant}`)
  const app = Fastify({ logger: false })
  await (await load()).build(app, ctx)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return {
    info: { port: (app.server.address() as AddressInfo).port, pid: process.pid },
    // CPU is read over IPC, so the measurement itself is not one of the counted HTTP requests.
    handlers: { cpu: () => process.cpuUsage() },
    close: async () => { await app.close() }
  }
})
