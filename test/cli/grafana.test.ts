import t from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { run } from '../helpers/cli.js'
import { promtool, REPO_ROOT, RUNBOOK_BASE } from '../helpers/prometheus.js'
import { runbookBaseOf, withRunbookBase } from '../../src/cli/grafana.js'

// `dynamo-session grafana`: the rules, their promtool tests and the dashboard, written with the operator's runbook base.

interface RuleFile { groups: Array<{ rules: Array<{ alert?: string, annotations?: { runbook_url?: string } }> }> }

async function outDir (t: { teardown (fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dynamo-session-grafana-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function runbookUrls (path: string): Promise<string[]> {
  const rules = parseYaml(await readFile(path, 'utf8')) as RuleFile
  return rules.groups.flatMap((group) => group.rules.flatMap((rule) => rule.annotations?.runbook_url ?? []))
}

t.test('the shipped base is the one package.json\'s repository gives', async (t) => {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { repository: unknown }
  t.equal(runbookBaseOf(pkg.repository), RUNBOOK_BASE)
})

t.test('with --runbook-base, every alert links there and promtool accepts and tests the rules', async (t) => {
  const dir = await outDir(t)
  const base = 'https://wiki.example.com/ops/sessions'
  const result = await run(['grafana', '--out', dir, '--runbook-base', base])
  t.equal(result.code, 0, result.stderr)
  const files = ['dynamo-session.rules.yml', 'dynamo-session.rules.test.yml', 'dynamo-session.json'].map((f) => `wrote ${join(dir, f)}`)
  t.equal(result.stdout, [`runbook base: ${base}`, ...files].join('\n') + '\n')
  const urls = await runbookUrls(join(dir, 'dynamo-session.rules.yml'))
  t.ok(urls.length > 0)
  t.strictSame(urls.filter((url) => !url.startsWith(`${base}#`)), [], 'every runbook_url starts with the base')
  const check = await promtool(['check', 'rules', 'dynamo-session.rules.yml'], dir)
  t.equal(check.code, 0, 'promtool check rules', { output: check.stderr + check.stdout })
  const tested = await promtool(['test', 'rules', 'dynamo-session.rules.test.yml'], dir)
  t.equal(tested.code, 0, 'promtool test rules (the tests expect the new base)', { output: tested.stderr + tested.stdout })
  const dashboard = await readFile(join(dir, 'dynamo-session.json'), 'utf8')
  t.equal(dashboard, await readFile(join(REPO_ROOT, 'grafana', 'dashboards', 'dynamo-session.json'), 'utf8'), 'the dashboard as shipped')
})

t.test('without --runbook-base, the package\'s repository docs', async (t) => {
  const dir = await outDir(t)
  const result = await run(['grafana', '--out', dir])
  t.equal(result.code, 0, result.stderr)
  const urls = await runbookUrls(join(dir, 'dynamo-session.rules.yml'))
  t.strictSame(urls.filter((url) => !url.startsWith(`${RUNBOOK_BASE}#`)), [])
})

t.test('existing files are kept unless --force', async (t) => {
  const dir = await outDir(t)
  await writeFile(join(dir, 'dynamo-session.rules.yml'), 'mine')
  const refused = await run(['grafana', '--out', dir])
  t.equal(refused.code, 1)
  t.equal(await readFile(join(dir, 'dynamo-session.rules.yml'), 'utf8'), 'mine')
  t.equal((await run(['grafana', '--out', dir, '--force'])).code, 0)
  t.not(await readFile(join(dir, 'dynamo-session.rules.yml'), 'utf8'), 'mine')
})

t.test('usage errors', async (t) => {
  t.equal((await run(['grafana'])).code, 2, '--out is required')
  const dir = await outDir(t)
  for (const base of ['wiki', 'ftp://example.com/x', 'https://example.com/x#frag']) {
    t.equal((await run(['grafana', '--out', dir, '--runbook-base', base])).code, 2, base)
  }
})

t.test('runbookBaseOf and withRunbookBase', async (t) => {
  const expected = 'https://github.com/o/r/blob/main/docs/operations.md'
  for (const repository of ['git+https://github.com/o/r.git', 'https://github.com/o/r', 'github:o/r', { url: 'git+ssh://git@github.com/o/r.git' }, 'git@github.com:o/r.git']) {
    t.equal(runbookBaseOf(repository), expected, JSON.stringify(repository))
  }
  t.equal(runbookBaseOf('https://gitlab.com/o/r'), undefined)
  t.equal(runbookBaseOf(undefined), undefined)
  const text = 'a: 1\n  runbook_url: https://old.example/x.md#one\n  runbook_url: https://old.example/x.md#two\n'
  t.equal(withRunbookBase(text, 'https://new.example/y'), 'a: 1\n  runbook_url: https://new.example/y#one\n  runbook_url: https://new.example/y#two\n')
  t.equal(withRunbookBase('no alerts\n', 'https://new.example/y'), 'no alerts\n')
})
