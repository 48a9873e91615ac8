import { Registry } from 'prom-client'
import { DEFAULT_METRICS_HOST, DEFAULT_METRICS_ROUTE, DEFAULT_REAPER_SCHEDULE, MAX_PORT } from '../options.js'
import { formatPassLine, formatReport, textLogger } from '../reaper/console.js'
import { Reaper } from '../reaper/reaper.js'
import type { ReaperLogger } from '../reaper/pass.js'
import type { ReaperObserver } from '../instrumentation.js'
import { createMetrics } from '../metrics.js'
import { startMetricsServer, type MetricsServer } from '../metrics-server.js'
import { CommandFailure, EXIT_OK, waitForStop, type Command, type ResolvedIo } from './command.js'
import { UsageError, type Flags } from './flags.js'
import { CONNECTION_FLAGS, withClient } from './connection.js'
import { DELETE_FLAGS, SCAN_FLAGS, TABLE_FLAGS, reaperFlags, tableFlags } from './option-flags.js'

/**
 * Prints one line (or one JSON line) per pass of the scheduled reaper, and hands every observation to `metrics`
 * when the metrics are served.
 */
function passPrinter (io: ResolvedIo, json: boolean, metrics: ReaperObserver | undefined): ReaperObserver {
  return {
    passEnded: (report) => {
      metrics?.passEnded(report)
      io.stdout.write(json ? JSON.stringify({ at: new Date().toISOString(), ...report }) + '\n' : formatPassLine(report, Date.now()))
    },
    tableState: (state) => metrics?.tableState(state),
    consumed: (operation, units) => metrics?.consumed(operation, units),
    throttled: (operation, reason) => metrics?.throttled(operation, reason),
    reaped: () => metrics?.reaped(),
    ttlLag: (lagSeconds) => metrics?.ttlLag(lagSeconds),
    skipped: (reason) => metrics?.skipped(reason),
    interval: (seconds) => metrics?.interval(seconds),
    strategy: (strategy) => metrics?.strategy(strategy),
    budgets: (read, write) => metrics?.budgets(read, write)
  }
}

interface MetricsAt { readonly port: number, readonly host: string }

/** Where --metrics-port and --metrics-host ask for the metrics server; undefined without --metrics-port. */
function metricsFlags (flags: Flags): MetricsAt | undefined {
  const port = flags.integer('metrics-port', { min: 0, max: MAX_PORT })
  const host = flags.nonEmpty('metrics-host')
  if (port === undefined && host !== undefined) throw new UsageError('--metrics-host applies only with --metrics-port')
  return port === undefined ? undefined : { port, host: host ?? DEFAULT_METRICS_HOST }
}

/**
 * With --metrics-port, the plugin's metrics (a registry of their own) on the plugin's metrics server, so that the
 * dashboards and alerts work unchanged for a reaper run as a separate job.
 */
async function serveMetrics (at: MetricsAt | undefined): Promise<{ observer: ReaperObserver, server: MetricsServer } | undefined> {
  if (at === undefined) return undefined
  const { port, host } = at
  const registry = new Registry()
  const observer = createMetrics(registry)
  const server = await startMetricsServer({ registry, port, host, path: DEFAULT_METRICS_ROUTE })
  return { observer, server }
}

type LastError = () => string | undefined

/** The reaper's text logger, remembering the last error it printed: a failed `--once` pass ends the command with it. */
function rememberingLogger (io: ResolvedIo): { log: ReaperLogger, lastError: LastError } {
  const text = textLogger(io.stderr)
  let last: string | undefined
  const error = (obj: object, msg: string): void => {
    text.error(obj, msg)
    const err = (obj as { err?: { name?: string, code?: string, message?: string } }).err
    const detail = err === undefined ? '' : `${err.code ?? err.name ?? 'Error'}: ${err.message ?? ''}`
    last = [msg.replace(/^reaper pass failed:? ?/, ''), detail].filter((part) => part !== '').join(': ')
  }
  return { log: { ...text, error }, lastError: () => last }
}

/** One pass and its report; a failed pass is a CommandFailure (after the report), said like every command's failure. */
async function runOnce (io: ResolvedIo, reaper: Reaper, json: boolean, heading: string, lastError: LastError): Promise<number> {
  const report = await reaper.runOnce()
  io.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : `${heading}\n${formatReport(report)}`)
  if (report.result === 'failure') throw new CommandFailure(`the pass failed: ${lastError() ?? 'see the log above'}`)
  return EXIT_OK
}

async function runScheduled (io: ResolvedIo, reaper: Reaper, json: boolean, heading: string, metricsUrl?: string): Promise<number> {
  if (!json) io.stdout.write(`${heading} (every ${reaper.intervalSeconds} s at most); Ctrl-C stops\n`)
  // JSON mode keeps stdout for the pass reports.
  if (metricsUrl !== undefined) (json ? io.stderr : io.stdout).write(`Metrics: ${metricsUrl}\n`)
  reaper.start()
  const reason = await waitForStop(io.signal)
  io.stderr.write(`Stopping (${reason})...\n`)
  return EXIT_OK
}

export const reap: Command = {
  summary: 'Delete expired sessions ahead of TTL: one pass with --once, else on a schedule until SIGINT/SIGTERM',
  description: 'Takes the same lease item as the plugin\'s reaper, so it can run next to applications (one pass per tick\n' +
    'across all of them). --once prints the pass report and exits 1 when the pass failed.',
  flags: {
    once: { type: 'boolean', description: 'Run one pass now and exit' },
    schedule: {
      type: 'string',
      arg: 'cron',
      description: 'When passes run (node-cron; 6 fields for seconds), without --once',
      default: DEFAULT_REAPER_SCHEDULE
    },
    ...TABLE_FLAGS,
    ...CONNECTION_FLAGS,
    ...SCAN_FLAGS,
    ...DELETE_FLAGS,
    'metrics-port': {
      type: 'string',
      arg: 'n',
      description: 'Serve the reaper\'s Prometheus metrics on this port at /metrics (0 picks a free one), without --once'
    },
    'metrics-host': { type: 'string', arg: 'addr', description: 'Address of the metrics server', default: DEFAULT_METRICS_HOST },
    json: { type: 'boolean', description: 'Print reports as JSON (one line per pass without --once)' }
  },
  exclusions: [['once', 'schedule'], ['once', 'metrics-port'], ['once', 'metrics-host']],
  async run ({ flags, io }) {
    const once = flags.on('once')
    const shape = tableFlags(flags)
    const options = reaperFlags(flags, once ? false : flags.text('schedule'))
    const json = flags.on('json')
    const metricsAt = metricsFlags(flags)
    return await withClient(flags, io.env, async ({ client, where }) => {
      if (once) {
        const { log, lastError } = rememberingLogger(io)
        const reaper = new Reaper({ client, shape, options, now: Date.now, log })
        try {
          return await runOnce(io, reaper, json, `Reaper pass on ${shape.tableName} at ${where}`, lastError)
        } finally {
          await reaper.close()
        }
      }
      const heading = `Reaping ${shape.tableName} at ${where} on '${options.schedule as string}'`
      const served = await serveMetrics(metricsAt)
      const observer = passPrinter(io, json, served?.observer)
      const reaper = new Reaper({ client, shape, options, now: Date.now, log: textLogger(io.stderr), observer })
      try {
        return await runScheduled(io, reaper, json, heading, served?.server.url)
      } finally {
        await reaper.close()
        await served?.server.close()
      }
    }, `reaping ${shape.tableName}`)
  }
}
