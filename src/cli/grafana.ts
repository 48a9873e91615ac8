import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EXIT_OK, CommandFailure, type Command } from './command.js'
import { UsageError } from './flags.js'

/** The shipped monitoring files, relative to the package root, and the name each is written under. */
export const MONITORING_FILES = [
  { source: 'grafana/prometheus/dynamo-session.rules.yml', name: 'dynamo-session.rules.yml' },
  { source: 'grafana/prometheus/dynamo-session.rules.test.yml', name: 'dynamo-session.rules.test.yml' },
  { source: 'grafana/dashboards/dynamo-session.json', name: 'dynamo-session.json' }
] as const

/** The runbooks' page below a repository: docs/operations.md on its main branch. */
const RUNBOOK_PAGE = 'blob/main/docs/operations.md'
const RUNBOOK_URL = /runbook_url: (\S+?)#/

const PACKAGE_ROOT = new URL('../../', import.meta.url)

/**
 * Pure: the default runbook base, from package.json's `repository` (`git+https://github.com/o/r.git`, `github:o/r`
 * or `{ url }`): `https://github.com/o/r/blob/main/docs/operations.md`; `undefined` when it names no GitHub repository.
 */
export function runbookBaseOf (repository: unknown): string | undefined {
  const url = typeof repository === 'string' ? repository : (repository as { url?: unknown } | null)?.url
  if (typeof url !== 'string') return undefined
  const match = /^(?:git\+)?(?:https:\/\/|git:\/\/|ssh:\/\/git@|git@)?github\.com[/:]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(url) ??
    /^github:([\w.-]+)\/([\w.-]+)$/.exec(url)
  return match === null ? undefined : `https://github.com/${match[1]}/${match[2]}/${RUNBOOK_PAGE}`
}

/** Pure: `text` with every runbook_url base (the one the shipped rules use) replaced by `base`. */
export function withRunbookBase (text: string, base: string): string {
  const shipped = RUNBOOK_URL.exec(text)?.[1]
  if (shipped === undefined) return text
  return text.split(`${shipped}#`).join(`${base}#`)
}

async function packageFile (path: string): Promise<string> {
  return await readFile(new URL(path, PACKAGE_ROOT), 'utf8')
}

async function defaultBase (): Promise<string> {
  const pkg = JSON.parse(await packageFile('package.json')) as { repository?: unknown }
  const base = runbookBaseOf(pkg.repository)
  if (base === undefined) throw new CommandFailure('package.json names no GitHub repository: pass --runbook-base')
  return base
}

function baseFlag (text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`--runbook-base must be an http(s) URL, got '${text}'`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--runbook-base must be an http(s) URL, got '${text}'`)
  if (url.hash !== '') throw new UsageError(`--runbook-base must have no #fragment (the alerts add theirs), got '${text}'`)
  return text
}

export const grafana: Command = {
  summary: 'Write the Prometheus rules (with their promtool tests) and the Grafana dashboard, the alerts linking to your runbooks',
  description: 'Every alert\'s runbook_url is <runbook-base>#<alert>: point it at your copy of docs/operations.md\'s ' +
    'runbooks. Existing files are not overwritten without --force.',
  flags: {
    out: { type: 'string', arg: 'dir', description: 'Directory to write the files to (created if missing)' },
    'runbook-base': {
      type: 'string',
      arg: 'url',
      description: 'Base of every alert\'s runbook_url (default: docs/operations.md in the package\'s repository)'
    },
    force: { type: 'boolean', description: 'Overwrite existing files' }
  },
  async run ({ flags, io }) {
    const out = flags.text('out')
    if (out === undefined) throw new UsageError('--out is required')
    const base = baseFlag(flags.text('runbook-base')) ?? await defaultBase()
    await mkdir(out, { recursive: true })
    const written: string[] = []
    for (const { source, name } of MONITORING_FILES) {
      const path = join(out, name)
      await writeFile(path, withRunbookBase(await packageFile(source), base), { flag: flags.on('force') ? 'w' : 'wx' })
        .catch((err: unknown) => {
          if ((err as { code?: string }).code === 'EEXIST') throw new CommandFailure(`${path} exists: pass --force to overwrite it`)
          throw err
        })
      written.push(path)
    }
    io.stdout.write(`runbook base: ${base}\n${written.map((path) => `wrote ${path}\n`).join('')}`)
    return EXIT_OK
  }
}
