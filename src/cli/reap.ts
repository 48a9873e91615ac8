import { DEFAULT_REAPER_SCHEDULE } from '../options.js'
import { formatPassLine, formatReport, textLogger } from '../reaper/console.js'
import { Reaper } from '../reaper/reaper.js'
import type { ReaperObserver } from '../instrumentation.js'
import { EXIT_FAILURE, EXIT_OK, waitForStop, type Command, type ResolvedIo } from './command.js'
import { CONNECTION_FLAGS, withClient } from './connection.js'
import { DELETE_FLAGS, SCAN_FLAGS, TABLE_FLAGS, reaperFlags, tableFlags } from './option-flags.js'

/** Prints one line (or one JSON line) per pass of the scheduled reaper. */
function passPrinter (io: ResolvedIo, json: boolean): ReaperObserver {
  return {
    passEnded: (report) => {
      io.stdout.write(json ? JSON.stringify({ at: new Date().toISOString(), ...report }) + '\n' : formatPassLine(report, Date.now()))
    },
    tableState () {},
    consumed () {},
    throttled () {},
    reaped () {},
    ttlLag () {},
    skipped () {},
    interval () {},
    strategy () {},
    budgets () {}
  }
}

async function runOnce (io: ResolvedIo, reaper: Reaper, json: boolean, heading: string): Promise<number> {
  const report = await reaper.runOnce()
  io.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : `${heading}\n${formatReport(report)}`)
  return report.result === 'failure' ? EXIT_FAILURE : EXIT_OK
}

async function runScheduled (io: ResolvedIo, reaper: Reaper, json: boolean, heading: string): Promise<number> {
  if (!json) io.stdout.write(`${heading} (every ${reaper.intervalSeconds} s at most); Ctrl-C stops\n`)
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
    json: { type: 'boolean', description: 'Print reports as JSON (one line per pass without --once)' }
  },
  exclusions: [['once', 'schedule']],
  async run ({ flags, io }) {
    const once = flags.on('once')
    const shape = tableFlags(flags)
    const options = reaperFlags(flags, once ? false : flags.text('schedule'))
    const json = flags.on('json')
    return await withClient(flags, io.env, async ({ client, where }) => {
      const observer = once ? undefined : passPrinter(io, json)
      const reaper = new Reaper({ client, shape, options, now: Date.now, log: textLogger(io.stderr), observer })
      try {
        if (once) return await runOnce(io, reaper, json, `Reaper pass on ${shape.tableName} at ${where}`)
        return await runScheduled(io, reaper, json, `Reaping ${shape.tableName} at ${where} on '${options.schedule as string}'`)
      } finally {
        await reaper.close()
      }
    })
  }
}
