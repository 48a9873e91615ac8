import { DEMO_HOST, DEMO_METRICS_PORT, DEMO_PORT, startDemo } from '../demo.js'
import { MAX_PORT } from '../options.js'
import { EXIT_OK, waitForStop, type Command, type ResolvedIo } from './command.js'
import { UsageError } from './flags.js'
import { TABLE_FLAGS, tableFlags } from './option-flags.js'

const PORT_BOUNDS = { min: 0, max: MAX_PORT }

type DemoApp = Awaited<ReturnType<typeof startDemo>>

function printWhereToLook (io: ResolvedIo, app: DemoApp, dataDir: string | undefined): void {
  const where = dataDir === undefined ? 'in memory' : `data in ${dataDir}`
  const store = app.embedded ? `embedded dynalite, ${where}` : 'AWS_ENDPOINT_URL_DYNAMODB'
  io.stdout.write([
    `Demo app:  ${app.url}/`,
    `DynamoDB:  ${app.endpoint} (${store})`,
    `Table:     ${app.tableName} (TTL ${app.table.ttl})`,
    `Metrics:   ${app.metricsUrl} (loopback only, not on the app's port)`,
    app.randomSecret
      ? 'Secret:    random for this run: sessions do not survive a restart (set SESSION_SECRET to keep them)'
      : 'Secret:    SESSION_SECRET',
    `Look:      AWS_ENDPOINT_URL_DYNAMODB=${app.endpoint} aws dynamodb scan --table-name ${app.tableName}`,
    'Stop:      Ctrl-C',
    ''
  ].join('\n'))
}

function printJson (io: ResolvedIo, app: DemoApp): void {
  const { url, endpoint, tableName, embedded, randomSecret } = app
  io.stdout.write(JSON.stringify({ url, endpoint, tableName, embedded, randomSecret, metricsUrl: app.metricsUrl }) + '\n')
}

export const demo: Command = {
  summary: 'Serve a demo app (visit counter, login, logout) with sessions in an embedded DynamoDB',
  description: 'Starts dynalite on 127.0.0.1 (in memory, or in --data-dir) unless AWS_ENDPOINT_URL_DYNAMODB is set,\n' +
    'creates the table and serves the app until SIGINT/SIGTERM. SESSION_SECRET (>= 32 characters) signs cookies;\n' +
    'without it a random secret is used for this run.',
  flags: {
    port: { type: 'string', arg: 'n', description: 'Port to serve on (0 picks a free one)', default: String(DEMO_PORT) },
    host: { type: 'string', arg: 'addr', description: 'Address to serve on', default: DEMO_HOST },
    'metrics-port': {
      type: 'string',
      arg: 'n',
      description: 'Port of the metrics server, on 127.0.0.1 only (0 picks a free one)',
      default: String(DEMO_METRICS_PORT)
    },
    'data-dir': { type: 'string', arg: 'dir', description: 'Persist the embedded dynalite in this directory (default: in memory)' },
    table: TABLE_FLAGS.table!,
    json: { type: 'boolean', description: 'Print where to look as one JSON line' }
  },
  async run ({ flags, io }) {
    const port = flags.integer('port', PORT_BOUNDS) ?? DEMO_PORT
    const host = flags.nonEmpty('host') ?? DEMO_HOST
    const metricsPort = flags.integer('metrics-port', PORT_BOUNDS) ?? DEMO_METRICS_PORT
    const dataDir = flags.nonEmpty('data-dir')
    const external = io.env.AWS_ENDPOINT_URL_DYNAMODB
    if (dataDir !== undefined && external !== undefined && external !== '') {
      throw new UsageError('--data-dir applies to the embedded dynalite, which is not started when AWS_ENDPOINT_URL_DYNAMODB is set')
    }
    const { tableName } = tableFlags(flags)
    const app = await startDemo({ port, host, metricsPort, tableName, env: io.env, ...(dataDir !== undefined ? { dataDir } : {}) })
    if (flags.on('json')) printJson(io, app)
    else printWhereToLook(io, app, dataDir)
    const reason = await waitForStop(io.signal)
    io.stderr.write(`Stopping (${reason})...\n`)
    await app.close()
    return EXIT_OK
  }
}
