import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ROOT } from './helpers/cli.js'

// package.json's metadata, the LICENSE, and the Node range: engines, the README's compatibility table and the Node
// majors CI runs the smoke subset on say the same thing.

interface Package {
  license?: string
  homepage?: string
  repository?: { type?: string, url?: string }
  bugs?: { url?: string }
  engines?: { node?: string }
  scripts?: Record<string, string>
}

const text = async (path: string): Promise<string> => await readFile(join(ROOT, path), 'utf8')

t.test('package.json names the repository, homepage, issues and license; LICENSE is MIT', async (t) => {
  const pkg = JSON.parse(await text('package.json')) as Package
  const repo = 'https://github.com/fastify-dynamo-session/fastify-dynamo-session'
  t.strictSame(pkg.repository, { type: 'git', url: `git+${repo}.git` })
  t.equal(pkg.homepage, `${repo}#readme`)
  t.strictSame(pkg.bugs, { url: `${repo}/issues` })
  t.equal(pkg.license, 'MIT')
  const license = await text('LICENSE')
  t.match(license, /^MIT License\n\nCopyright \(c\) \d{4} fastify-dynamo-session contributors\n/)
  t.strictSame(Object.keys(pkg.scripts ?? {}).filter((name) => /^(pre|post)?install$/.test(name)), [], 'no install script')
})

t.test('engines, the README\'s compatibility table and the smoke runs agree', async (t) => {
  const pkg = JSON.parse(await text('package.json')) as Package
  const min = /^>=(\d+)$/.exec(pkg.engines?.node ?? '')?.[1]
  t.ok(min !== undefined, `engines.node is >=<major>: ${pkg.engines?.node ?? 'none'}`)
  const readme = await text('README.md')
  const rows = readme.split('\n').filter((line) => /^\| [\d, ]+ \| 5\.x \|/.test(line))
  const supported = rows.filter((row) => row.includes('Supported')).flatMap((row) => row.split('|')[1]!.split(',').map((m) => Number(m.trim())))
  t.ok(supported.length > 0, 'the table lists supported majors')
  t.equal(Math.min(...supported), Number(min), 'the lowest supported major is engines\' minimum')
  for (const row of rows.filter((row) => !row.includes('Supported'))) {
    t.ok(row.split('|')[1]!.split(',').every((m) => Number(m.trim()) < Number(min)), `unsupported below engines: ${row.slice(0, 20)}`)
  }
  const ci = await text('.ci/run')
  for (const major of supported) t.match(ci, `NODE_MAJORS=${major} bash scripts/test-node-versions.sh`, `CI runs Node ${major}`)
})
