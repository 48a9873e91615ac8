import t from 'tap'
import fc from 'fast-check'
import {
  PutItemCommand, ScanCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import { epochSeconds } from '../src/clock.js'
import {
  DUE_CONDITION, LIVE_CONDITION, MAX_EXPIRY_YEARS_AHEAD, classifyExpiry, computeExpiry, dueCutoff, dueValues, isDue, isLive,
  isLiveSession, isLiveTombstone, isWithinAbsoluteTimeout, latestValidExpiry, liveValues
} from '../src/expiry.js'
import { buildReapDeleteInput } from '../src/reaper/sweep.js'
import { resolveOptions } from '../src/options.js'
import { buildUpdateInput } from '../src/store/commands.js'
import { numberAttribute } from '../src/store/marshal.js'
import { buildTombstoneInput } from '../src/store/tombstone.js'
import { createTable, makeClient, startDynalite } from './helpers/dynamo.js'
import { assertProperty } from './helpers/property.js'
import { CAN } from './helpers/target.js'

const SHAPE = resolveOptions({ secret: 'a-test-secret-that-is-long-enough-0123456789' })
const NOW = 1_800_000_000

t.test('computeExpiry: idle lifetime, capped by the absolute timeout', async (t) => {
  t.equal(computeExpiry(1000, 300, 900, undefined), 1300)
  t.equal(computeExpiry(1000, 300, 900, 3600), 1300, 'cap far away')
  t.equal(computeExpiry(1000, 300, 900, 200), 1100, 'cap closer than the idle lifetime')
  t.equal(computeExpiry(1000, 300, 700, 300), 1000, 'cap reached: expires now')
  t.equal(epochSeconds(1_800_000_000_999), 1_800_000_000)
})

t.test('the predicates at their boundaries', async (t) => {
  t.strictSame([NOW - 1, NOW, NOW + 1, undefined, Number.NaN].map((e) => isLive(e, NOW)), [false, false, true, false, false])
  t.strictSame([NOW - 61, NOW - 60, NOW - 59, undefined, Number.NaN].map((e) => isDue(e, NOW, 60)), [true, false, false, false, false])
  t.equal(dueCutoff(NOW, 60), NOW - 60)
  t.strictSame(
    [undefined, NOW - 61, NOW - 60, NOW - 1, NOW, NOW + 1].map((e) => classifyExpiry(e, NOW, 60)),
    ['invalid', 'due', 'grace', 'grace', 'active', 'active']
  )
  t.strictSame([NOW - 1, NOW].map((e) => classifyExpiry(e, NOW, 0)), ['due', 'active'], 'no grace: due as soon as expired')
  t.equal(isWithinAbsoluteTimeout(undefined, NOW, 10), true, 'no creation time: no cap')
  t.equal(isWithinAbsoluteTimeout(NOW - 10, NOW, undefined), true, 'no timeout: no cap')
  t.strictSame([NOW - 11, NOW - 10, NOW - 9].map((c) => isWithinAbsoluteTimeout(c, NOW, 10)), [false, false, true])
  const row = { expiresAt: NOW + 1, createdAt: NOW - 10, superseded: false }
  t.equal(isLiveSession(row, NOW), true)
  t.equal(isLiveSession(row, NOW, 10), false, 'past the absolute timeout')
  t.equal(isLiveSession({ ...row, superseded: true }, NOW), false, 'a tombstone is never a live session')
  t.equal(isLiveTombstone({ ...row, superseded: true }, NOW), true)
  t.equal(isLiveTombstone({ ...row, superseded: true, expiresAt: NOW }, NOW), false)
  t.equal(isLiveTombstone(row, NOW), false)
})

t.test('regression: an expiry in milliseconds is counted invalid, never due or active', async (t) => {
  const nowMs = NOW * 1000
  t.equal(classifyExpiry(nowMs + 60_000, NOW, 60), 'invalid', 'a live session written in milliseconds')
  t.equal(classifyExpiry(nowMs - 3_600_000, NOW, 60), 'invalid', 'an expired one: still never due')
  t.equal(MAX_EXPIRY_YEARS_AHEAD, 10)
  const bound = latestValidExpiry(NOW)
  t.strictSame([bound - 1, bound, bound + 1].map((e) => classifyExpiry(e, NOW, 60)), ['active', 'active', 'invalid'])
  t.equal(classifyExpiry(Number.NaN, NOW, 60), 'invalid')
})

t.test('the builders carry the fragments', async (t) => {
  t.match(buildUpdateInput(SHAPE, { id: 'a', nowSec: NOW, expiresAt: NOW + 1 }).ConditionExpression, LIVE_CONDITION)
  t.match(buildTombstoneInput(SHAPE, 'a', NOW, 60).ConditionExpression, LIVE_CONDITION)
  t.strictSame(buildTombstoneInput(SHAPE, 'a', NOW, 60).ExpressionAttributeValues, liveValues(NOW))
  const reap = buildReapDeleteInput(SHAPE, 'a', dueCutoff(NOW, 60))
  t.match(reap.ConditionExpression, DUE_CONDITION)
  t.strictSame(reap.ExpressionAttributeValues, dueValues(NOW - 60))
})

/** An expiry as a row may hold it: a number, missing, or of a type DynamoDB's TTL ignores. */
type StoredExpiry = { N: string } | { S: string } | { NULL: true } | undefined

async function putRows (client: DynamoDBClient, tableName: string, rows: ReadonlyMap<string, StoredExpiry>): Promise<void> {
  for (const [id, expiry] of rows) {
    const item: Record<string, AttributeValue> = { [SHAPE.idAttribute]: { S: id } }
    if (expiry !== undefined) item[SHAPE.expiresAttribute] = expiry
    await client.send(new PutItemCommand({ TableName: tableName, Item: item }))
  }
}

/** The ids among `ids` a Scan with `filter` returns. */
async function scanSelects (client: DynamoDBClient, tableName: string, ids: readonly string[], filter: string, values: Record<string, AttributeValue>): Promise<string[]> {
  const found: string[] = []
  let start: Record<string, AttributeValue> | undefined
  do {
    const out = await client.send(new ScanCommand({
      TableName: tableName,
      FilterExpression: filter,
      ExpressionAttributeNames: { '#exp': SHAPE.expiresAttribute },
      ExpressionAttributeValues: values,
      ...(start === undefined ? {} : { ExclusiveStartKey: start })
    }))
    for (const item of out.Items ?? []) found.push(item[SHAPE.idAttribute]?.S ?? '')
    start = out.LastEvaluatedKey
  } while (start !== undefined)
  return found.filter((id) => ids.includes(id)).sort()
}

/** The ids among `ids` a conditional write with `condition` succeeds on (it writes a marker, never the expiry). */
async function writeSelects (client: DynamoDBClient, tableName: string, ids: readonly string[], condition: string, values: Record<string, AttributeValue>): Promise<string[]> {
  const written: string[] = []
  for (const id of ids) {
    try {
      await client.send(new UpdateItemCommand({
        TableName: tableName,
        Key: { [SHAPE.idAttribute]: { S: id } },
        UpdateExpression: 'SET #mark = :mark',
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#exp': SHAPE.expiresAttribute, '#mark': 'Mark' },
        ExpressionAttributeValues: { ...values, ':mark': { BOOL: true } }
      }))
      written.push(id)
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err
    }
  }
  return written.sort()
}

/** The ids the JavaScript predicate selects, reading each expiry as the store and the finders do. */
function predicateSelects (rows: ReadonlyMap<string, StoredExpiry>, predicate: (expiresAt: number | undefined) => boolean): string[] {
  return [...rows].filter(([, expiry]) => predicate(numberAttribute(expiry))).map(([id]) => id).sort()
}

t.test('each predicate and its condition fragment select the same rows (boundaries)', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await createTable(client, 'expiry_table')
  const grace = 60
  const offsets = [-grace - 2, -grace - 1, -grace, -grace + 1, -2, -1, 0, 1, 2, grace, 10_000]
  const rows = new Map<string, StoredExpiry>(offsets.map((o) => [`row_${o}`, { N: String(NOW + o) }]))
  rows.set('fraction_below_now', { N: String(NOW - 0.5) })
  rows.set('fraction_above_now', { N: String(NOW + 0.5) })
  rows.set('missing', undefined)
  // A String expiry (TTL ignores it) compares false in DynamoDB; moto fails the request instead (target.test.ts).
  if (CAN.comparesAcrossTypes) rows.set('string_expiry', { S: String(NOW + 100) })
  rows.set('null_expiry', { NULL: true })
  await putRows(client, tableName, rows)
  const ids = [...rows.keys()]

  for (const nowSec of [NOW - grace - 1, NOW - 1, NOW, NOW + 1, NOW + grace]) {
    const live = predicateSelects(rows, (e) => isLive(e, nowSec))
    t.strictSame(await scanSelects(client, tableName, ids, LIVE_CONDITION, liveValues(nowSec)), live, `live at now${nowSec - NOW}: Scan filter`)
    for (const g of [0, 1, grace]) {
      const due = predicateSelects(rows, (e) => isDue(e, nowSec, g))
      const values = dueValues(dueCutoff(nowSec, g))
      t.strictSame(await scanSelects(client, tableName, ids, DUE_CONDITION, values), due, `due at now${nowSec - NOW}, grace ${g}: Scan filter`)
    }
  }
  // Conditional writes, at the boundaries of now and of the grace.
  t.strictSame(await writeSelects(client, tableName, ids, LIVE_CONDITION, liveValues(NOW)), predicateSelects(rows, (e) => isLive(e, NOW)))
  t.strictSame(
    await writeSelects(client, tableName, ids, DUE_CONDITION, dueValues(dueCutoff(NOW, grace))),
    predicateSelects(rows, (e) => isDue(e, NOW, grace))
  )
  t.strictSame(predicateSelects(rows, (e) => isLive(e, NOW)), ['fraction_above_now', 'row_1', 'row_10000', 'row_2', 'row_60'].sort(), 'the table itself')
})

t.test('property: predicates and fragments agree on random expiries, nows and graces', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await createTable(client, 'expiry_property')
  let run = 0
  await assertProperty(fc.asyncProperty(
    fc.integer({ min: NOW - 1000, max: NOW + 1000 }),
    fc.integer({ min: 0, max: 300 }),
    fc.array(fc.option(fc.integer({ min: -400, max: 400 }), { nil: undefined }), { minLength: 1, maxLength: 6 }),
    async (nowSec, grace, offsets) => {
      run++
      const rows = new Map<string, StoredExpiry>(offsets.map((o, i) => [`p${run}_${i}`, o === undefined ? undefined : { N: String(nowSec + o) }]))
      await putRows(client, tableName, rows)
      const ids = [...rows.keys()]
      const liveScan = await scanSelects(client, tableName, ids, LIVE_CONDITION, liveValues(nowSec))
      const dueScan = await scanSelects(client, tableName, ids, DUE_CONDITION, dueValues(dueCutoff(nowSec, grace)))
      return JSON.stringify(liveScan) === JSON.stringify(predicateSelects(rows, (e) => isLive(e, nowSec))) &&
        JSON.stringify(dueScan) === JSON.stringify(predicateSelects(rows, (e) => isDue(e, nowSec, grace)))
    }
  ), { numRuns: 25 })
  t.pass('25 random tables agreed')
})
