// The reaper and `stats` on a table connect-dynamodb writes (hash key `id` with its `sess:` prefix, `expires` in
// epoch seconds, the session as a JSON string in `sess`), with no migration: the documented path of docs/migration.md.
import { createRequire } from 'node:module'
import t from 'tap'
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import session from 'express-session'
import { EXIT_OK } from '../../src/cli/command.js'
import { isInternalId } from '../../src/ids.js'
import { freshTableName, makeClient, putRow, startDynalite } from '../helpers/dynamo.js'
import { run } from '../helpers/cli.js'

const require = createRequire(import.meta.url)

interface ConnectDynamoStore {
  set (sid: string, sess: object, callback: (err?: unknown) => void): void
  get (sid: string, callback: (err: unknown, sess?: object | null) => void): void
}
type ConnectDynamo = (connect: typeof session) => new (options: object) => ConnectDynamoStore
const connectDynamo = require('connect-dynamodb') as ConnectDynamo

async function sessionIds (client: DynamoDBClient, tableName: string): Promise<string[]> {
  const out = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))
  return (out.Items ?? []).map((item) => item.id?.S ?? '').filter((id) => !isInternalId(id)).sort()
}

t.test('stats and reap --once on rows connect-dynamodb wrote', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = freshTableName('connect')
  const DynamoDBStore = connectDynamo(session)
  // connect-dynamodb creates its table itself (hash key `id`) on first use.
  const store = new DynamoDBStore({ client, table })
  const set = async (sid: string, sess: object): Promise<void> => await new Promise((resolve, reject) => {
    store.set(sid, sess, (err) => { if (err === undefined || err === null) resolve(); else reject(err) })
  })
  // connect-dynamodb's expiry is now + cookie.maxAge (now + a day without one), in epoch seconds.
  await set('live', { cookie: { maxAge: 3_600_000 }, user: 'ana' })
  await set('old', { cookie: { maxAge: -7_200_000 }, user: 'bo' })
  await set('no-cookie-expiry', { cookie: {}, user: 'cy' })
  const nowMs = Date.now()
  // What other software sometimes writes: the expiry in milliseconds (an hour ago, read as seconds: far ahead).
  await putRow(client, table, { id: { S: 'sess:millis' }, expires: { N: String(nowMs - 3_600_000) }, sess: { S: '{}' } })
  t.strictSame(await sessionIds(client, table), ['sess:live', 'sess:millis', 'sess:no-cookie-expiry', 'sess:old'])

  const flags = ['--endpoint', dynamo.endpoint, '--table', table, '--id-attribute', 'id', '--expires-attribute', 'expires']
  const stats = await run(['stats', ...flags, '--json'])
  t.equal(stats.code, EXIT_OK, stats.stderr)
  t.match(JSON.parse(stats.stdout), { scanned: 4, active: 2, expired: 1, invalid: 1 },
    'regression: an expiry in milliseconds is counted invalid, not active')

  const reap = await run(['reap', '--once', '--json', ...flags])
  t.equal(reap.code, EXIT_OK, reap.stderr)
  t.match(JSON.parse(reap.stdout), { result: 'success', strategy: 'scan', deleted: 1, invalid: 1 }, 'no expiry index: the scan')
  t.strictSame(await sessionIds(client, table), ['sess:live', 'sess:millis', 'sess:no-cookie-expiry'],
    'the expired row is gone; the millisecond one is never reaped')
  const live = await new Promise<object | null | undefined>((resolve, reject) => {
    store.get('live', (err, sess) => { if (err === undefined || err === null) resolve(sess); else reject(err) })
  })
  t.match(live, { user: 'ana' }, 'connect-dynamodb still reads its sessions')
})
