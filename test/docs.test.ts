// The documentation as a newcomer meets it: a short README, docs/*.md for depth, and no link that leads nowhere.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { COMMANDS } from '../src/cli/main.js'
import { headingAnchors, relativeLinks } from './helpers/markdown.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** STYLE.md principle 13: the README is the front door; depth goes to docs/*.md. */
const README_MAX_LINES = 400

const read = (path: string): string => readFileSync(path, 'utf8')
const DOCS = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => join(ROOT, 'docs', name))
const CHECKED = [join(ROOT, 'README.md'), ...DOCS, join(ROOT, 'bench', 'README.md'), join(ROOT, 'CHANGELOG.md')]

t.test(`README.md has at most ${README_MAX_LINES} lines`, async (t) => {
  const lines = read(join(ROOT, 'README.md')).split('\n')
  if (lines.at(-1) === '') lines.pop()
  t.ok(lines.length <= README_MAX_LINES, `${lines.length} lines: move the depth to docs/*.md, keep one line or row here`)
})

t.test('every relative link in README.md, docs/*.md, bench/README.md and CHANGELOG.md leads to a file and heading', async (t) => {
  t.ok(DOCS.length >= 8, 'the docs pages are there')
  const anchorsOf = new Map<string, Set<string>>()
  const anchors = (path: string): Set<string> => {
    let found = anchorsOf.get(path)
    if (found === undefined) anchorsOf.set(path, found = headingAnchors(read(path)))
    return found
  }
  let count = 0
  for (const file of CHECKED) {
    for (const { line, target } of relativeLinks(read(file))) {
      count++
      const where = `${relative(ROOT, file)}:${line} ${target}`
      const [path = '', anchor] = target.split('#', 2)
      const destination = path === '' ? file : resolve(dirname(file), decodeURIComponent(path))
      if (!t.ok(existsSync(destination), `${where}: the file exists`)) continue
      if (anchor === undefined) continue
      t.ok(destination.endsWith('.md') && statSync(destination).isFile(), `${where}: an anchor into a Markdown file`)
      t.ok(anchors(destination).has(anchor), `${where}: #${anchor} is a heading of ${relative(ROOT, destination)}`)
    }
  }
  t.ok(count > 100, `${count} links checked`)
})

t.test('the anchors follow GitHub: inline code and punctuation dropped, repeats numbered', async (t) => {
  const anchors = headingAnchors('# A `b.c`: d\n\n```md\n# not a heading\n```\n## Many instances: the lease\n## x\n## x\n')
  t.strictSame([...anchors], ['a-bc-d', 'many-instances-the-lease', 'x', 'x-1'])
})

/** docs/cli.md's flag table: `| \`--flag <arg>\` | \`cmd\`, \`cmd\` | default | meaning |`. */
function documentedFlags (): Map<string, { arg: string | undefined, commands: string[], defaultText: string }> {
  const rows = new Map<string, { arg: string | undefined, commands: string[], defaultText: string }>()
  for (const m of read(join(ROOT, 'docs', 'cli.md')).matchAll(/^\| `--([a-z-]+)(?: <([^>]+)>)?` \| ([^|]+) \| ([^|]+) \|/gm)) {
    const commands = [...(m[3] as string).matchAll(/`([a-z]+)`/g)].map((c) => c[1] as string).sort()
    rows.set(m[1] as string, { arg: m[2], commands, defaultText: (m[4] as string).replace(/`/g, '').trim() })
  }
  return rows
}

t.test('docs/cli.md lists every flag of every command, with its argument and default, and nothing else', async (t) => {
  const documented = documentedFlags()
  interface Actual { arg: string | undefined, commands: string[], defaults: Map<string, string | undefined> }
  const actual = new Map<string, Actual>()
  for (const [name, command] of Object.entries(COMMANDS)) {
    for (const [flag, spec] of Object.entries(command.flags)) {
      const entry: Actual = actual.get(flag) ?? { arg: spec.arg, commands: [], defaults: new Map() }
      entry.commands.push(name)
      entry.defaults.set(name, spec.default)
      actual.set(flag, entry)
    }
  }
  t.strictSame([...documented.keys()].sort(), [...actual.keys()].sort(), 'the same flags')
  for (const [flag, { arg, commands, defaults }] of actual) {
    const row = documented.get(flag)
    if (row === undefined) continue
    t.equal(row.arg, arg, `--${flag} takes <${String(arg)}>`)
    t.strictSame(row.commands, [...commands].sort(), `--${flag} belongs to ${commands.join(', ')}`)
    // One default for all its commands, or one per command: `3000` (`demo`), `8000` (`local`).
    const perCommand = new Set([...defaults.values()].filter((value) => value !== undefined)).size > 1
    for (const [command, value] of defaults) {
      if (value === undefined) continue
      if (perCommand) t.ok(row.defaultText.split(', ').includes(`${value} (${command})`), `--${flag} of ${command} defaults to ${value}`)
      else t.equal(row.defaultText, value, `--${flag} defaults to ${value}`)
    }
  }
})

/** The Allow statements of the JSON policies in docs/aws.md's IAM section, as `action on resource` pairs. */
function documentedGrants (): Set<string> {
  const text = read(join(ROOT, 'docs', 'aws.md'))
  const section = text.slice(text.indexOf('## Least-privilege IAM'), text.indexOf('\n## ', text.indexOf('## Least-privilege IAM') + 1))
  const grants = new Set<string>()
  for (const block of section.matchAll(/```json\n([\s\S]*?)```/g)) {
    const policy = JSON.parse(block[1] as string) as { Statement: Array<{ Effect: string, Action: string[], Resource: string }> }
    for (const statement of policy.Statement) {
      if (statement.Effect !== 'Allow') continue
      for (const action of statement.Action) grants.add(`${action} on ${statement.Resource}`)
    }
  }
  return grants
}

t.test('docs/aws.md\'s IAM policies grant Query on the table\'s indexes, DescribeTable, and UpdateTable for init', async (t) => {
  const grants = documentedGrants()
  const table = 'arn:aws:dynamodb:REGION:ACCOUNT:table/ManejoSesion'
  for (const action of ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Scan', 'DescribeTable']) {
    t.ok(grants.has(`dynamodb:${action} on ${table}`), `dynamodb:${action} on the table`)
  }
  t.ok(grants.has(`dynamodb:Query on ${table}/index/*`), 'the reaper queries the expiry index: Query on table/<name>/index/*')
  for (const action of ['CreateTable', 'DescribeTable', 'UpdateTable', 'DescribeTimeToLive', 'UpdateTimeToLive']) {
    t.ok(grants.has(`dynamodb:${action} on ${table}`), `table setup: dynamodb:${action}`)
  }
})
