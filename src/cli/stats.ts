import { formatStats } from '../reaper/console.js'
import { collectStats } from '../reaper/stats.js'
import { EXIT_OK, JSON_FLAG, type Command } from './command.js'
import { CONNECTION_FLAGS, withClient } from './connection.js'
import { SCAN_FLAGS, TABLE_FLAGS, reaperFlags, tableFlags } from './option-flags.js'

export const stats: Command = {
  summary: 'Count live, expired and invalid sessions (one Scan, nothing deleted) and show the reaper\'s lease',
  description: 'The scan costs read units like a reaper pass (about rows x item size / 8 KB), held to --max-read-units a second.',
  flags: { ...TABLE_FLAGS, ...CONNECTION_FLAGS, ...SCAN_FLAGS, ...JSON_FLAG },
  async run ({ flags, io }) {
    const shape = tableFlags(flags)
    const options = reaperFlags(flags, false)
    return await withClient(flags, io.env, async ({ client, endpoint, where }) => {
      const result = await collectStats(client, shape, { ...options, now: Date.now })
      io.stdout.write(flags.on('json')
        ? JSON.stringify({ ...result, endpoint: endpoint ?? null }, null, 2) + '\n'
        : `endpoint:     ${where}\n${formatStats(result, Date.now())}`)
      return EXIT_OK
    }, `counting ${shape.tableName}`)
  }
}
