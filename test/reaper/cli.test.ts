import t from 'tap'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main } from '../../src/cli.js'
import { startDynalite, makeClient, createTable } from '../helpers/dynamo.js'
import { seedRows, sessionId, tableIds } from '../helpers/reaper.js'
import { LEASE_ID } from '../../src/reaper/lease.js'

interface Run { code: number, stdout: string, stderr: string }

async function run (argv: string[], signal?: AbortSignal, onOutput?: (stdout: string) => void): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    stdout: { write: (text: string) => { stdout += text; onOutput?.(stdout) } },
    stderr: { write: (text: string) => { stderr += text } },
    env: {},
    signal
  })
  return { code, stdout, stderr }
}

t.test('usage errors name the flag and send nothing', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['reap', '--once', '--segments', '0'], /--segments must be an integer from 1 to 1000, got '0'/],
    [['reap', '--once', '--max-read-units', 'lots'], /--max-read-units must be an integer/],
    [['reap', '--schedule', 'every minute'], /--schedule: .*reaper\.schedule: expected a cron expression/],
    [['reap', '--once', '--schedule', '*/5 * * * *'], /--schedule applies only without --once/],
    [['stats', '--grace-seconds', '-1'], /--grace-seconds/],
    [['stats', '--max-write-units', '5'], /unknown flag --max-write-units/]
  ]
  for (const [argv, message] of cases) {
    const r = await run([...argv, '--endpoint', 'http://127.0.0.1:9'])
    t.equal(r.code, EXIT_USAGE, argv.join(' '))
    t.match(r.stderr, message)
  }
})

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const now = Math.floor(Date.now() / 1000)
  const flags = (table: string): string[] => ['--endpoint', dynamo.endpoint, '--table', table]

  t.test('stats counts without deleting, as text and JSON', async (t) => {
    const table = await createTable(client)
    await seedRows(client, table, [
      { id: sessionId(1), expiresAt: now + 3600 },
      { id: sessionId(2), expiresAt: now - 7200 },
      { id: sessionId(3), expiresAt: 'later' }
    ])
    const text = await run(['stats', ...flags(table)])
    t.equal(text.code, EXIT_OK, text.stderr)
    t.match(text.stdout, new RegExp(`^endpoint: +${dynamo.endpoint.replace(/\./g, '\\.')}$`, 'm'))
    t.match(text.stdout, /^rows: +3 /m)
    t.match(text.stdout, /^ {2}active: +1$/m)
    t.match(text.stdout, /^ {2}expired: +1 \(oldest 2h( \d+s)? past expiry\)$/m)
    t.match(text.stdout, /^ {2}invalid: +1 /m)
    t.match(text.stdout, /^reaper: +no pass has run on this table$/m)
    t.notOk(text.stdout.includes(sessionId(1)), 'no session id printed')
    const json = await run(['stats', ...flags(table), '--json', '--segments', '2'])
    t.match(JSON.parse(json.stdout), { tableName: table, scanned: 3, active: 1, expired: 1, invalid: 1, endpoint: dynamo.endpoint })
    t.equal((await tableIds(client, table)).length, 3, 'nothing deleted')
  })

  t.test('reap --once runs one pass and prints the report', async (t) => {
    const table = await createTable(client)
    // Past its expiry by more than the default grace.
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: now + 3600 }, { id: sessionId(2), expiresAt: now - 3600 }])
    const r = await run(['reap', '--once', ...flags(table)])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.match(r.stdout, /^result: +success$/m)
    t.match(r.stdout, /^deleted: +1$/m)
    t.same(await tableIds(client, table), [LEASE_ID, sessionId(1)].sort())
    const again = await run(['reap', '--once', '--json', ...flags(table)])
    t.match(JSON.parse(again.stdout), { result: 'success', scanned: 1, deleted: 0 })
    const stats = await run(['stats', ...flags(table)])
    t.match(stats.stdout, /^lease: +free \(last holder .+\)$/m)
    t.match(stats.stdout, /^last pass: +success at /m)
  })

  t.test('reap --once exits 1 when the pass fails', async (t) => {
    const r = await run(['reap', '--once', '--endpoint', dynamo.endpoint, '--table', 'no_such_table'])
    t.equal(r.code, EXIT_FAILURE)
    t.match(r.stdout, /^result: +failure$/m)
    t.match(r.stderr, /^error: reaper pass failed: could not take the lease \(ResourceNotFoundException: /m)
  })

  t.test('stats fails with one line when DynamoDB refuses', async (t) => {
    const r = await run(['stats', '--endpoint', dynamo.endpoint, '--table', 'no_such_table'])
    t.equal(r.code, EXIT_FAILURE)
    t.match(r.stderr, /^dynamo-session stats: counting no_such_table at http:\/\/127\.0\.0\.1:\d+ failed: ResourceNotFoundException/m)
  })

  t.test('reap runs the schedule until stopped (one tick a second, bounded)', async (t) => {
    const table = await createTable(client)
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: now - 60 }])
    const stop = new AbortController()
    // A bound, not a wait: the test stops the CLI at its first report; a loaded machine may need many seconds.
    const timer = setTimeout(() => stop.abort(), 120_000)
    t.teardown(() => clearTimeout(timer))
    const r = await run(['reap', '--schedule', '* * * * * *', '--json', ...flags(table)], stop.signal, (stdout) => {
      if (stdout.includes('\n')) stop.abort()
    })
    t.equal(r.code, EXIT_OK)
    const first = JSON.parse(r.stdout.split('\n')[0]!)
    t.match(first, { result: 'success', deleted: 1 })
    t.match(r.stderr, /Stopping \(abort\)/)
    t.same(await tableIds(client, table), [LEASE_ID])
  })
})
