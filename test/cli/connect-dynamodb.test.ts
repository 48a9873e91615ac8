// The reaper and `stats` on a table connect-dynamodb writes (hash key `id` with its `sess:` prefix, `expires` in
// epoch seconds, the session as a JSON string in `sess`), with no migration: the documented path of docs/migration.md.
import { createRequire } from 'node:module'
import t from 'tap'
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import session from 'express-session'
import Fastify, { type FastifyInstance } from 'fastify'
import { dynamoSession, type SessionReaper } from '../../src/index.js'
import { EXIT_OK } from '../../src/cli/command.js'
import { isInternalId } from '../../src/ids.js'
import { freshTableName, makeClient, putRow, startDynalite } from '../helpers/dynamo.js'
import { run } from '../helpers/cli.js'
import { SECRET } from '../helpers/app.js'
import { names, recordCommands } from '../helpers/adapter.js'

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

/** A connect-dynamodb store on a fresh table (it creates the table itself, hash key `id`, on first use). */
function connectStore (client: DynamoDBClient): { table: string, store: ConnectDynamoStore, set (sid: string, sess: object): Promise<void> } {
  const table = freshTableName('connect')
  const DynamoDBStore = connectDynamo(session)
  const store = new DynamoDBStore({ client, table })
  const set = async (sid: string, sess: object): Promise<void> => await new Promise((resolve, reject) => {
    store.set(sid, sess, (err) => { if (err === undefined || err === null) resolve(); else reject(err) })
  })
  return { table, store, set }
}

t.test('stats and reap --once on rows connect-dynamodb wrote', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const { table, store, set } = connectStore(client)
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

t.test('a reaper-only registration on a connect-dynamodb table: off the request path, with metrics', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const { table, set } = connectStore(client)
  await set('live', { cookie: { maxAge: 3_600_000 }, user: 'ana' })
  await set('old', { cookie: { maxAge: -7_200_000 }, user: 'bo' })
  const app: FastifyInstance = Fastify({ logger: false })
  t.teardown(() => app.close())
  let reaper: SessionReaper | null = null
  // In its own encapsulated context with no routes of its own but /metrics: the app's routes never load a session.
  await app.register(async (child) => {
    await child.register(dynamoSession, {
      secret: SECRET, client, tableName: table, idAttribute: 'id', expiresAttribute: 'expires', expiryIndex: false,
      reaper: { schedule: false }
    })
    reaper = child.sessionReaper
  })
  app.get('/', async () => 'hello')
  await app.ready()
  const seen = recordCommands(t, client)
  const page = await app.inject({ url: '/', headers: { cookie: 'sessionId=whatever' } })
  t.equal(page.body, 'hello')
  t.equal(page.headers['set-cookie'], undefined)
  t.strictSame(names(seen), [], 'the app\'s routes send nothing to DynamoDB')
  const report = await (reaper as SessionReaper | null)!.runOnce()
  t.match(report, { result: 'success', strategy: 'scan', deleted: 1 })
  t.strictSame(await sessionIds(client, table), ['sess:live'])
  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /^dynamo_session_reaped_total 1$/m)
})
