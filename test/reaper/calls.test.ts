import t from 'tap'
import { resolveOptions, type ExpiryIndexShape } from '../../src/options.js'
import { ReaperCalls } from '../../src/reaper/calls.js'
import { indexItemAttributes, shardOf } from '../../src/store/expiry-index.js'
import { createTable, makeClient, putRow, startDynalite } from '../helpers/dynamo.js'
import { sessionId } from '../helpers/reaper.js'
import { unitsFor } from '../helpers/target.js'

const index = resolveOptions({ secret: 'a-secret-of-at-least-thirty-two-characters' }).expiryIndex as ExpiryIndexShape

t.test('query: a Query on the expiry index, its consumed capacity asked for, tallied and observed as Query', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await createTable(client)
  const now = 1_800_000_000
  const ids = Array.from({ length: 40 }, (_, i) => sessionId(i))
  for (const id of ids) {
    await putRow(client, tableName, { Sesion_Id: { S: id }, Expire_Session: { N: String(now) }, ...indexItemAttributes(index, id, now) })
  }
  const consumed: Array<[string, number]> = []
  const calls = new ReaperCalls(client, { consumed: (operation: string, units: number) => consumed.push([operation, units]) } as never)
  const out = await calls.query({
    TableName: tableName,
    IndexName: index.indexName,
    KeyConditionExpression: '#shard = :shard',
    ExpressionAttributeNames: { '#shard': index.shardAttribute },
    ExpressionAttributeValues: { ':shard': { N: '3' } },
    Select: 'COUNT',
    ReturnConsumedCapacity: 'NONE'
  })
  t.equal(out.Count, ids.filter((id) => shardOf(id, index.shards) === 3).length, 'the rows of shard 3')
  const units = out.ConsumedCapacity?.CapacityUnits
  t.equal(units, unitsFor('Query', 0.5), 'asked for, whatever the input said')
  t.strictSame(consumed, [['Query', units]])
  t.strictSame(calls.tally, { read: units, write: 0 })
})
