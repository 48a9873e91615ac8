import t from 'tap'
import { EXIT_FAILURE } from '../../src/cli/command.js'
import { startDynalite } from '../helpers/dynamo.js'
import { closedPort, run } from '../helpers/cli.js'

// Every command that talks to DynamoDB fails the same way: exit 1 and, last on stderr, one line
// `dynamo-session <command>: <action> <table> at <endpoint> failed: <error>`.

const COMMANDS: ReadonlyArray<readonly [string[], string]> = [
  [['init'], 'setting up'],
  [['stats'], 'counting'],
  [['reap', '--once'], 'reaping'],
  [['backfill'], 'backfilling']
]

function lastLine (text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? ''
}

t.test('regression: init, stats, reap --once and backfill fail in one format', async (t) => {
  const endpoint = `http://127.0.0.1:${await closedPort()}`
  for (const [argv, action] of COMMANDS) {
    const r = await run([...argv, '--endpoint', endpoint, '--table', 'no_such_table'])
    t.equal(r.code, EXIT_FAILURE, argv.join(' '))
    const line = `dynamo-session ${argv[0]!}: ${action} no_such_table at ${endpoint} failed: `
    t.equal(lastLine(r.stderr).slice(0, line.length), line, `${argv.join(' ')}: ${lastLine(r.stderr)}`)
    t.match(lastLine(r.stderr), /ECONNREFUSED/, 'names the network error')
  }
})

t.test('a missing table, in the same format', async (t) => {
  const dynamo = await startDynalite(t)
  for (const [argv, action] of COMMANDS.filter(([argv]) => argv[0] !== 'init')) {
    const r = await run([...argv, '--endpoint', dynamo.endpoint, '--table', 'no_such_table'])
    t.equal(r.code, EXIT_FAILURE, argv.join(' '))
    t.match(lastLine(r.stderr), new RegExp(`^dynamo-session ${argv[0]!}: ${action} no_such_table at ${dynamo.endpoint} failed: .*ResourceNotFoundException`))
  }
})
