import type { Exclusions, FlagSpecs, Flags } from './flags.js'

export const BIN = 'dynamo-session'
/** Exit codes of `main`. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

export interface Output { write (text: string): unknown }

export interface CliIo {
  stdout?: Output
  stderr?: Output
  env?: NodeJS.ProcessEnv
  /** Stops a long-running command (demo, reap) like SIGINT does. */
  signal?: AbortSignal
}

export interface ResolvedIo {
  readonly stdout: Output
  readonly stderr: Output
  readonly env: NodeJS.ProcessEnv
  readonly signal: AbortSignal | undefined
}

export interface CommandContext {
  readonly flags: Flags
  readonly io: ResolvedIo
}

export interface Command {
  /** One line for the command list. */
  summary: string
  /** Shown under the usage line of the command's help. */
  description?: string
  flags: FlagSpecs
  /** Flags that cannot be given together (rejected before `run`). */
  exclusions?: Exclusions
  /** Resolves to the exit code; throws UsageError for bad flag values, anything else for a failure. */
  run (context: CommandContext): Promise<number>
}

/** A command that failed for a reason worth one line; `cause` has the details shown with --verbose. */
export class CommandFailure extends Error {
  override name = 'CommandFailure'
}

export const COMMON_FLAGS: FlagSpecs = {
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
  verbose: { type: 'boolean', description: 'Print stack traces of failures' }
}

export const JSON_FLAG: FlagSpecs = {
  json: { type: 'boolean', description: 'Print the result as JSON' }
}

/** Resolves with what stopped a long-running command: SIGINT, SIGTERM or the abort of `signal`. */
export function waitForStop (signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve) => {
    const stop = (reason: string) => (): void => {
      process.off('SIGINT', onInterrupt)
      process.off('SIGTERM', onTerminate)
      signal?.removeEventListener('abort', onAbort)
      resolve(reason)
    }
    const onInterrupt = stop('SIGINT')
    const onTerminate = stop('SIGTERM')
    const onAbort = stop('abort')
    process.once('SIGINT', onInterrupt)
    process.once('SIGTERM', onTerminate)
    if (signal?.aborted === true) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
}
