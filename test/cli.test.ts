import t from 'tap'
import { execFile, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { createServer as createHttpServer, request as httpRequest } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { COMMANDS, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, describeError, main, type CliIo } from '../src/cli.js'
import { freshTableName, makeClient, startDynalite } from './helpers/dynamo.js'
import { NEW_TABLE_TTL } from './helpers/target.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI_JS = join(ROOT, 'dist', 'cli.js')
const QUIET_SDK = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }

interface Run { code: number, stdout: string, stderr: string }

/** A stdout/stderr pair that records what is written, and resolves `firstLine` once stdout has a whole line. */
function capture (): { io: Required<Pick<CliIo, 'stdout' | 'stderr'>>, out: () => string, err: () => string, firstLine: Promise<string> } {
  let out = ''
  let err = ''
  let resolveLine: (line: string) => void = () => {}
  const firstLine = new Promise<string>((resolve) => { resolveLine = resolve })
  return {
    io: {
      stdout: { write: (text: string) => { out += text; if (out.includes('\n')) resolveLine(out.slice(0, out.indexOf('\n'))) } },
      stderr: { write: (text: string) => { err += text } }
    },
    out: () => out,
    err: () => err,
    firstLine
  }
}

async function run (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const c = capture()
  const code = await main(argv, { ...c.io, env })
  return { code, stdout: c.out(), stderr: c.err() }
}

async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function tableExists (client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }))
    return true
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return false
    throw err
  }
}

/** An HTTP proxy on 127.0.0.1 that forwards to `target` and records the Authorization header of each request. */
async function recordingProxy (t: { teardown (fn: () => unknown): void }, target: string): Promise<{ endpoint: string, authorizations: string[] }> {
  const upstream = new URL(target)
  const authorizations: string[] = []
  const server = createHttpServer((req, res) => {
    authorizations.push(req.headers.authorization ?? '')
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    out.on('error', () => res.destroy())
    req.pipe(out)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`, authorizations }
}

const uniqueTable = (): string => freshTableName('cli')

function ensureBuilt (): void {
  if (!existsSync(CLI_JS)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' })
}

t.test('init against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)

  t.test('creates the table, then finds it on a second run', async (t) => {
    const table = uniqueTable()
    const first = await run(['init', '--endpoint', dynamo.endpoint, '--table', table])
    t.equal(first.code, EXIT_OK, first.stderr)
    t.equal(first.stderr, '')
    t.match(first.stdout, `created table ${table}`)
    t.match(first.stdout, NEW_TABLE_TTL.message, 'enables TTL, or says the endpoint lacks TTL and continues')
    const described = (await client.send(new DescribeTableCommand({ TableName: table }))).Table!
    t.equal(described.TableStatus, 'ACTIVE')
    t.same(described.KeySchema, [{ AttributeName: 'Sesion_Id', KeyType: 'HASH' }])
    t.equal(described.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST')

    const second = await run(['init', '--endpoint', dynamo.endpoint, '--table', table])
    t.equal(second.code, EXIT_OK)
    t.match(second.stdout, `table ${table} exists`)
    t.notMatch(second.stdout, 'created table')
  })

  t.test('--json prints the result object; a second run reports created: false', async (t) => {
    const table = uniqueTable()
    const first = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--json'])
    t.equal(first.code, EXIT_OK, first.stderr)
    const result = JSON.parse(first.stdout) as Record<string, unknown>
    t.match(result, { tableName: table, created: true, tableStatus: 'ACTIVE', billing: 'on-demand', ttl: NEW_TABLE_TTL.state, endpoint: dynamo.endpoint })
    t.ok(Array.isArray(result.messages))
    const second = JSON.parse((await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--json'])).stdout) as Record<string, unknown>
    t.match(second, { tableName: table, created: false, tableStatus: 'ACTIVE' })
  })

  t.test('provisioned billing with capacities', async (t) => {
    const table = uniqueTable()
    const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--billing', 'provisioned', '--read-capacity', '2', '--write-capacity', '3', '--json'])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.equal((JSON.parse(r.stdout) as { billing: string }).billing, 'provisioned')
    const described = (await client.send(new DescribeTableCommand({ TableName: table }))).Table!
    t.equal(described.ProvisionedThroughput?.ReadCapacityUnits, 2)
    t.equal(described.ProvisionedThroughput?.WriteCapacityUnits, 3)
  })

  t.test('a different --billing on an existing table is reported, not applied', async (t) => {
    const table = uniqueTable()
    t.equal((await run(['init', '--endpoint', dynamo.endpoint, '--table', table])).code, EXIT_OK)
    const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--billing', 'provisioned'])
    t.equal(r.code, EXIT_OK)
    t.match(r.stdout, 'the table is on-demand')
  })

  t.test('regression: init without --billing on a provisioned table prints no note about --billing', async (t) => {
    const table = uniqueTable()
    const created = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--billing', 'provisioned'])
    t.equal(created.code, EXIT_OK, created.stderr)
    const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.match(r.stdout, 'provisioned', 'the table is reported as found')
    t.notMatch(r.stdout, '--billing')
    const given = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--billing', 'on-demand'])
    t.match(given.stdout, 'the table is provisioned; --billing applies only when creating', 'a --billing that was given is still answered')
  })

  t.test('attribute-name flags shape the key schema', async (t) => {
    const table = uniqueTable()
    const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--id-attribute', 'pk', '--expires-attribute', 'exp'])
    t.equal(r.code, EXIT_OK, r.stderr)
    const described = (await client.send(new DescribeTableCommand({ TableName: table }))).Table!
    t.same(described.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }])
  })

  t.test('endpoint, region and credentials come from the given environment', async (t) => {
    const proxy = await recordingProxy(t, dynamo.endpoint)
    const table = uniqueTable()
    const r = await run(['init', '--table', table, '--json'], {
      AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDFROMENV', AWS_SECRET_ACCESS_KEY: 's'
    })
    t.equal(r.code, EXIT_OK, r.stderr)
    t.equal((JSON.parse(r.stdout) as { endpoint: string }).endpoint, proxy.endpoint)
    // Tables belong to a region (moto and AWS keep them apart; dynalite does not).
    t.ok(await tableExists(makeClient(t, dynamo.endpoint, { region: 'eu-west-1' }), table))
    t.ok(proxy.authorizations.length > 0)
    for (const auth of proxy.authorizations) t.match(auth, 'Credential=AKIDFROMENV/', 'signed with the credentials from env')
    for (const auth of proxy.authorizations) t.match(auth, '/eu-west-1/dynamodb/', 'for the region from env')

    proxy.authorizations.length = 0
    const flags = await run(['init', '--table', table, '--endpoint', proxy.endpoint, '--region', 'ap-south-1'], {})
    t.equal(flags.code, EXIT_OK, flags.stderr)
    t.ok(proxy.authorizations.length > 0)
    for (const auth of proxy.authorizations) t.match(auth, '/ap-south-1/dynamodb/', '--region wins')
    for (const auth of proxy.authorizations) t.match(auth, 'Credential=local/', 'dummy credentials for a loopback endpoint')
  })

  t.test('a table with another key schema is a failure with the coded error', async (t) => {
    const table = uniqueTable()
    await client.send(new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'other', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'other', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST'
    }))
    const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table])
    t.equal(r.code, EXIT_FAILURE)
    t.match(r.stderr, 'FST_DYNAMO_SESSION_TABLE_SETUP')
  })

  t.test('bad flags are usage errors (exit 2) that send nothing to DynamoDB', async (t) => {
    const cases: string[][] = [
      ['--tabel', 'x'],
      ['--table'],
      ['--table', '--json'],
      ['--json=yes'],
      ['extra'],
      ['--billing', 'free'],
      ['--billing', 'provisioned', '--read-capacity', '0'],
      ['--billing', 'provisioned', '--write-capacity', 'many'],
      ['--read-capacity', '5'],
      ['--id-attribute', 'k', '--expires-attribute', 'k'],
      ['--id-attribute', ''],
      ['--endpoint', 'ftp://127.0.0.1:1'],
      ['--region', 'EU WEST']
    ]
    for (const args of cases) {
      const table = uniqueTable()
      const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, ...args])
      t.equal(r.code, EXIT_USAGE, args.join(' '))
      t.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`)
      t.match(r.stderr, "Run 'dynamo-session help init'", `${args.join(' ')}: points at the help`)
      t.notOk(await tableExists(client, table), `${args.join(' ')}: no table created`)
    }
    const short = await run(['init', '--endpoint', dynamo.endpoint, '--table', 'ab'])
    t.equal(short.code, EXIT_USAGE)
    t.match(short.stderr, '--table', 'the message names the flag')
  })
})

t.test('init failures', async (t) => {
  t.test('an unreachable endpoint exits 1 with one line, a stack only with --verbose', async (t) => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`
    const env = { AWS_MAX_ATTEMPTS: '1' }
    const r = await run(['init', '--endpoint', endpoint], env)
    t.equal(r.code, EXIT_FAILURE)
    const lines = r.stderr.trimEnd().split('\n')
    t.equal(lines.length, 1, r.stderr)
    t.match(lines[0], 'ECONNREFUSED')
    t.match(lines[0], endpoint, 'names the endpoint')
    t.notMatch(r.stderr, /\n\s+at /)
    const verbose = await run(['init', '--endpoint', endpoint, '--verbose'], env)
    t.equal(verbose.code, EXIT_FAILURE)
    t.match(verbose.stderr, /\n\s+at /, 'stack trace with --verbose')
  })

  t.test('no region anywhere is a failure that says how to set one', async (t) => {
    // The SDK also looks at process.env and the shared config file: hide both for this test.
    const saved = { region: process.env.AWS_REGION, config: process.env.AWS_CONFIG_FILE, profile: process.env.AWS_PROFILE }
    delete process.env.AWS_REGION
    delete process.env.AWS_PROFILE
    process.env.AWS_CONFIG_FILE = join(tmpdir(), `no-such-aws-config-${process.pid}`)
    t.teardown(() => {
      for (const [key, value] of [['AWS_REGION', saved.region], ['AWS_CONFIG_FILE', saved.config], ['AWS_PROFILE', saved.profile]] as const) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
    })
    const r = await run(['init', '--endpoint', 'https://dynamodb.example.invalid'], { AWS_CONFIG_FILE: process.env.AWS_CONFIG_FILE })
    t.equal(r.code, EXIT_FAILURE)
    t.match(r.stderr, '--region')
  })
})

t.test('describeError keeps to one line and prefers the error code', async (t) => {
  t.equal(describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })), 'connect ECONNREFUSED 127.0.0.1:9')
  t.equal(describeError(Object.assign(new Error('first\nsecond'), { name: 'ThrottlingException' })), 'ThrottlingException: first')
  t.equal(describeError(new AggregateError([Object.assign(new Error('inner'), { code: 'EHOSTUNREACH' })], '')), 'EHOSTUNREACH: inner')
  t.equal(describeError('plain'), 'plain')
})

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
  t.same(await run(['--version']), { code: EXIT_OK, stdout: `${pkg.version}\n`, stderr: '' })

  const none = await run([])
  t.equal(none.code, EXIT_USAGE)
  t.match(none.stderr, 'Usage: dynamo-session')
  for (const argv of [['nope'], ['help', 'nope'], ['--nope'], ['toString']]) {
    const r = await run(argv)
    t.equal(r.code, EXIT_USAGE, argv.join(' '))
    t.equal(r.stdout, '')
  }
})

t.test('demo command in-process: prints where to look, serves, stops on abort', async (t) => {
  for (const json of [true, false]) {
    const c = capture()
    const stop = new AbortController()
    const running = main(['demo', '--port', '0', '--metrics-port', '0', ...(json ? ['--json'] : [])], { ...c.io, env: {}, signal: stop.signal })
    const first = await Promise.race([c.firstLine, running.then((code) => { throw new Error(`demo exited with ${code}: ${c.err()}`) })])
    let url: string
    let metricsUrl: string
    if (json) {
      const info = JSON.parse(first) as { url: string, endpoint: string, tableName: string, embedded: boolean, randomSecret: boolean, metricsUrl: string }
      t.match(info, { tableName: 'ManejoSesion', embedded: true, randomSecret: true })
      url = info.url
      metricsUrl = info.metricsUrl
    } else {
      url = /(http:\/\/127\.0\.0\.1:\d+)\/$/.exec(first)?.[1] ?? ''
      metricsUrl = /^Metrics: +(http:\/\/127\.0\.0\.1:\d+\/metrics) \(loopback only/m.exec(c.out())?.[1] ?? ''
      t.match(c.out(), 'do not survive a restart', 'says the secret is random for this run')
      t.match(c.out(), 'ManejoSesion')
    }
    const response = await fetch(url + '/')
    t.equal(response.status, 200)
    t.match(await response.text(), 'id="visits">1<')
    t.not(new URL(metricsUrl).port, new URL(url).port, 'metrics on a port of their own')
    t.equal((await fetch(metricsUrl)).status, 200, 'served where it says')
    stop.abort()
    t.equal(await running, EXIT_OK)
    t.match(c.err(), 'Stopping')
    await t.rejects(fetch(url + '/'), 'the app is closed')
  }
})

t.test('demo usage errors', async (t) => {
  for (const args of [['--port', '70000'], ['--port', 'http'], ['--host', ''], ['--table', 'x'], ['--metrics-port', '-1'], ['--metrics-port', '65536']]) {
    const r = await run(['demo', ...args])
    t.equal(r.code, EXIT_USAGE, args.join(' '))
  }
  const r = await run(['demo', '--data-dir', tmpdir()], { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' })
  t.equal(r.code, EXIT_USAGE)
  t.match(r.stderr, 'AWS_ENDPOINT_URL_DYNAMODB')
  const weak = await run(['demo', '--port', '0'], { SESSION_SECRET: 'short' })
  t.equal(weak.code, EXIT_FAILURE)
  t.match(weak.stderr, 'FST_DYNAMO_SESSION_INVALID_SECRET')
  t.notMatch(weak.stderr, 'short', 'the secret is not echoed')
})

t.test('the built bin', async (t) => {
  ensureBuilt()
  const execFileP = promisify(execFile)

  t.test('node dist/cli.js --help, also through a symlink as npm installs bins', async (t) => {
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

  t.test('demo stops cleanly on SIGTERM', async (t) => {
    const child = spawn(process.execPath, [CLI_JS, 'demo', '--port', '0', '--metrics-port', '0', '--json'], {
      env: { ...process.env, ...QUIET_SDK, AWS_ENDPOINT_URL_DYNAMODB: '', SESSION_SECRET: '' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    // A bound for a hung demo, not a wait: the test ends as soon as the demo has exited.
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
    t.teardown(() => { clearTimeout(guard); if (child.exitCode === null) child.kill('SIGKILL') })
    let out = ''
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n'))) })
      void exited.then((code) => reject(new Error(`demo exited early with ${code}`)))
    })
    const { url } = JSON.parse(line) as { url: string }
    t.equal((await fetch(url + '/')).status, 200)
    child.kill('SIGTERM')
    t.equal(await exited, EXIT_OK)
  })
})
