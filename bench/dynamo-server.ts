// Child process: dynalite on 127.0.0.1 and the counting proxy in front of it.
import { startEmbeddedDynamo } from '../src/embedded.js'
import { serveChild } from './children.js'
import { startCountingProxy } from './proxy.js'

export interface DynamoInfo {
  /** dynalite itself: setup traffic that must not be counted goes here. */
  direct: string
  /** The counting proxy: every contestant talks to this one. */
  counted: string
  pid: number
}

serveChild<DynamoInfo>(async () => {
  const dynamo = await startEmbeddedDynamo()
  const proxy = await startCountingProxy(dynamo.endpoint, process.env.BENCH_KEY_ATTRIBUTE ?? 'Sesion_Id')
  return {
    info: { direct: dynamo.endpoint, counted: proxy.endpoint, pid: process.pid },
    handlers: {
      counters: () => proxy.counters(),
      cpu: () => process.cpuUsage()
    },
    close: async () => {
      await proxy.close()
      await dynamo.close()
    }
  }
})
