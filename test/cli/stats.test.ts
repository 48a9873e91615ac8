import t from 'tap'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../src/cli/command.js'
import { startDynalite, makeClient, createTable } from '../helpers/dynamo.js'
import { seedRows, sessionId, tableIds } from '../helpers/reaper.js'
import { run } from '../helpers/cli.js'

t.test('usage errors name the flag and send nothing', async (t) => {
  const cases: Array<[string[], RegExp]> = [
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

  t.test('stats fails with one line when DynamoDB refuses', async (t) => {
    const r = await run(['stats', '--endpoint', dynamo.endpoint, '--table', 'no_such_table'])
    t.equal(r.code, EXIT_FAILURE)
    t.match(r.stderr, /^dynamo-session stats: counting no_such_table at http:\/\/127\.0\.0\.1:\d+ failed: ResourceNotFoundException/m)
  })
})
