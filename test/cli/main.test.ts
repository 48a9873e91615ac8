import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { EXIT_OK, EXIT_USAGE } from '../../src/cli/command.js'
import { COMMANDS } from '../../src/cli/main.js'
import { CLI_JS, QUIET_SDK, ROOT, ensureBuilt, run } from '../helpers/cli.js'

t.test('help, version and command errors', async (t) => {
  const top = await run(['--help'])
  t.equal(top.code, EXIT_OK)
  for (const name of Object.keys(COMMANDS)) t.match(top.stdout, new RegExp(`^  ${name} `, 'm'), `lists ${name}`)

  for (const [name, command] of Object.entries(COMMANDS)) {
    const viaHelp = await run(['help', name])
    const viaFlag = await run([name, '--help'])
    t.equal(viaHelp.code, EXIT_OK)
    t.equal(viaFlag.code, EXIT_OK)
    t.equal(viaHelp.stdout, viaFlag.stdout, `help ${name} and ${name} --help agree`)
    for (const flag of Object.keys(command.flags)) t.match(viaHelp.stdout, `--${flag}`, `help ${name} lists --${flag}`)
  }

  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  t.strictSame(await run(['--version']), { code: EXIT_OK, stdout: `${pkg.version}\n`, stderr: '' })

  const none = await run([])
  t.equal(none.code, EXIT_USAGE)
  t.match(none.stderr, 'Usage: dynamo-session')
  for (const argv of [['nope'], ['help', 'nope'], ['--nope'], ['toString']]) {
    const r = await run(argv)
    t.equal(r.code, EXIT_USAGE, argv.join(' '))
    t.equal(r.stdout, '')
  }
})

t.test('package.json bin and npm start name the built main', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>, scripts: Record<string, string> }
  t.strictSame(pkg.bin, { 'dynamo-session': './dist/cli/main.js' })
  t.match(pkg.scripts.start, / node dist\/cli\/main\.js demo$/)
})

t.test('the built bin', async (t) => {
  ensureBuilt()
  const execFileP = promisify(execFile)
  t.equal(readFileSync(CLI_JS, 'utf8').split('\n')[0], '#!/usr/bin/env node', 'keeps the shebang')

  t.test('node dist/cli/main.js --help, also through a symlink as npm installs bins', async (t) => {
    const direct = await execFileP(process.execPath, [CLI_JS, '--help'], { env: { ...process.env, ...QUIET_SDK } })
    t.match(direct.stdout, 'Usage: dynamo-session <command>')
    const dir = mkdtempSync(join(tmpdir(), 'dynamo-session-bin-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const link = join(dir, 'dynamo-session')
    symlinkSync(CLI_JS, link)
    const viaLink = await execFileP(process.execPath, [link, 'help', 'init'], { env: { ...process.env, ...QUIET_SDK } })
    t.match(viaLink.stdout, '--billing')
    const bad = await execFileP(process.execPath, [link, 'init', '--nope']).then(() => 0, (err: { code: number }) => err.code)
    t.equal(bad, EXIT_USAGE, 'the exit code reaches the shell')
  })
})
