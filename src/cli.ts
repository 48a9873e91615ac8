#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { buildClient, resolvedRegion, type ClientTarget } from './client.js'
import { DEMO_HOST, DEMO_METRICS_PORT, DEMO_PORT, startDemo } from './demo.js'
import {
  DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_ID_ATTRIBUTE, DEFAULT_REAPER_GRACE_SECONDS, DEFAULT_REAPER_LEASE_SECONDS,
  DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND, DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND, DEFAULT_REAPER_SCHEDULE,
  DEFAULT_REAPER_SEGMENTS, DEFAULT_TABLE_NAME, resolveReaperOptions, resolveTableShape, type ReaperOptions,
  type ResolvedReaperOptions, type TableShape
} from './options.js'
import { Reaper } from './reaper/reaper.js'
import { collectStats } from './reaper/stats.js'
import { formatPassLine, formatReport, formatStats, textLogger } from './reaper/console.js'
import { ensureSessionTable, type Billing } from './store/table.js'

export const BIN = 'dynamo-session'
/** Exit codes of `main`. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
/** Per-attempt timeout of table setup calls (control-plane calls are slower than item reads). */
export const CLI_REQUEST_TIMEOUT_MS = 10_000

export interface Output { write (text: string): unknown }

export interface CliIo {
  stdout?: Output
  stderr?: Output
  env?: NodeJS.ProcessEnv
  /** Stops a long-running command (demo) like SIGINT does. */
  signal?: AbortSignal
}

export interface ResolvedIo {
  readonly stdout: Output
  readonly stderr: Output
  readonly env: NodeJS.ProcessEnv
  readonly signal: AbortSignal | undefined
}

export interface FlagSpec {
  type: 'string' | 'boolean'
  short?: string
  /** Placeholder of the value in help, e.g. `name`. */
  arg?: string
  description: string
  /** Applied by the parser and shown in help. */
  default?: string
}

export type FlagValues = Record<string, string | boolean | undefined>

export interface CommandContext {
  readonly values: FlagValues
  readonly io: ResolvedIo
}

export interface Command {
  /** One line for the command list. */
  summary: string
  /** Shown under the usage line of the command's help. */
  description?: string
  flags: Record<string, FlagSpec>
  /** Resolves to the exit code; throws UsageError for bad flag values, anything else for a failure. */
  run (context: CommandContext): Promise<number>
}

/** A command line that cannot work: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** A command that failed for a reason worth one line; `cause` has the details shown with --verbose. */
export class CommandFailure extends Error {
  override name = 'CommandFailure'
}

export const COMMON_FLAGS: Record<string, FlagSpec> = {
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
  verbose: { type: 'boolean', description: 'Print stack traces of failures' }
}

export const CONNECTION_FLAGS: Record<string, FlagSpec> = {
  endpoint: { type: 'string', arg: 'url', description: 'DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, else AWS)' },
  region: { type: 'string', arg: 'region', description: 'AWS region (default: AWS_REGION; us-east-1 for a loopback endpoint)' }
}

export const TABLE_FLAGS: Record<string, FlagSpec> = {
  table: { type: 'string', arg: 'name', description: 'Table name', default: DEFAULT_TABLE_NAME },
  'id-attribute': { type: 'string', arg: 'name', description: 'Partition key attribute (String)', default: DEFAULT_ID_ATTRIBUTE },
  'expires-attribute': { type: 'string', arg: 'name', description: 'Expiry attribute (Number, epoch seconds; the TTL attribute)', default: DEFAULT_EXPIRES_ATTRIBUTE }
}

export const JSON_FLAG: Record<string, FlagSpec> = {
  json: { type: 'boolean', description: 'Print the result as JSON' }
}

function stringFlag (values: FlagValues, name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

/** An integer flag within [min, max], or undefined when absent. */
export function intFlag (values: FlagValues, name: string, min: number, max: number): number | undefined {
  const text = stringFlag(values, name)
  if (text === undefined) return undefined
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${text}'`)
  }
  return n
}

export function oneOfFlag<T extends string> (values: FlagValues, name: string, allowed: readonly T[]): T | undefined {
  const text = stringFlag(values, name)
  if (text === undefined) return undefined
  if (!(allowed as readonly string[]).includes(text)) {
    throw new UsageError(`--${name} must be ${allowed.join(' or ')}, got '${text}'`)
  }
  return text as T
}

const OPTION_FOR_FLAG = { table: 'tableName', 'id-attribute': 'idAttribute', 'expires-attribute': 'expiresAttribute' } as const

/** The plugin's resolver applied to flags: its coded error becomes a usage error naming `flags`. */
function validated<T> (flags: string, resolve: () => T): T {
  try {
    return resolve()
  } catch (err) {
    throw new UsageError(`${flags}: ${(err as Error).message}`)
  }
}

/** The table name and attribute flags (absent ones take the plugin's defaults), validated like the plugin's options. */
export function tableFlags (values: FlagValues): TableShape {
  const given: Record<string, string> = {}
  for (const [flag, option] of Object.entries(OPTION_FOR_FLAG)) {
    const value = stringFlag(values, flag)
    if (value === undefined) continue
    validated(`--${flag}`, () => resolveTableShape({ [option]: value }))
    given[option] = value
  }
  return validated('--id-attribute/--expires-attribute', () => resolveTableShape(given))
}

/** A client from --endpoint/--region and the environment; fails when no region can be found. */
export async function clientFlags (values: FlagValues, env: NodeJS.ProcessEnv, requestTimeoutMs = CLI_REQUEST_TIMEOUT_MS): Promise<ClientTarget> {
  const endpoint = stringFlag(values, 'endpoint')
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(endpoint)) {
    throw new UsageError(`--endpoint must be an http:// or https:// URL, got '${endpoint}'`)
  }
  const region = stringFlag(values, 'region')
  if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) {
    throw new UsageError(`--region must be a region name such as eu-west-1, got '${region}'`)
  }
  const target = buildClient({ endpoint, region, requestTimeoutMs, env })
  if (await resolvedRegion(target.client) === undefined) {
    target.client.destroy()
    throw new CommandFailure('no AWS region configured: pass --region or set AWS_REGION')
  }
  return target
}

/** `name: message` of an error, on one line. */
export function describeError (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const inner = err instanceof AggregateError && err.message === '' && err.errors[0] instanceof Error ? err.errors[0] : err
  const code = (inner as { code?: unknown }).code
  const label = typeof code === 'string' ? code : inner.name
  const message = inner.message.split('\n')[0]?.trim() ?? ''
  if (message === '') return label
  return message.includes(label) ? message : `${label}: ${message}`
}

const init: Command = {
  summary: 'Create the session table if missing and enable TTL on its expiry attribute',
  description: 'Idempotent: an existing table is checked, not changed, and TTL is enabled only when it is off.',
  flags: {
    ...TABLE_FLAGS,
    ...CONNECTION_FLAGS,
    // No parse default: whether --billing was given decides the note about an existing table.
    billing: { type: 'string', arg: 'mode', description: 'on-demand or provisioned, applies when creating (default: on-demand)' },
    'read-capacity': { type: 'string', arg: 'n', description: 'Read capacity units with --billing provisioned (default 5)' },
    'write-capacity': { type: 'string', arg: 'n', description: 'Write capacity units with --billing provisioned (default 5)' },
    ...JSON_FLAG
  },
  async run ({ values, io }) {
    const { tableName, idAttribute, expiresAttribute } = tableFlags(values)
    const names = { tableName, idAttribute, expiresAttribute }
    const billing = oneOfFlag<Billing>(values, 'billing', ['on-demand', 'provisioned']) ?? 'on-demand'
    const readCapacity = intFlag(values, 'read-capacity', 1, 40_000)
    const writeCapacity = intFlag(values, 'write-capacity', 1, 40_000)
    if (billing === 'on-demand' && (readCapacity !== undefined || writeCapacity !== undefined)) {
      throw new UsageError('--read-capacity and --write-capacity need --billing provisioned')
    }
    const json = values.json === true
    const { client, endpoint } = await clientFlags(values, io.env)
    const where = endpoint ?? `AWS (${await resolvedRegion(client) ?? '?'})`
    try {
      if (!json) io.stdout.write(`Table ${names.tableName} at ${where}\n`)
      const result = await ensureSessionTable(client, {
        ...names,
        billing,
        ...(readCapacity !== undefined ? { readCapacity } : {}),
        ...(writeCapacity !== undefined ? { writeCapacity } : {}),
        ...(json ? {} : { log: (message: string) => { io.stdout.write(`  ${message}\n`) } })
      })
      if (json) {
        io.stdout.write(JSON.stringify({ ...result, endpoint: endpoint ?? null }, null, 2) + '\n')
      } else {
        io.stdout.write(`${result.created ? 'Created' : 'Found'} ${result.tableName}: ${result.tableStatus}, ${result.billing}, TTL ${result.ttl}` +
          `${result.ttlAttribute !== undefined ? ` on ${result.ttlAttribute}` : ''}\n`)
        if (!result.created && result.billing !== billing && values.billing !== undefined) {
          io.stdout.write(`  note: the table is ${result.billing}; --billing applies only when creating\n`)
        }
      }
      return EXIT_OK
    } catch (err) {
      throw new CommandFailure(`${where}: ${describeError(err)}`, { cause: err })
    } finally {
      client.destroy()
    }
  }
}

function waitForStop (signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve) => {
    const stop = (reason: string) => (): void => {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      signal?.removeEventListener('abort', onAbort)
      resolve(reason)
    }
    const onInt = stop('SIGINT')
    const onTerm = stop('SIGTERM')
    const onAbort = stop('abort')
    process.once('SIGINT', onInt)
    process.once('SIGTERM', onTerm)
    if (signal?.aborted === true) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
}

const demo: Command = {
  summary: 'Serve a demo app (visit counter, login, logout) with sessions in an embedded DynamoDB',
  description: 'Starts dynalite on 127.0.0.1 (in memory, or in --data-dir) unless AWS_ENDPOINT_URL_DYNAMODB is set,\n' +
    'creates the table and serves the app until SIGINT/SIGTERM. SESSION_SECRET (>= 32 characters) signs cookies;\n' +
    'without it a random secret is used for this run.',
  flags: {
    port: { type: 'string', arg: 'n', description: 'Port to serve on (0 picks a free one)', default: String(DEMO_PORT) },
    host: { type: 'string', arg: 'addr', description: 'Address to serve on', default: DEMO_HOST },
    'metrics-port': { type: 'string', arg: 'n', description: 'Port of the metrics server, on 127.0.0.1 only (0 picks a free one)', default: String(DEMO_METRICS_PORT) },
    'data-dir': { type: 'string', arg: 'dir', description: 'Persist the embedded dynalite in this directory (default: in memory)' },
    table: TABLE_FLAGS.table!,
    json: { type: 'boolean', description: 'Print where to look as one JSON line' }
  },
  async run ({ values, io }) {
    const port = intFlag(values, 'port', 0, 65_535) ?? DEMO_PORT
    const host = stringFlag(values, 'host') ?? DEMO_HOST
    if (host === '') throw new UsageError('--host must not be empty')
    const metricsPort = intFlag(values, 'metrics-port', 0, 65_535) ?? DEMO_METRICS_PORT
    const dataDir = stringFlag(values, 'data-dir')
    if (dataDir === '') throw new UsageError('--data-dir must not be empty')
    const external = io.env.AWS_ENDPOINT_URL_DYNAMODB
    if (dataDir !== undefined && external !== undefined && external !== '') {
      throw new UsageError('--data-dir applies to the embedded dynalite, which is not started when AWS_ENDPOINT_URL_DYNAMODB is set')
    }
    const { tableName } = tableFlags(values)
    const app = await startDemo({ port, host, metricsPort, tableName, env: io.env, ...(dataDir !== undefined ? { dataDir } : {}) })
    if (values.json === true) {
      io.stdout.write(JSON.stringify({
        url: app.url, endpoint: app.endpoint, tableName: app.tableName, embedded: app.embedded, randomSecret: app.randomSecret, metricsUrl: app.metricsUrl
      }) + '\n')
    } else {
      const store = app.embedded ? `embedded dynalite, ${dataDir === undefined ? 'in memory' : `data in ${dataDir}`}` : 'AWS_ENDPOINT_URL_DYNAMODB'
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
    const reason = await waitForStop(io.signal)
    io.stderr.write(`Stopping (${reason})...\n`)
    await app.close()
    return EXIT_OK
  }
}

const SCAN_FLAGS: Record<string, FlagSpec> = {
  segments: { type: 'string', arg: 'n', description: 'Parallel Scan segments (1 to 1000)', default: String(DEFAULT_REAPER_SEGMENTS) },
  'grace-seconds': { type: 'string', arg: 'n', description: 'Seconds past its expiry before a row counts as expired', default: String(DEFAULT_REAPER_GRACE_SECONDS) },
  'max-read-units': { type: 'string', arg: 'n', description: 'Read capacity units per second the scan may consume', default: String(DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND) }
}

/** The reaper options given by flags, validated like the plugin's `reaper` option. */
function reaperFlags (values: FlagValues, schedule: string | false): ResolvedReaperOptions {
  const given: ReaperOptions = {
    schedule,
    segments: intFlag(values, 'segments', 1, 1000),
    graceSeconds: intFlag(values, 'grace-seconds', 0, Number.MAX_SAFE_INTEGER),
    maxReadUnitsPerSecond: intFlag(values, 'max-read-units', 1, 1_000_000),
    maxWriteUnitsPerSecond: intFlag(values, 'max-write-units', 1, 1_000_000),
    leaseSeconds: intFlag(values, 'lease-seconds', 1, 86_400),
    maxPassSeconds: intFlag(values, 'max-pass-seconds', 1, 86_400)
  }
  try {
    // An object always resolves to options, never to false.
    return resolveReaperOptions(given) as ResolvedReaperOptions
  } catch (err) {
    throw new UsageError(schedule !== false ? `--schedule: ${(err as Error).message}` : (err as Error).message)
  }
}

const reap: Command = {
  summary: 'Delete expired sessions ahead of TTL: one pass with --once, else on a schedule until SIGINT/SIGTERM',
  description: 'Takes the same lease item as the plugin\'s reaper, so it can run next to applications (one pass per tick\n' +
    'across all of them). --once prints the pass report and exits 1 when the pass failed.',
  flags: {
    once: { type: 'boolean', description: 'Run one pass now and exit' },
    schedule: { type: 'string', arg: 'cron', description: 'When passes run (node-cron; 6 fields for seconds), without --once', default: DEFAULT_REAPER_SCHEDULE },
    ...TABLE_FLAGS,
    ...CONNECTION_FLAGS,
    ...SCAN_FLAGS,
    'max-write-units': { type: 'string', arg: 'n', description: 'Write capacity units per second the deletes may consume', default: String(DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND) },
    'lease-seconds': { type: 'string', arg: 'n', description: 'Length of the lease a pass holds', default: String(DEFAULT_REAPER_LEASE_SECONDS) },
    'max-pass-seconds': { type: 'string', arg: 'n', description: 'A pass stops after this long; the next resumes (default: 80% of the schedule\'s period, 60 with --once)' },
    json: { type: 'boolean', description: 'Print reports as JSON (one line per pass without --once)' }
  },
  async run ({ values, io }) {
    const once = values.once === true
    if (once && values.schedule !== DEFAULT_REAPER_SCHEDULE) throw new UsageError('--schedule applies only without --once')
    const shape = tableFlags(values)
    const options = reaperFlags(values, once ? false : stringFlag(values, 'schedule') ?? DEFAULT_REAPER_SCHEDULE)
    const json = values.json === true
    const { client, endpoint } = await clientFlags(values, io.env)
    const where = endpoint ?? `AWS (${await resolvedRegion(client) ?? '?'})`
    const reaper = new Reaper({
      client,
      shape,
      options,
      now: Date.now,
      log: textLogger(io.stderr),
      observer: once
        ? undefined
        : {
            passEnded: (report) => { io.stdout.write(json ? JSON.stringify({ at: new Date().toISOString(), ...report }) + '\n' : formatPassLine(report, Date.now())) },
            tableState () {},
            consumed () {},
            throttled () {},
            reaped () {},
            ttlLag () {},
            skipped () {},
            interval () {}
          }
    })
    try {
      if (once) {
        const report = await reaper.runOnce()
        io.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : `Reaper pass on ${shape.tableName} at ${where}\n${formatReport(report)}`)
        return report.result === 'failure' ? EXIT_FAILURE : EXIT_OK
      }
      if (!json) io.stdout.write(`Reaping ${shape.tableName} at ${where} on '${options.schedule as string}' (every ${reaper.intervalSeconds} s at most); Ctrl-C stops\n`)
      reaper.start()
      const reason = await waitForStop(io.signal)
      io.stderr.write(`Stopping (${reason})...\n`)
      return EXIT_OK
    } finally {
      await reaper.close()
      client.destroy()
    }
  }
}

const stats: Command = {
  summary: 'Count live, expired and invalid sessions (one Scan, nothing deleted) and show the reaper\'s lease',
  description: 'The scan costs read units like a reaper pass (about rows x item size / 8 KB), held to --max-read-units a second.',
  flags: { ...TABLE_FLAGS, ...CONNECTION_FLAGS, ...SCAN_FLAGS, ...JSON_FLAG },
  async run ({ values, io }) {
    const shape = tableFlags(values)
    const options = reaperFlags(values, false)
    const { client, endpoint } = await clientFlags(values, io.env)
    const where = endpoint ?? `AWS (${await resolvedRegion(client) ?? '?'})`
    try {
      const result = await collectStats(client, shape, { ...options, now: Date.now })
      io.stdout.write(values.json === true ? JSON.stringify({ ...result, endpoint: endpoint ?? null }, null, 2) + '\n' : `endpoint:     ${where}\n${formatStats(result, Date.now())}`)
      return EXIT_OK
    } catch (err) {
      throw new CommandFailure(`counting ${shape.tableName} at ${where} failed: ${describeError(err)}`, { cause: err })
    } finally {
      client.destroy()
    }
  }
}

/** The commands, by name. Help and parsing come from this table. */
export const COMMANDS: Record<string, Command> = { init, demo, reap, stats }

function flagLine (name: string, spec: FlagSpec): [string, string] {
  const left = `${spec.short !== undefined ? `-${spec.short}, ` : '    '}--${name}${spec.arg !== undefined ? ` <${spec.arg}>` : ''}`
  return [left, `${spec.description}${spec.default !== undefined ? ` (default: ${spec.default})` : ''}`]
}

function columns (rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n')
}

export function mainHelp (): string {
  const rows: Array<[string, string]> = Object.entries(COMMANDS).map(([name, c]) => [name, c.summary])
  rows.push(['help <command>', 'Show the flags of a command'])
  return `Usage: ${BIN} <command> [flags]

Commands:
${columns(rows)}

Flags:
${columns([flagLine('help', COMMON_FLAGS.help!), ['    --version', 'Print the version']])}

Exit codes: 0 success, 1 failure, 2 usage error.
Run '${BIN} help <command>' for the flags of a command.
`
}

export function commandHelp (name: string, command: Command): string {
  const flags = { ...command.flags, ...COMMON_FLAGS }
  return `Usage: ${BIN} ${name} [flags]

${command.summary}.${command.description !== undefined ? `\n${command.description}` : ''}

Flags:
${columns(Object.entries(flags).map(([flag, spec]) => flagLine(flag, spec)))}
`
}

function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/** parseArgs, strict, with messages that name the flag. */
export function parseFlags (args: string[], specs: Record<string, FlagSpec>): FlagValues {
  const options = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, {
    type: spec.type,
    ...(spec.short !== undefined ? { short: spec.short } : {}),
    ...(spec.default !== undefined ? { default: spec.default } : {})
  }]))
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true })
  for (const token of tokens) {
    if (token.kind === 'positional') throw new UsageError(`unexpected argument '${token.value}'`)
    if (token.kind !== 'option') continue
    const spec = specs[token.name]
    if (spec === undefined) throw new UsageError(`unknown flag ${token.rawName}`)
    if (spec.type === 'boolean' && token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`)
    if (spec.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))) {
      throw new UsageError(`${token.rawName} needs a value${spec.arg !== undefined ? ` <${spec.arg}>` : ''} (use ${token.rawName}=<value> for one starting with '-')`)
    }
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as FlagValues
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

function resolveIo (io: CliIo): ResolvedIo {
  return { stdout: io.stdout ?? process.stdout, stderr: io.stderr ?? process.stderr, env: io.env ?? process.env, signal: io.signal }
}

function reportFailure (io: ResolvedIo, prefix: string, err: unknown, verbose: boolean): void {
  io.stderr.write(`${prefix}: ${err instanceof CommandFailure ? err.message : describeError(err)}\n`)
  if (!verbose) return
  let current: unknown = err
  while (current instanceof Error) {
    io.stderr.write(`${current.stack ?? String(current)}\n`)
    current = current.cause
  }
}

/** Runs the CLI. Resolves to the exit code: 0 success, 1 failure, 2 usage error. */
export async function main (argv: string[], io: CliIo = {}): Promise<number> {
  const out = resolveIo(io)
  const usage = (prefix: string, message: string, helpFor: string): number => {
    out.stderr.write(`${prefix}: ${message}\nRun '${BIN} ${helpFor}' for usage.\n`)
    return EXIT_USAGE
  }
  const [first, ...rest] = argv
  if (first === undefined) {
    out.stderr.write(mainHelp())
    return EXIT_USAGE
  }
  if (first.startsWith('-')) {
    let values: FlagValues
    try {
      values = parseFlags(argv, { help: COMMON_FLAGS.help!, version: { type: 'boolean', description: 'Print the version' } })
    } catch (err) {
      return usage(BIN, (err as Error).message, '--help')
    }
    if (values.version === true) out.stdout.write(`${version()}\n`)
    else out.stdout.write(mainHelp())
    return EXIT_OK
  }
  if (first === 'help') {
    if (rest.length === 0) {
      out.stdout.write(mainHelp())
      return EXIT_OK
    }
    const target = Object.hasOwn(COMMANDS, rest[0]!) ? COMMANDS[rest[0]!] : undefined
    if (rest.length > 1 || target === undefined) return usage(BIN, `unknown command '${rest.join(' ')}'`, '--help')
    out.stdout.write(commandHelp(rest[0]!, target))
    return EXIT_OK
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined
  if (command === undefined) return usage(BIN, `unknown command '${first}' (commands: ${Object.keys(COMMANDS).join(', ')})`, '--help')
  const prefix = `${BIN} ${first}`
  let values: FlagValues
  try {
    values = parseFlags(rest, { ...command.flags, ...COMMON_FLAGS })
  } catch (err) {
    return usage(prefix, (err as Error).message, `help ${first}`)
  }
  if (values.help === true) {
    out.stdout.write(commandHelp(first, command))
    return EXIT_OK
  }
  try {
    return await command.run({ values, io: out })
  } catch (err) {
    if (err instanceof UsageError) return usage(prefix, err.message, `help ${first}`)
    reportFailure(out, prefix, err, values.verbose === true)
    return EXIT_FAILURE
  }
}

function invokedDirectly (): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href
  } catch {
    return false
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: unknown) => {
    console.error(err)
    process.exitCode = EXIT_FAILURE
  })
}
