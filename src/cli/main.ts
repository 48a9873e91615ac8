#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import {
  BIN, COMMON_FLAGS, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandFailure, type CliIo, type Command, type ResolvedIo
} from './command.js'
import { describeError } from '../aws-errors.js'
import { demo } from './demo.js'
import { columns, flagRows, parseFlags, UsageError, type Flags } from './flags.js'
import { init } from './init.js'
import { local } from './local.js'
import { reap } from './reap.js'
import { backfill } from './backfill.js'
import { stats } from './stats.js'
import { grafana } from './grafana.js'
import { quietSdkWarning } from './sdk-warning.js'

/** The commands, by name. Help and parsing come from this table. */
export const COMMANDS: Record<string, Command> = { init, demo, local, reap, stats, backfill, grafana }

const VERSION_FLAG = { version: { type: 'boolean', description: 'Print the version' } } as const

export function mainHelp (): string {
  const rows: Array<[string, string]> = Object.entries(COMMANDS).map(([name, command]) => [name, command.summary])
  rows.push(['help <command>', 'Show the flags of a command'])
  return `Usage: ${BIN} <command> [flags]

Commands:
${columns(rows)}

Flags:
${columns(flagRows({ help: COMMON_FLAGS.help!, ...VERSION_FLAG }))}

Exit codes: 0 success, 1 failure, 2 usage error.
Run '${BIN} help <command>' for the flags of a command.
`
}

export function commandHelp (name: string, command: Command): string {
  const description = command.description !== undefined ? `\n${command.description}` : ''
  return `Usage: ${BIN} ${name} [flags]

${command.summary}.${description}

Flags:
${columns(flagRows({ ...command.flags, ...COMMON_FLAGS }))}
`
}

function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
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

function usage (io: ResolvedIo, prefix: string, message: string, helpFor: string): number {
  io.stderr.write(`${prefix}: ${message}\nRun '${BIN} ${helpFor}' for usage.\n`)
  return EXIT_USAGE
}

function commandNamed (name: string | undefined): Command | undefined {
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
}

/** `--help`, `--version`, `help` and `help <command>`. */
function runHelp (io: ResolvedIo, argv: string[]): number {
  const [first, ...rest] = argv
  if (first !== 'help') {
    let flags: Flags
    try {
      flags = parseFlags(argv, { help: COMMON_FLAGS.help!, ...VERSION_FLAG })
    } catch (err) {
      return usage(io, BIN, (err as Error).message, '--help')
    }
    io.stdout.write(flags.on('version') ? `${version()}\n` : mainHelp())
    return EXIT_OK
  }
  if (rest.length === 0) {
    io.stdout.write(mainHelp())
    return EXIT_OK
  }
  const target = commandNamed(rest[0])
  if (rest.length > 1 || target === undefined) return usage(io, BIN, `unknown command '${rest.join(' ')}'`, '--help')
  io.stdout.write(commandHelp(rest[0]!, target))
  return EXIT_OK
}

async function runCommand (io: ResolvedIo, name: string, command: Command, args: string[]): Promise<number> {
  const prefix = `${BIN} ${name}`
  let flags: Flags
  try {
    flags = parseFlags(args, { ...command.flags, ...COMMON_FLAGS }, command.exclusions)
  } catch (err) {
    return usage(io, prefix, (err as Error).message, `help ${name}`)
  }
  if (flags.on('help')) {
    io.stdout.write(commandHelp(name, command))
    return EXIT_OK
  }
  try {
    return await command.run({ flags, io })
  } catch (err) {
    if (err instanceof UsageError) return usage(io, prefix, err.message, `help ${name}`)
    reportFailure(io, prefix, err, flags.on('verbose'))
    return EXIT_FAILURE
  }
}

/** Runs the CLI. Resolves to the exit code: 0 success, 1 failure, 2 usage error. */
export async function main (argv: string[], io: CliIo = {}): Promise<number> {
  const resolved = resolveIo(io)
  const [first, ...rest] = argv
  if (first === undefined) {
    resolved.stderr.write(mainHelp())
    return EXIT_USAGE
  }
  if (first.startsWith('-') || first === 'help') return runHelp(resolved, argv)
  const command = commandNamed(first)
  if (command === undefined) {
    return usage(resolved, BIN, `unknown command '${first}' (commands: ${Object.keys(COMMANDS).join(', ')})`, '--help')
  }
  return await runCommand(resolved, first, command, rest)
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
  quietSdkWarning()
  main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: unknown) => {
    console.error(err)
    process.exitCode = EXIT_FAILURE
  })
}
