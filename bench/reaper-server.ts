// Child process: runs single reaper passes of the plugin on demand, through the counting proxy.
import Fastify from 'fastify'
import { dynamoSession } from '../src/index.js'
import { DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND, DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND } from '../src/options.js'
import type { ReapReport, ReaperStrategy } from '../src/reaper/report.js'
import { serveChild } from './children.js'
import { benchClient } from './contestants/context.js'
import { PASS_LIMIT_SECONDS } from './config.js'

export interface ReaperInfo {
  defaultCaps: { maxReadUnitsPerSecond: number, maxWriteUnitsPerSecond: number }
}

/** What `runOnce()` reports, plus the wall time around it. */
export interface PassReport extends ReapReport {
  wallSeconds: number
}

const SECRET = 'bench-secret-that-is-long-enough-for-every-library'
// Caps high enough that the pass runs as fast as the server answers: the bench measures the pass, not the caps.
const UNCAPPED = 1e9

serveChild<ReaperInfo>(async () => {
  const endpoint = process.env.BENCH_DYNAMO_ENDPOINT
  if (endpoint === undefined) throw new Error('BENCH_DYNAMO_ENDPOINT is not set')
  return {
    info: { defaultCaps: {
      maxReadUnitsPerSecond: DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND,
      maxWriteUnitsPerSecond: DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND
    } },
    handlers: {
      pass: async (args) => {
        const { tableName, segments, strategy } = args as { tableName: string, segments: number, strategy: ReaperStrategy }
        const client = benchClient(endpoint)
        const app = Fastify({ logger: false })
        try {
          await app.register(dynamoSession, {
            secret: SECRET,
            client,
            tableName,
            metrics: false,
            reaper: {
              schedule: false,
              strategy,
              segments,
              maxReadUnitsPerSecond: UNCAPPED,
              maxWriteUnitsPerSecond: UNCAPPED,
              maxPassSeconds: PASS_LIMIT_SECONDS
            }
          })
          await app.ready()
          if (app.sessionReaper === null) throw new Error('the plugin registered without a reaper')
          const started = process.hrtime.bigint()
          const report = await app.sessionReaper.runOnce({ strategy })
          const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9
          return { ...report, wallSeconds } satisfies PassReport
        } finally {
          await app.close()
          client.destroy()
        }
      }
    },
    close: async () => {}
  }
})
