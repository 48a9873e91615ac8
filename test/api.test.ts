// The published surface against docs/api.md, in both directions, read from dist/ (what ships; `npm test` builds it
// first): run-time exports from the built modules, type-only exports from their .d.ts through the TypeScript checker.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string
  exports: Record<string, string | { types?: string, default?: string }>
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
}

interface Documented { values: string[], types: string[] }

/** docs/api.md: one `## \`<entry point>\`` section per entry point, each with a `| \`name\` | kind | …` table. */
function documentedEntryPoints (): Map<string, Documented> {
  const doc = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8')
  const entries = new Map<string, Documented>()
  for (const section of doc.split(/^## /m).slice(1)) {
    const heading = /^`([^`]+)`\n/.exec(section)
    if (heading === null) continue
    const documented: Documented = { values: [], types: [] }
    for (const m of section.matchAll(/^\| `([^`]+)` \| (value|type) \|/gm)) {
      documented[m[2] === 'value' ? 'values' : 'types'].push(m[1]!)
    }
    entries.set(heading[1]!, documented)
  }
  return entries
}

/** package.json `exports`: entry point name → its built module and declaration file (`./package.json` is data). */
function packageEntryPoints (): Map<string, { js: string, dts: string }> {
  const entries = new Map<string, { js: string, dts: string }>()
  for (const [subpath, target] of Object.entries(PACKAGE.exports)) {
    if (subpath === './package.json') continue
    if (typeof target === 'string' || target.default === undefined || target.types === undefined) {
      throw new Error(`package.json exports ${subpath} needs "types" and "default"`)
    }
    const name = subpath === '.' ? PACKAGE.name : `${PACKAGE.name}/${subpath.slice(2)}`
    entries.set(name, { js: join(ROOT, target.default), dts: join(ROOT, target.types) })
  }
  return entries
}

const sorted = (names: Iterable<string>): string[] => [...names].sort()

function program (files: string[]): ts.Program {
  return ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    strict: true,
    noEmit: true
  })
}

t.test('the exports of every entry point are exactly the names docs/api.md lists, with their kind', async (t) => {
  const documented = documentedEntryPoints()
  const entries = packageEntryPoints()
  t.strictSame(sorted(documented.keys()), sorted(entries.keys()), 'docs/api.md has one section per package.json entry point')
  const built = program([...entries.values()].map((entry) => entry.dts))
  const checker = built.getTypeChecker()
  for (const [name, entry] of entries) {
    const runtime = Object.keys(await import(entry.js) as Record<string, unknown>)
    const source = built.getSourceFile(entry.dts)
    const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source)
    if (moduleSymbol === undefined) throw new Error(`${entry.dts} is not a module: run npm run build`)
    const declared = checker.getExportsOfModule(moduleSymbol).map((symbol) => symbol.name)
    t.strictSame(sorted(runtime.filter((n) => !declared.includes(n))), [], `${name}: every run-time export is declared`)
    const typeOnly = declared.filter((n) => !runtime.includes(n))
    const docs = documented.get(name)!
    t.strictSame(sorted(runtime), sorted(docs.values), `${name}: run-time exports = the documented values`)
    t.strictSame(sorted(typeOnly), sorted(docs.types), `${name}: type-only exports = the documented types`)
  }
})

t.test('the published declarations compile on their own', async (t) => {
  const built = program([...packageEntryPoints().values()].map((entry) => entry.dts))
  const ours = built.getSourceFiles().filter((file) => file.fileName.startsWith(join(ROOT, 'dist')))
  t.ok(ours.length > 1, 'the entry points and the files they import')
  const problems = ours.flatMap((file) => [...built.getSyntacticDiagnostics(file), ...built.getSemanticDiagnostics(file)])
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`)
  t.strictSame(problems, [], 'no errors (stripInternal must not leave a reference to a stripped name)')
})

t.test('regression: @internal Session members do not ship in dist/session.d.ts', async (t) => {
  const dts = readFileSync(join(ROOT, 'dist', 'session.d.ts'), 'utf8')
  for (const member of ['constructor', 'persist', 'maxAgeSeconds', 'takeCookieAction']) {
    t.notMatch(dts, new RegExp(`\\b${member}\\s*\\(`), `${member}() is stripped (stripInternal in tsconfig.build.json)`)
  }
  t.match(dts, /\bregenerate\s*\(/, 'the public methods are still there')
})

/** The README's `request.session` table: `| \`await save()\` | …` → `save`. */
function documentedSessionMembers (): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.split(/^#{2,3} `request\.session`\n/m)[1]?.split(/^#{2,3} /m)[0]
  if (section === undefined) throw new Error('README.md has no "## `request.session`" section')
  return [...section.matchAll(/^\| `(?:await )?([A-Za-z]+)[^`]*` \|/gm)].map((m) => m[1]!)
}

t.test('the published Session has exactly the members of the README\'s request.session table', async (t) => {
  const index = packageEntryPoints().get(PACKAGE.name)!.dts
  const built = program([index])
  const checker = built.getTypeChecker()
  const moduleSymbol = checker.getSymbolAtLocation(built.getSourceFile(index)!)!
  const session = checker.getExportsOfModule(moduleSymbol).find((symbol) => symbol.name === 'Session')
  if (session === undefined) throw new Error('Session is not exported')
  const target = session.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(session) : session
  const members = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(target))
    .map((symbol) => symbol.name).filter((name) => !name.startsWith('#') && !name.startsWith('__#'))
  const documented = documentedSessionMembers()
  t.ok(documented.length > 10, 'the table was found')
  t.strictSame(sorted(members), sorted(documented), 'no undocumented member ships, every documented one does')
})

t.test('dynalite is an optional peer dependency that only the embedded server imports, lazily', async (t) => {
  t.equal(PACKAGE.dependencies?.dynalite, undefined, 'not a dependency')
  t.type(PACKAGE.peerDependencies?.dynalite, 'string', 'a peer dependency')
  t.strictSame(PACKAGE.peerDependenciesMeta?.dynalite, { optional: true }, 'an optional one')
  t.equal(PACKAGE.devDependencies?.dynalite, PACKAGE.peerDependencies?.dynalite, 'installed for the tests, same range')
  const dist = join(ROOT, 'dist')
  const importers: string[] = []
  for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    if (file.endsWith('.d.ts')) {
      t.notMatch(readFileSync(join(dist, file), 'utf8'), /['"]dynalite['"]/, `${file}: the typings do not need dynalite's`)
    }
    if (!file.endsWith('.js')) continue
    const code = readFileSync(join(dist, file), 'utf8')
    t.notMatch(code, /(from|import|require\()\s*['"]dynalite['"]/, `${file}: no static import of dynalite`)
    if (/import\(\s*['"]dynalite['"]\s*\)/.test(code)) importers.push(file)
  }
  t.strictSame(importers, ['embedded.js'], 'one dynamic import, in the embedded server')
})
