import { buildClient } from '../client.js'
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../embedded.js'
import { MAX_PORT } from '../options.js'
import { ensureSessionTable, type EnsureTableResult } from '../store/table.js'
import { EXIT_OK, JSON_FLAG, waitForStop, type Command, type ResolvedIo } from './command.js'
import { CLI_REQUEST_TIMEOUT_MS } from './connection.js'
import type { Flags } from './flags.js'
import { TABLE_FLAGS, tableFlags } from './option-flags.js'

/** DynamoDB Local's customary port, so that tools and snippets written for it find this server too. */
export const LOCAL_PORT = 8000
/** The variable the plugin, the CLI and the AWS SDK read the endpoint from. */
export const ENDPOINT_VARIABLE = 'AWS_ENDPOINT_URL_DYNAMODB'

const PORT_BOUNDS = { min: 0, max: MAX_PORT }

/** Creates the session table (with its indexes) on the embedded server, as `init` would; the client lives for this call only. */
async function createSessionTable (dynamo: EmbeddedDynamo, flags: Flags, env: NodeJS.ProcessEnv): Promise<EnsureTableResult> {
  const { client } = buildClient({ endpoint: dynamo.endpoint, requestTimeoutMs: CLI_REQUEST_TIMEOUT_MS, env })
  try {
    // The whole shape: whatever indexes the plugin's options describe are created with the table. dynalite cannot add
    // an index to an existing table (a --data-dir table of an older version keeps what it has).
    return await ensureSessionTable(client, { ...tableFlags(flags), addIndexToExistingTable: false })
  } finally {
    client.destroy()
  }
}

function printReady (io: ResolvedIo, dynamo: EmbeddedDynamo, table: EnsureTableResult, dataDir: string | undefined): void {
  io.stdout.write([
    `DynamoDB:  ${dynamo.endpoint} (dynalite, ${dataDir === undefined ? 'in memory: data ends with this process' : `data in ${dataDir}`})`,
    `Table:     ${table.tableName} (${table.created ? 'created' : 'found'}; expiry index ${table.expiryIndex})`,
    'In the shell that runs your app (the plugin then needs no other configuration):',
    '',
    `export ${ENDPOINT_VARIABLE}=${dynamo.endpoint}`,
    '',
    'Stop:      Ctrl-C',
    ''
  ].join('\n'))
}

export const local: Command = {
  summary: 'Run a DynamoDB-compatible server (dynalite) for local development, with the session table',
  description: 'Starts dynalite on 127.0.0.1 from your project (npm install -D dynalite), creates the table with its\n' +
    `indexes, prints the ${ENDPOINT_VARIABLE} line to export, and serves until SIGINT/SIGTERM.`,
  flags: {
    port: { type: 'string', arg: 'n', description: 'Port to listen on, on 127.0.0.1 (0 picks a free one)', default: String(LOCAL_PORT) },
    'data-dir': { type: 'string', arg: 'dir', description: 'Keep the data in this directory (LevelDB; default: in memory)' },
    ...TABLE_FLAGS,
    ...JSON_FLAG
  },
  async run ({ flags, io }) {
    const port = flags.integer('port', PORT_BOUNDS) ?? LOCAL_PORT
    const dataDir = flags.nonEmpty('data-dir')
    tableFlags(flags) // Usage errors before anything starts.
    const dynamo = await startEmbeddedDynamo({ port, ...(dataDir !== undefined ? { dataDir } : {}) })
    try {
      const table = await createSessionTable(dynamo, flags, io.env)
      if (flags.on('json')) {
        const { endpoint } = dynamo
        io.stdout.write(JSON.stringify({ endpoint, tableName: table.tableName, created: table.created, dataDir: dataDir ?? null }) + '\n')
      } else {
        printReady(io, dynamo, table, dataDir)
      }
      const reason = await waitForStop(io.signal)
      io.stderr.write(`Stopping (${reason})...\n`)
      return EXIT_OK
    } finally {
      await dynamo.close()
    }
  }
}
