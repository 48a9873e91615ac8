import { BatchWriteItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb'
import fc from 'fast-check'
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { LEASE_ID } from '../../src/ids.js'
import { resolveOptions, type ExpiryIndexShape, type TableShape } from '../../src/options.js'
import { UnitBudget } from '../../src/reaper/budget.js'
import { ReaperCalls } from '../../src/reaper/calls.js'
import {
  CENSUS_TARGET_SAMPLE, DEFAULT_CENSUS_SECONDS, MAX_CENSUS_SEGMENTS, MIN_CENSUS_SEGMENTS, buildCensusScanInput, censusResult,
  censusSegments, countRow, emptyCounts, estimate, nextCensusOptions, predictedRelativeError, relativeError, runCensus,
  sampledSegments, standardErrors, type CensusResult
} from '../../src/reaper/census.js'
import { indexItemAttributes } from '../../src/store/expiry-index.js'
import { TOMBSTONE_ATTRIBUTE } from '../../src/store/tombstone.js'
import { createTable, makeClient, startDynalite } from '../helpers/dynamo.js'
import { assertProperty } from '../helpers/property.js'
import { fakeTime } from '../helpers/reaper.js'
import { CAN, unitsFor } from '../helpers/target.js'

const SECRET = 'a-secret-of-at-least-thirty-two-characters'
const options = resolveOptions({ secret: SECRET })
const shape = options as TableShape & { expiryIndex: ExpiryIndexShape }
const GRACE = 60
// How many standard errors (the method's own prediction) an estimate may be off: a 4σ miss has odds of about 6e-5.
const SIGMAS = 4

// ---- pure -----------------------------------------------------------------------------------------------------

t.test('estimate and relative error: the sample scaled by 1/share; the binomial error sqrt((1 − p) / (N·p))', async (t) => {
  t.equal(estimate(500, 1 / 32), 16_000)
  t.equal(relativeError(625, 1 / 32), Math.sqrt((31 / 32) / 625))
  t.equal(relativeError(10, 1), 0, 'a full read has no sampling error')
  t.equal(relativeError(0, 1 / 32), 1, 'an empty sample: 100%')
  t.equal(predictedRelativeError(20_000, 1 / 32), Math.sqrt((31 / 32) / 625))
  t.equal(standardErrors({ active: 16_000 * (1 + predictedRelativeError(16_000, 1 / 32)), share: 1 / 32 }, 16_000).toFixed(9), '1.000000000', 'one predicted error high')
  t.equal(standardErrors({ active: 100, share: 1 }, 100), 0)
  t.equal(standardErrors({ active: 99, share: 1 }, 100), Number.POSITIVE_INFINITY)
  t.equal(DEFAULT_CENSUS_SECONDS, 300, 'the gauges are refreshed at least every 5 minutes')
})

t.test('segments: a power of two from 32 to 4096 that leaves the target sample in one segment', async (t) => {
  t.equal(censusSegments(undefined), MIN_CENSUS_SEGMENTS, 'the first census reads 1/32')
  t.equal(censusSegments(20_000), 32)
  t.equal(censusSegments(1_000_000), 32)
  t.equal(censusSegments(100_000_000), 2048)
  t.equal(censusSegments(1e12), MAX_CENSUS_SEGMENTS)
  await assertProperty(fc.asyncProperty(fc.integer({ min: 0, max: 2e11 }), async (active) => {
    const segments = censusSegments(active)
    const inRange = Number.isInteger(Math.log2(segments)) && segments >= MIN_CENSUS_SEGMENTS && segments <= MAX_CENSUS_SEGMENTS
    // Each segment holds the target sample, unless the table is too small for 32 segments to do so...
    const enough = segments === MIN_CENSUS_SEGMENTS || active / segments >= CENSUS_TARGET_SAMPLE
    // ...and less than twice it, unless the table is too large for 4096.
    const notTooMany = segments === MAX_CENSUS_SEGMENTS || active / (segments * 2) < CENSUS_TARGET_SAMPLE
    const monotone = censusSegments(active + 1_000_000) >= segments
    return inRange && enough && notTooMany && monotone
  }), { numRuns: 200 })
})

function fakeResult (segments: number, startSegment: number, sampleSegments: number, active: number): CensusResult {
  const counts = { ...emptyCounts(), active: active * sampleSegments / segments }
  return censusResult(counts, { segments, startSegment, sampleSegments, consumedReadUnits: 0, completedAt: 0 })
}

t.test('rotation: successive censuses of a table of steady size read every segment once before any twice', async (t) => {
  t.strictSame(nextCensusOptions(undefined), { segments: 32, startSegment: 0 })
  t.strictSame(sampledSegments(30, 4, 32), [30, 31, 0, 1], 'wrapping around')
  await assertProperty(fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 3 }), async (sample, scale) => {
    const active = CENSUS_TARGET_SAMPLE * MIN_CENSUS_SEGMENTS * 2 ** scale
    const reads: number[] = []
    let previous: CensusResult | undefined
    let segments = 0
    do {
      const next = nextCensusOptions(previous)
      segments = next.segments
      reads.push(...sampledSegments(next.startSegment, sample, next.segments))
      previous = fakeResult(next.segments, next.startSegment, sample, active)
    } while (reads.length < segments)
    // Each segment once in the first round.
    return segments === MIN_CENSUS_SEGMENTS * 2 ** scale && new Set(reads.slice(0, segments)).size === segments
  }), { numRuns: 50 })
})

t.test('a census page reads one segment: the key, expiry and tombstone marker only', async (t) => {
  t.strictSame(buildCensusScanInput(shape, 3, 32, undefined, undefined), {
    TableName: 'ManejoSesion',
    ProjectionExpression: '#id, #exp, #tomb',
    ExpressionAttributeNames: { '#id': 'Sesion_Id', '#exp': 'Expire_Session', '#tomb': TOMBSTONE_ATTRIBUTE },
    Segment: 3,
    TotalSegments: 32
  })
  const start = { Sesion_Id: { S: 'abc' } }
  t.strictSame(buildCensusScanInput(shape, 0, 64, start, 40).Limit, 40)
  t.strictSame(buildCensusScanInput(shape, 0, 64, start, 40).ExclusiveStartKey, start)
})

t.test('rows are counted as a sweep counts them: active at expiry ≥ now, grace, expired past the grace, invalid', async (t) => {
  const now = 1_800_000_000
  const counts = emptyCounts()
  countRow(counts, { id: 'a', expiresAt: now }, now, GRACE)
  countRow(counts, { id: 'b', expiresAt: now + 1000 }, now, GRACE)
  countRow(counts, { id: 'c', expiresAt: now - 1 }, now, GRACE)
  countRow(counts, { id: 'd', expiresAt: now - GRACE }, now, GRACE)
  countRow(counts, { id: 'e', expiresAt: now - GRACE - 1 }, now, GRACE)
  countRow(counts, { id: 'f', expiresAt: undefined }, now, GRACE)
  countRow(counts, { id: 'g', expiresAt: now + 1000, tombstone: true }, now, GRACE)
  countRow(counts, { id: LEASE_ID, expiresAt: now + 1000 }, now, GRACE)
  t.strictSame(counts, { active: 2, grace: 2, expired: 1, invalid: 1 })
})

// ---- against DynamoDB -----------------------------------------------------------------------------------------

/** A seeded generator (mulberry32), so that the table's ids, hence its segments, are the same on every run. */
function seeded (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296
  }
}

function randomId (random: () => number): string {
  const bytes = Buffer.alloc(24)
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256)
  return bytes.toString('base64url')
}

type Kind = 'active' | 'grace' | 'expired' | 'invalid' | 'tombstone'

/** A session row as the plugin writes it (bucket and shard included), the size of the bench's (~150 B) or padded. */
function row (kind: Kind, id: string, n: number, now: number, padding: number): Record<string, AttributeValue> {
  const expires = kind === 'active'
    ? now + (n % 3600)
    : kind === 'grace' ? now - 1 - (n % GRACE) : kind === 'expired' ? now - GRACE - 1 - (n % 3600) : now + 60
  const data: Record<string, AttributeValue> = { user: { S: `user-${n}` }, roles: { L: [{ S: 'reader' }, { S: 'writer' }] }, n: { N: String(n % 100) } }
  if (padding > 0) data.pad = { S: 'x'.repeat(padding) }
  const item: Record<string, AttributeValue> = {
    Sesion_Id: { S: id },
    Created_At: { N: String(now - 300) },
    Touched_At: { N: String(now - 300) },
    Data: { M: data }
  }
  if (kind === 'invalid') return { ...item, Expire_Session: { S: String(expires) } }
  if (kind === 'tombstone') return { Sesion_Id: { S: id }, Expire_Session: { N: String(expires) }, [TOMBSTONE_ATTRIBUTE]: { N: String(now) } }
  return { ...item, Expire_Session: { N: String(expires) }, ...indexItemAttributes(shape.expiryIndex, id, expires) }
}

type Mix = Record<Kind, number>

async function writeAll (client: DynamoDBClient, tableName: string, items: Array<Record<string, AttributeValue>>): Promise<void> {
  let next = 0
  async function worker (): Promise<void> {
    while (next < items.length) {
      let pending: WriteRequest[] = items.slice(next, next + 25).map((Item) => ({ PutRequest: { Item } }))
      next += 25
      while (pending.length > 0) {
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }))
        pending = out.UnprocessedItems?.[tableName] ?? []
      }
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
}

/** A table holding `mix` rows of each kind, plus the lease item; ids from `seed`. */
async function seedTable (client: DynamoDBClient, mix: Mix, now: number, seed: number, padding = 0): Promise<string> {
  const tableName = await createTable(client, 'census')
  const random = seeded(seed)
  const items: Array<Record<string, AttributeValue>> = [{ Sesion_Id: { S: LEASE_ID }, Expire_Session: { N: String(now + 30) } }]
  let n = 0
  for (const kind of Object.keys(mix) as Kind[]) {
    for (let i = 0; i < mix[kind]; i++) items.push(row(kind, randomId(random), n++, now, padding))
  }
  await writeAll(client, tableName, items)
  return tableName
}

/** Read units of a full Scan of the table (1 MB pages), and its pages. */
async function fullScan (client: DynamoDBClient, tableName: string): Promise<{ units: number, pages: number, rows: number }> {
  let units = 0
  let pages = 0
  let rows = 0
  let start: Record<string, AttributeValue> | undefined
  do {
    const out = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ReturnConsumedCapacity: 'TOTAL' }))
    units += out.ConsumedCapacity?.CapacityUnits ?? 0
    pages++
    rows += out.Count ?? 0
    start = out.LastEvaluatedKey
  } while (start !== undefined)
  return { units, pages, rows }
}

const NOW = 1_800_000_000
const MIX: Mix = { active: 16_000, grace: 1000, expired: 5000, invalid: 500, tombstone: 500 }

t.test('on a table of 23,001 rows', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await seedTable(client, MIX, NOW, 11)
  const table = { ...shape, tableName }

  t.test('every census of one segment in 32 is within 4σ; the 32 together count every class exactly', async (t) => {
    const results: CensusResult[] = []
    for (let segment = 0; segment < 32; segment++) {
      results.push(await runCensus(new ReaperCalls(client, undefined), table, NOW, { segments: 32, startSegment: segment, graceSeconds: GRACE }))
    }
    const sigma = predictedRelativeError(MIX.active, 1 / 32)
    t.equal(Math.abs(sigma - 0.0440) < 0.0001, true, 'σ = sqrt((31/32) / 500) = 4.40% at 16,000 active rows')
    for (const result of results) {
      const off = standardErrors(result, MIX.active)
      t.equal(Math.abs(off) <= SIGMAS, true, `segment ${result.startSegment}: ${result.active} (${off.toFixed(2)}σ)`)
      const expiredSigma = predictedRelativeError(MIX.expired, 1 / 32)
      t.equal(Math.abs(result.expired - MIX.expired) <= SIGMAS * expiredSigma * MIX.expired, true, `expired, segment ${result.startSegment}`)
    }
    const total = emptyCounts()
    for (const result of results) for (const kind of Object.keys(total) as Array<keyof typeof total>) total[kind] += result.sampled[kind]
    t.strictSame(total, { active: MIX.active, grace: MIX.grace, expired: MIX.expired, invalid: MIX.invalid }, 'segments partition the table')
    // The spread of the 32 estimates is the one predicted (a chi-square of 32 degrees of freedom stays within
    // [0.35, 2.2] times its mean with odds of about 1 in 10^4): the segments are equal, uniform samples.
    const variance = results.reduce((sum, result) => sum + (result.active - MIX.active) ** 2, 0) / results.length
    const ratio = variance / (sigma * MIX.active) ** 2
    t.equal(ratio > 0.35 && ratio < 2.2, true, `observed / predicted variance: ${ratio.toFixed(2)}`)
  })

  t.test('several samples: 4 of 32, 1 of 64 and 1 of 128 segments, each within 4σ', async (t) => {
    const samples: Array<[number, number, number]> = [[32, 4, 30], [64, 1, 5], [64, 2, 63], [128, 1, 77]]
    for (const [segments, sampleSegments, startSegment] of samples) {
      const result = await runCensus(new ReaperCalls(client, undefined), table, NOW, { segments, sampleSegments, startSegment, graceSeconds: GRACE })
      const share = sampleSegments / segments
      t.equal(result.share, share)
      const off = standardErrors(result, MIX.active)
      t.equal(Math.abs(off) <= SIGMAS, true, `${sampleSegments}/${segments}: ${result.active} (${off.toFixed(2)}σ)`)
      t.equal(result.relativeError, relativeError(result.sampled.active, share), 'the error it reports is its own sample\'s')
    }
  })

  t.test('one census costs 1/32 of a full Scan\'s read units (rows of ~150 B), and goes through the reaper\'s calls', async (t) => {
    const consumed: Array<[string, number]> = []
    const observer = { consumed: (operation: string, units: number) => consumed.push([operation, units]) }
    const calls = new ReaperCalls(client, observer as never)
    const census = await runCensus(calls, table, NOW, { segments: 32, graceSeconds: GRACE })
    t.equal(calls.tally.read, census.consumedReadUnits, 'tallied by the calls')
    t.strictSame(consumed.map(([operation]) => operation), consumed.map(() => 'Scan'))
    t.equal(consumed.reduce((sum, [, units]) => sum + units, 0), census.consumedReadUnits, 'and observed')
    if (CAN.capacity === 'real') {
      // (A full Scan of moto's, whose capacity is a constant, would only take minutes.)
      const scan = await fullScan(client, tableName)
      t.equal(scan.rows, 23_001)
      const ratio = census.consumedReadUnits / scan.units
      t.equal(ratio <= 0.05, true, `census / scan = ${ratio.toFixed(4)} (at most 5%)`)
      t.equal(ratio > 0.5 / 32 && ratio < 1.5 / 32, true, 'about the share read, 1/32')
    } else {
      t.equal(census.consumedReadUnits, consumed.length * unitsFor('Scan', 0), 'a fixed figure per call on this target')
    }
  })

  t.test('with a budget, pages are sized to it and the census counts the same rows', async (t) => {
    const time = fakeTime()
    // 8 units a second: a page reserves a quarter of that, so pages stay small enough to wait, large enough to grow
    // (on moto, whose capacity figure is a constant per call, 2 units a second kept them at one row each).
    const budget = new UnitBudget(8, time.now, time.sleep)
    let pages = 0
    const calls = new ReaperCalls(client, { consumed: () => { pages++ } } as never, { read: budget })
    const budgeted = await runCensus(calls, table, NOW, { segments: 32, startSegment: 7, graceSeconds: GRACE, budget, now: time.now })
    const free = await runCensus(new ReaperCalls(client, undefined), table, NOW, { segments: 32, startSegment: 7, graceSeconds: GRACE })
    t.strictSame(budgeted.sampled, free.sampled)
    t.equal(pages > 1, true, `${pages} pages`)
    t.equal(time.slept.length > 0, true, 'it waited for units')
    t.equal(budgeted.completedAt, Math.floor(time.now() / 1000), 'completedAt from the injected clock')
  })

  t.test('an aborted census rejects, also while it waits for the budget; bad segment figures are refused', async (t) => {
    const controller = new AbortController()
    controller.abort()
    await t.rejects(runCensus(new ReaperCalls(client, undefined), table, NOW, { signal: controller.signal }))
    const waiting = new AbortController()
    const time = fakeTime()
    // The budget's first wait is where close() aborts it.
    const budget = new UnitBudget(1, time.now, async (ms, signal) => { waiting.abort(); await time.sleep(ms, signal) })
    const calls = new ReaperCalls(client, undefined, { read: budget })
    await t.rejects(runCensus(calls, table, NOW, { budget, signal: waiting.signal }), { name: 'AbortError' })
    t.equal(time.slept.length, 1, 'it stopped at its first wait')
    t.equal((await runCensus(new ReaperCalls(client, undefined), table, NOW, { segments: 1, sampleSegments: 1 })).share, 1, 'one segment: the whole table')
    for (const bad of [{ segments: 2 }, { segments: 16 }, { segments: 48 }, { segments: 8192 }, { sampleSegments: 0 }, { sampleSegments: 33 }, { startSegment: -1 }]) {
      await t.rejects(runCensus(new ReaperCalls(client, undefined), table, NOW, bad), RangeError, JSON.stringify(bad))
    }
  })
})

t.test('rows of 1 KB: one census still costs 1/32 of a full Scan', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const tableName = await seedTable(client, { active: 3000, grace: 0, expired: 1000, invalid: 0, tombstone: 0 }, NOW, 12, 850)
  const census = await runCensus(new ReaperCalls(client, undefined), { ...shape, tableName }, NOW, { segments: 32, graceSeconds: GRACE })
  const scan = await fullScan(client, tableName)
  if (CAN.capacity === 'real') {
    t.equal(Math.abs(scan.units / scan.rows * 8 - 1) < 0.1, true, `${scan.units} units for ${scan.rows} rows: about 1 KB each`)
    const ratio = census.consumedReadUnits / scan.units
    t.equal(ratio > 0.5 / 32 && ratio < 1.5 / 32 && ratio <= 0.05, true, `census / scan = ${ratio.toFixed(4)}`)
  } else {
    t.equal(census.consumedReadUnits > 0, true)
  }
})

t.test('docs/reaper.md states the error figures the method predicts', async (t) => {
  const docs = await readFile(new URL('../../docs/reaper.md', import.meta.url), 'utf8')
  for (const rows of [20_000, 1_000_000, 100_000_000]) {
    const segments = censusSegments(rows)
    const error = (predictedRelativeError(rows, 1 / segments) * 100).toFixed(2)
    const line = `| ${rows.toLocaleString('en-US')} | 1/${segments} | ${Math.round(rows / segments).toLocaleString('en-US')} | ${error}% |`
    t.equal(docs.includes(line), true, line)
  }
})
