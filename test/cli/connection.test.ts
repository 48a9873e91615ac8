import t from 'tap'
import { createServer as createHttpServer, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EXIT_FAILURE, EXIT_OK } from '../../src/cli/command.js'
import { makeClient, startDynalite } from '../helpers/dynamo.js'
import { closedPort, run, tableExists, uniqueTable } from '../helpers/cli.js'

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

t.test('endpoint, region and credentials come from the given environment', async (t) => {
  const dynamo = await startDynalite(t)
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

t.test('connection failures', async (t) => {
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
