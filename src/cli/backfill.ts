import { runBackfill, type BackfillResult } from '../reaper/backfill.js'
import { formatDuration } from '../reaper/console.js'
import { EXIT_OK, JSON_FLAG, type Command } from './command.js'
import { CONNECTION_FLAGS, withClient } from './connection.js'
import { UsageError } from './flags.js'
import { DELETE_FLAGS, SCAN_FLAGS, TABLE_FLAGS, reaperFlags, tableFlags } from './option-flags.js'

function formatBackfill (result: BackfillResult): string {
  return [
    `scanned:      ${result.scanned} rows`,
    `backfilled:   ${result.backfilled} (given their expiry bucket)`,
    `missing:      ${result.missing} (still missing from the index: run again)`,
    `invalid:      ${result.invalid} (no numeric expiry: never indexed)`,
    `deleted:      ${result.deleted} (expired)`,
    `units:        ${result.consumedReadUnits} read, ${result.consumedWriteUnits} write`,
    `took:         ${formatDuration(result.durationSeconds)}`
  ].join('\n') + '\n'
}

const { 'max-write-units': maxWriteUnits } = DELETE_FLAGS

export const backfill: Command = {
  summary: 'Give rows missing from the expiry index their bucket (one budgeted Scan), deleting expired rows on the way',
  description: 'For rows of the tutorial\'s app, of older versions and of other software. Every write is conditional on the\n' +
    'row\'s expiry as read: it never extends or resurrects a session, and can run beside applications and reapers.',
  flags: { ...TABLE_FLAGS, ...CONNECTION_FLAGS, ...SCAN_FLAGS, 'max-write-units': maxWriteUnits!, ...JSON_FLAG },
  async run ({ flags, io }) {
    const shape = tableFlags(flags)
    if (shape.expiryIndex === false) throw new UsageError('the expiry index is off')
    const options = reaperFlags(flags, false)
    return await withClient(flags, io.env, async ({ client, endpoint, where }) => {
      const result = await runBackfill(client, shape, { ...options, now: Date.now, signal: io.signal })
      io.stdout.write(flags.on('json')
        ? JSON.stringify({ ...result, endpoint: endpoint ?? null }, null, 2) + '\n'
        : `Backfill of ${shape.tableName} at ${where}\n${formatBackfill(result)}`)
      return EXIT_OK
    }, `backfilling ${shape.tableName}`)
  }
}
