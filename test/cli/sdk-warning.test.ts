import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { CLI_JS, ROOT, closedPort, ensureBuilt } from '../helpers/cli.js'
import { SDK_WARNING_VARIABLE, quietSdkWarning } from '../../src/cli/sdk-warning.js'

// The AWS SDK's Node-support warning (9 lines on stderr on Node 20) is the CLI's to silence, in its own process only.

ensureBuilt()
const { [SDK_WARNING_VARIABLE]: _ignored, ...envWithout } = process.env

async function node (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, env: envWithout, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr })
    })
  })
}

t.test('regression: the CLI prints no SDK Node-support warning', async (t) => {
  const r = await node([CLI_JS, 'stats', '--endpoint', `http://127.0.0.1:${await closedPort()}`, '--table', 'no_such_table'])
  t.equal(r.code, 1)
  t.notMatch(r.stderr, /NodeVersionSupportWarning/)
  t.equal(r.stderr.trimEnd().split('\n').length, 1, 'one line: the failure')
})

t.test('importing the library leaves the variable alone (the application decides)', async (t) => {
  const script = `import(${JSON.stringify(join(ROOT, 'dist', 'index.js'))}).then(() => console.log(process.env.${SDK_WARNING_VARIABLE} ?? 'unset'))`
  const r = await node(['-e', script])
  t.equal(r.stdout.trim(), 'unset')
})

t.test('quietSdkWarning keeps a value already set', async (t) => {
  const env: NodeJS.ProcessEnv = { [SDK_WARNING_VARIABLE]: 'false' }
  quietSdkWarning(env)
  t.equal(env[SDK_WARNING_VARIABLE], 'false')
  const empty: NodeJS.ProcessEnv = {}
  quietSdkWarning(empty)
  t.equal(empty[SDK_WARNING_VARIABLE], 'true')
})
