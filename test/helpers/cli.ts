import { existsSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { main } from '../../src/cli/main.js'
import { freshTableName } from './dynamo.js'
import type { CliIo } from '../../src/cli/command.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** The built bin, as package.json's `bin` names it. */
export const CLI_JS = join(ROOT, 'dist', 'cli', 'main.js')
export const QUIET_SDK = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }

export interface Run { code: number, stdout: string, stderr: string }

export interface Capture {
  io: Required<Pick<CliIo, 'stdout' | 'stderr'>>
  out: () => string
  err: () => string
  /** Resolves once stdout has a whole line. */
  firstLine: Promise<string>
}

/** A stdout/stderr pair that records what is written; `onOutput` sees stdout so far after each write. */
export function capture (onOutput?: (stdout: string) => void): Capture {
  let out = ''
  let err = ''
  let resolveLine: (line: string) => void = () => {}
  const firstLine = new Promise<string>((resolve) => { resolveLine = resolve })
  return {
    io: {
      stdout: {
        write: (text: string) => {
          out += text
          if (out.includes('\n')) resolveLine(out.slice(0, out.indexOf('\n')))
          onOutput?.(out)
        }
      },
      stderr: { write: (text: string) => { err += text } }
    },
    out: () => out,
    err: () => err,
    firstLine
  }
}

/** Runs the CLI in-process with its own environment (nothing from process.env but what the SDK reads itself). */
export async function run (
  argv: string[], env: NodeJS.ProcessEnv = {}, options: { signal?: AbortSignal, onOutput?: (stdout: string) => void } = {}
): Promise<Run> {
  const c = capture(options.onOutput)
  const code = await main(argv, { ...c.io, env, ...(options.signal !== undefined ? { signal: options.signal } : {}) })
  return { code, stdout: c.out(), stderr: c.err() }
}

/** A loopback port nothing listens on. */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export async function tableExists (client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }))
    return true
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return false
    throw err
  }
}

/** A table name no other test (of this process, or of another file on a shared server) uses. */
export const uniqueTable = (): string => freshTableName('cli')

export function ensureBuilt (): void {
  if (!existsSync(CLI_JS)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' })
}
