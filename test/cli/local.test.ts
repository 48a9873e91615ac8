import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { DescribeTableCommand, PutItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../src/cli/command.js'
import { main } from '../../src/cli/main.js'
import { projectDynalite } from '../../src/embedded.js'
import { DEFAULT_EXPIRY_INDEX_NAME } from '../../src/options.js'
import { makeClient } from '../helpers/dynamo.js'
import { CLI_JS, QUIET_SDK, ROOT, capture, ensureBuilt, run } from '../helpers/cli.js'

const execFileAsync = promisify(execFile)

interface Running { stop: () => Promise<number>, out: () => string, err: () => string, first: string }

/** Runs `local` in-process until `stop()`; resolves once it printed its first line. */
async function startLocal (args: string[]): Promise<Running> {
  const c = capture()
  const abort = new AbortController()
  const running = main(['local', ...args], { ...c.io, env: {}, signal: abort.signal })
  const first = await Promise.race([c.firstLine, running.then((code) => { throw new Error(`local exited with ${code}: ${c.err()}`) })])
  return { stop: async () => { abort.abort(); return await running }, out: c.out, err: c.err, first }
}

const exportLine = (out: string): string | undefined => /^export AWS_ENDPOINT_URL_DYNAMODB=(http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1]

t.test('local: serves dynalite, creates the table with its expiry index, prints the line to export, stops on abort', async (t) => {
  const local = await startLocal(['--port', '0'])
  const endpoint = exportLine(local.out())
  t.ok(endpoint, 'prints export AWS_ENDPOINT_URL_DYNAMODB=<endpoint> on a line of its own')
  t.match(local.out(), 'in memory')
  const client = makeClient(t, endpoint!)
  const table = (await client.send(new DescribeTableCommand({ TableName: 'ManejoSesion' }))).Table
  t.equal(table?.TableStatus, 'ACTIVE')
  t.strictSame(table?.KeySchema, [{ AttributeName: 'Sesion_Id', KeyType: 'HASH' }])
  t.ok(table?.GlobalSecondaryIndexes?.some((index) => index.IndexName === DEFAULT_EXPIRY_INDEX_NAME), 'with the expiry index')
  t.equal(await local.stop(), EXIT_OK)
  t.match(local.err(), 'Stopping (abort)')
  await t.rejects(client.send(new DescribeTableCommand({ TableName: 'ManejoSesion' })), 'the server is closed')
})

t.test('local --json and table flags: one JSON line', async (t) => {
  const local = await startLocal(['--port', '0', '--json', '--table', 'dev_sessions'])
  const info = JSON.parse(local.first) as { endpoint: string, tableName: string, created: boolean, dataDir: string | null }
  t.match(info, { tableName: 'dev_sessions', created: true, dataDir: null })
  t.match(info.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/)
  const client = makeClient(t, info.endpoint)
  t.equal((await client.send(new DescribeTableCommand({ TableName: 'dev_sessions' }))).Table?.TableStatus, 'ACTIVE')
  t.equal(await local.stop(), EXIT_OK)
})

t.test('local --data-dir: the data outlives the server (dynalite\'s LevelDB backend)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-session-local-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const first = await startLocal(['--port', '0', '--data-dir', dir])
  t.match(first.out(), `data in ${dir}`)
  const client = makeClient(t, exportLine(first.out())!)
  const Key = { Sesion_Id: { S: 'kept' } }
  await client.send(new PutItemCommand({ TableName: 'ManejoSesion', Item: { ...Key, Expire_Session: { N: '4000000000' } } }))
  t.equal(await first.stop(), EXIT_OK)

  const second = await startLocal(['--port', '0', '--data-dir', dir])
  t.match(second.out(), 'ManejoSesion (found;', 'the table is found, not created again')
  const again = makeClient(t, exportLine(second.out())!)
  t.strictSame((await again.send(new GetItemCommand({ TableName: 'ManejoSesion', Key }))).Item, { ...Key, Expire_Session: { N: '4000000000' } })
  t.equal(await second.stop(), EXIT_OK)
})

t.test('local: usage errors, and a port in use is a failure', async (t) => {
  for (const args of [['--port', '70000'], ['--port', 'x'], ['--table', 'x'], ['--data-dir', '']]) {
    const r = await run(['local', ...args])
    t.equal(r.code, EXIT_USAGE, args.join(' '))
  }
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => busy.close())
  const r = await run(['local', '--port', String((busy.address() as { port: number }).port)])
  t.equal(r.code, EXIT_FAILURE)
  t.match(r.stderr, /^dynamo-session local: .*EADDRINUSE/m)
})

t.test('dynalite is resolved from the project in the working directory first', async (t) => {
  t.match(projectDynalite(ROOT), /^file:\/\/.*\/node_modules\/dynalite\//, 'a project that has it: its own copy')
  const empty = mkdtempSync(join(tmpdir(), 'dynamo-session-empty-'))
  t.teardown(() => rmSync(empty, { recursive: true, force: true }))
  t.equal(projectDynalite(empty), undefined, 'a project without it: none (the import falls back to this package\'s)')
})

t.test('regression: local without dynalite installed fails with the exact install command', async (t) => {
  ensureBuilt()
  const noDynalite = join(ROOT, 'test', 'helpers', 'no-dynalite.mjs')
  const r = await execFileAsync(process.execPath, ['--import', noDynalite, CLI_JS, 'local', '--port', '0'], {
    env: { PATH: process.env.PATH, ...QUIET_SDK }
  }).then(() => undefined, (err: unknown) => err as { code: number, stdout: string, stderr: string })
  t.equal(r?.code, EXIT_FAILURE)
  t.match(r?.stderr, /^dynamo-session local: FST_DYNAMO_SESSION_DYNALITE_MISSING: .*`npm install -D dynalite`/m)
  t.equal(r?.stdout, '', 'no export line')
})
