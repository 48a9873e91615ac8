import t from 'tap'
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../src/cli/command.js'
import { makeClient, startDynalite } from '../helpers/dynamo.js'
import { run, tableExists, uniqueTable } from '../helpers/cli.js'
import { CAN, NEW_TABLE_TTL } from '../helpers/target.js'
import { until } from '../helpers/reliability.js'

/** A table as the tutorial made it: no expiry index, provisioned 5/5. */
async function tutorialTable (client: DynamoDBClient): Promise<string> {
  const TableName = uniqueTable()
  await client.send(new CreateTableCommand({
    TableName,
    AttributeDefinitions: [{ AttributeName: 'Sesion_Id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'Sesion_Id', KeyType: 'HASH' }],
    BillingMode: 'PROVISIONED',
    ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 }
  }))
  await until(async () => (await client.send(new DescribeTableCommand({ TableName }))).Table?.TableStatus === 'ACTIVE', `${TableName} ACTIVE`)
  return TableName
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
    t.strictSame(described.KeySchema, [{ AttributeName: 'Sesion_Id', KeyType: 'HASH' }])
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

  t.test('regression: init --json has every documented field, ttlAttribute null where TTL is off or unsupported', async (t) => {
    const table = uniqueTable()
    const result = JSON.parse((await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--json'])).stdout) as Record<string, unknown>
    const documented = ['tableName', 'created', 'tableStatus', 'billing', 'ttl', 'ttlAttribute', 'expiryIndex', 'ownerIndex', 'messages', 'endpoint']
    t.strictSame(Object.keys(result).sort(), [...documented].sort())
    t.equal(result.ttlAttribute, NEW_TABLE_TTL.attribute('Expire_Session') ?? null)
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

  t.test('regression: init notes --billing on an existing table only when --billing is given', async (t) => {
    const table = uniqueTable()
    const created = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--billing', 'provisioned'])
    t.equal(created.code, EXIT_OK, created.stderr)
    const absent = await run(['init', '--endpoint', dynamo.endpoint, '--table', table])
    t.equal(absent.code, EXIT_OK, absent.stderr)
    t.match(absent.stdout, /^Found .*, provisioned, /m)
    t.notMatch(absent.stdout, 'note:', 'no note without --billing')
    const explicit = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--billing', 'on-demand'])
    t.equal(explicit.code, EXIT_OK, explicit.stderr)
    t.match(explicit.stdout, /^ {2}note: the table is provisioned; --billing applies only when creating$/m, 'a note with --billing at its default')
    const same = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--billing', 'provisioned'])
    t.notMatch(same.stdout, 'note:', 'no note when --billing matches the table')
  })

  t.test('attribute-name flags shape the key schema', async (t) => {
    const table = uniqueTable()
    const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--id-attribute', 'pk', '--expires-attribute', 'exp'])
    t.equal(r.code, EXIT_OK, r.stderr)
    const described = (await client.send(new DescribeTableCommand({ TableName: table }))).Table!
    t.strictSame(described.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }])
  })

  t.test('a new table gets the expiry index (the index flags name it); a second run finds it active', async (t) => {
    const table = uniqueTable()
    const flags = ['--expiry-index-name', 'By_Bucket', '--bucket-attribute', 'bkt', '--shard-attribute', 'shd', '--shards', '4', '--bucket-seconds', '60']
    const first = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, ...flags])
    t.equal(first.code, EXIT_OK, first.stderr)
    t.match(first.stdout, /^expiry index: created-with-table$/m)
    const index = (await client.send(new DescribeTableCommand({ TableName: table }))).Table?.GlobalSecondaryIndexes?.[0]
    t.equal(index?.IndexName, 'By_Bucket')
    t.strictSame(index?.KeySchema, [{ AttributeName: 'shd', KeyType: 'HASH' }, { AttributeName: 'bkt', KeyType: 'RANGE' }])
    t.strictSame(index?.Projection, { ProjectionType: 'KEYS_ONLY' })
    const second = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, ...flags, '--json'])
    t.equal(second.code, EXIT_OK, second.stderr)
    t.equal((JSON.parse(second.stdout) as { expiryIndex: string }).expiryIndex, 'active')
  })

  t.test('--no-expiry-index and --no-owner-index: no index on a new table; each alone leaves the other', async (t) => {
    const table = uniqueTable()
    const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--no-expiry-index', '--no-owner-index'])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.match(r.stdout, /^expiry index: none$/m)
    t.match(r.stdout, /^owner index: none$/m)
    t.strictSame((await client.send(new DescribeTableCommand({ TableName: table }))).Table?.GlobalSecondaryIndexes ?? [], [])
    const indexNames = async (name: string): Promise<string[]> =>
      ((await client.send(new DescribeTableCommand({ TableName: name }))).Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName ?? '?')
    const ownerOnly = uniqueTable()
    const o = await run(['init', '--endpoint', dynamo.endpoint, '--table', ownerOnly, '--no-expiry-index'])
    t.match(o.stdout, /^owner index: created-with-table$/m)
    t.strictSame(await indexNames(ownerOnly), ['Owner_Index'])
    const expiryOnly = uniqueTable()
    const e = await run(['init', '--endpoint', dynamo.endpoint, '--table', expiryOnly, '--no-owner-index', '--json'])
    t.equal((JSON.parse(e.stdout) as { ownerIndex: string }).ownerIndex, 'none')
    t.strictSame(await indexNames(expiryOnly), ['Expire_Bucket_Index'])
  })

  t.test('an existing table without the index: init starts its creation, prints expiry index: creating and exits 0', async (t) => {
    const table = await tutorialTable(client)
    const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--index-write-capacity', '7'])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.match(r.stdout, CAN.indexCreationOnExistingTable ? /^expiry index: (creating|active)$/m : /^expiry index: creating$/m)
    const index = (await client.send(new DescribeTableCommand({ TableName: table }))).Table?.GlobalSecondaryIndexes?.[0]
    // dynalite accepts the UpdateTable and creates nothing (test/helpers/target.ts).
    if (CAN.indexCreationOnExistingTable) t.match(index, { IndexName: 'Expire_Bucket_Index', ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 7 } })
    else t.equal(index, undefined)
    const again = await run(['init', '--endpoint', dynamo.endpoint, '--table', table])
    t.equal(again.code, EXIT_OK, 'rerunning is safe')
    const untouched = await tutorialTable(client)
    const none = await run(['init', '--endpoint', dynamo.endpoint, '--table', untouched, '--no-expiry-index', '--no-owner-index'])
    t.equal(none.code, EXIT_OK, none.stderr)
    t.match(none.stdout, /^expiry index: none$/m)
    t.strictSame((await client.send(new DescribeTableCommand({ TableName: untouched }))).Table?.GlobalSecondaryIndexes ?? [], [])
  })

  t.test('--wait: exit 0 once the index is ACTIVE; exit 1 when it is not within --wait-seconds', async (t) => {
    const table = await tutorialTable(client)
    const r = await run(['init', '--endpoint', dynamo.endpoint, '--table', table, '--wait', '--wait-seconds', '2'])
    if (CAN.indexCreationOnExistingTable) {
      t.equal(r.code, EXIT_OK, r.stderr)
      t.match(r.stdout, /^expiry index: active$/m)
    } else {
      // The index never appears on this target.
      t.equal(r.code, EXIT_FAILURE)
      t.match(r.stderr, /FST_DYNAMO_SESSION_TABLE_SETUP.*index Expire_Bucket_Index not ACTIVE after waiting/)
    }
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
      ['--region', 'EU WEST'],
      ['--shards', '0'],
      ['--shards', '1001'],
      ['--bucket-seconds', '0'],
      ['--bucket-attribute', 'Sesion_Id'],
      ['--shard-attribute', 'Expire_Session'],
      ['--expiry-index-name', 'ab'],
      ['--no-expiry-index', '--shards', '4'],
      ['--no-expiry-index', '--wait'],
      ['--wait-seconds', '5'],
      ['--wait', '--wait-seconds', '0'],
      ['--index-write-capacity', '0']
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
