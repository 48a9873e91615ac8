import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { PutItemCommand } from '@aws-sdk/client-dynamodb'
import { startEmbeddedDynamo } from '../src/embedded.js'
import { DEFAULT_TABLE_NAME } from '../src/options.js'
import { CLI_JS, ROOT, ensureBuilt } from './helpers/cli.js'
import { getRow, makeClient } from './helpers/dynamo.js'
import { startNode, type Child } from './helpers/process.js'

// Every example in examples/ runs as a user runs it: `node <file>` with AWS_ENDPOINT_URL_DYNAMODB as
// `dynamo-session local` prints it, and nothing else (no region, no credentials, no table made beforehand). The
// examples import 'fastify-dynamo-session': inside this repository Node resolves that to the package itself (a
// package may import itself by name through its `exports`), i.e. dist/, as an installed copy would. They use a
// dynalite of their own whatever the test target: they are about the user's path, not about DynamoDB semantics.

const EXAMPLES = join(ROOT, 'examples')
const execFileAsync = promisify(execFile)

ensureBuilt()

/** The environment of a user's shell after `export AWS_ENDPOINT_URL_DYNAMODB=...`, and no AWS configuration. */
function userEnv (endpoint: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    PORT: '0',
    ...extra
  }
}

/** Starts an example and resolves with its URL, from Fastify's "Server listening at" log line. */
async function startExample (t: Test, file: string, env: NodeJS.ProcessEnv): Promise<{ child: Child, url: string }> {
  const child = startNode(t, [file], env)
  const line = await child.line((l) => l.includes('Server listening at http://127.0.0.1:'))
  const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1] ?? ''
  return { child, url }
}

const cookieOf = (response: Response): string => (response.headers.get('set-cookie') ?? '').split(';')[0] ?? ''

/** Log in, read, log out, read again: what the README promises of every example. */
async function loginReadLogout (t: Test, url: string, endpoint: string, read: { visits: boolean }): Promise<void> {
  const admin = makeClient(t, endpoint)
  const login = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"ada"}' })
  t.equal(login.status, 200)
  t.strictSame(await login.json(), { user: 'ada' })
  const cookie = cookieOf(login)
  t.match(cookie, /^sessionId=/, 'the session cookie')
  const id = decodeURIComponent(cookie.slice('sessionId='.length)).split('.')[0] ?? ''
  t.ok(await getRow(admin, DEFAULT_TABLE_NAME, id), 'the session row is in the table the plugin created')

  const page = await fetch(`${url}/`, { headers: { cookie } })
  t.strictSame(await page.json(), read.visits ? { user: 'ada', visits: 1 } : { user: 'ada' }, 'read back')

  const logout = await fetch(`${url}/logout`, { method: 'POST', headers: { cookie } })
  t.equal(logout.status, 200)
  t.match(logout.headers.get('set-cookie'), /^sessionId=;/, 'the cookie is cleared')
  t.equal(await getRow(admin, DEFAULT_TABLE_NAME, id), undefined, 'the row is deleted')
  const after = await fetch(`${url}/`, { headers: { cookie } })
  t.match(await after.json(), { user: null }, 'logged out')
}

for (const file of ['basic.mjs', 'basic.cjs']) {
  t.test(`examples/${file}: starts with only AWS_ENDPOINT_URL_DYNAMODB set, logs in, reads, logs out`, async (t) => {
    const dynamo = await startEmbeddedDynamo()
    t.teardown(() => dynamo.close())
    const { child, url } = await startExample(t, join(EXAMPLES, file), userEnv(dynamo.endpoint))
    await loginReadLogout(t, url, dynamo.endpoint, { visits: true })
    t.equal(await child.stop(), 0, 'stops cleanly on SIGTERM')
  })
}

t.test('examples/typescript: type-checks with its own tsconfig (augmented SessionData), compiles, runs', async (t) => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const project = join(EXAMPLES, 'typescript', 'tsconfig.json')
  await t.resolves(execFileAsync(process.execPath, [tsc, '-p', project, '--noEmit']), 'tsc --noEmit passes')
  // Compiled inside this package (not under node_modules, where a package cannot import itself by name), so that
  // 'fastify-dynamo-session' still resolves to it; dist/ is ignored by git.
  const out = join(EXAMPLES, 'typescript', 'dist', `test-${process.pid}`)
  mkdirSync(out, { recursive: true })
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  await execFileAsync(process.execPath, [tsc, '-p', project, '--outDir', out])
  const dynamo = await startEmbeddedDynamo()
  t.teardown(() => dynamo.close())
  const { child, url } = await startExample(t, join(out, 'app.mjs'), userEnv(dynamo.endpoint))
  await loginReadLogout(t, url, dynamo.endpoint, { visits: true })
  t.equal(await child.stop(), 0)
})

t.test('examples/typescript: a wrong type for an augmented key is a compile error', async (t) => {
  // The same program with one line that breaks the SessionData contract: tsc must refuse it.
  const source = readFileSync(join(EXAMPLES, 'typescript', 'app.mts'), 'utf8')
  t.match(source, "request.session.set('visits', visits)")
  const dir = join(ROOT, 'node_modules', '.cache', 'fastify-dynamo-session-examples', `typescript-bad-${process.pid}`)
  mkdirSync(dir, { recursive: true })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'app.mts'), source.replace("request.session.set('visits', visits)", "request.session.set('visits', String(visits))"))
  writeFileSync(join(dir, 'tsconfig.json'), readFileSync(join(EXAMPLES, 'typescript', 'tsconfig.json')))
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const failed = await execFileAsync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--noEmit']).then(() => undefined, (err: unknown) => err)
  t.match(failed, { stdout: /app\.mts.*error TS2345/ }, 'string is not assignable to number')
})

t.test('examples/separate-reaper: the app without a reaper, `dynamo-session reap --metrics-port` beside it', async (t) => {
  const dynamo = await startEmbeddedDynamo()
  t.teardown(() => dynamo.close())
  const { child: app, url } = await startExample(t, join(EXAMPLES, 'separate-reaper', 'app.mjs'), userEnv(dynamo.endpoint))
  await loginReadLogout(t, url, dynamo.endpoint, { visits: false })

  // An expired session (past the reaper's 60 s grace) for the reaper to find.
  const admin = makeClient(t, dynamo.endpoint)
  const expired = { Sesion_Id: { S: 'E'.repeat(32) }, Expire_Session: { N: String(Math.floor(Date.now() / 1000) - 3600) } }
  await admin.send(new PutItemCommand({ TableName: DEFAULT_TABLE_NAME, Item: expired }))

  // Every second rather than every minute: the test waits for a pass, not for the clock.
  const reaper = startNode(t, [CLI_JS, 'reap', '--metrics-port', '0', '--schedule', '* * * * * *', '--json'], userEnv(dynamo.endpoint))
  const metricsUrl = /^Metrics: (\S+)$/.exec(await reaper.line((l) => l.startsWith('Metrics: ')))?.[1] ?? ''
  t.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  await reaper.line((l) => l.startsWith('{') && (JSON.parse(l) as { deleted?: number }).deleted === 1)
  t.equal(await getRow(admin, DEFAULT_TABLE_NAME, 'E'.repeat(32)), undefined, 'the reap process deleted the expired row')
  const scraped = await (await fetch(metricsUrl)).text()
  t.match(scraped, /^dynamo_session_reaped_total 1$/m, 'its metrics say so')
  t.match(scraped, /^dynamo_session_reaper_runs_total\{result="success"\} [1-9]/m)
  t.equal(await reaper.stop(), 0)
  t.equal(await app.stop(), 0)
})

t.test("the README's first example is examples/basic.mjs (from its first import), ending in listen()", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const first = /```(?:js|ts|javascript|typescript)\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
  const example = readFileSync(join(EXAMPLES, 'basic.mjs'), 'utf8')
  t.equal(first, example.slice(example.indexOf('import ')), 'the same code')
  t.match(first.trimEnd().split('\n').at(-1), /^await app\.listen\(/, 'it ends by listening')
})
