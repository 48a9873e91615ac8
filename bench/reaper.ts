import { randomBytes } from 'node:crypto'
import { BatchWriteItemCommand, DeleteTableCommand, DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb'
import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import { resolveExpiryIndex, type ExpiryIndexShape } from '../src/options.js'
import { indexItemAttributes } from '../src/store/expiry-index.js'
import { ensureSessionTable } from '../src/store/table.js'
import { benchFile, startChild, type Child } from './children.js'
import { PASS_LIMIT_SECONDS, type ReaperCase, type Settings } from './config.js'
import type { DynamoInfo } from './dynamo-server.js'
import { diffCounters, type Counters } from './proxy.js'
import type { PassReport, ReaperInfo } from './reaper-server.js'
import type { ReaperResult, ReaperSection } from './results.js'

const BATCH = 25
const LOAD_CONCURRENCY = 16

/** The plugin's default expiry index: loaded rows carry its shard and bucket as the plugin writes them. */
export const BENCH_INDEX = resolveExpiryIndex(undefined) as ExpiryIndexShape

/**
 * One session row as the plugin writes it (shard and bucket included), expiring at `expires`; `padBytes` more bytes
 * of session data make rows of a chosen size (0: ~175 B, ROW_PAD_1KB: ~1,000 B, so one write unit each).
 */
export function sessionItem (
  id: string, expires: number, n: number, padBytes = 0, index: ExpiryIndexShape = BENCH_INDEX
): Record<string, AttributeValue> {
  const data: Record<string, AttributeValue> = {
    user: { S: `user-${n}` }, roles: { L: [{ S: 'reader' }, { S: 'writer' }] }, n: { N: String(n % 100) }
  }
  if (padBytes > 0) data.pad = { S: 'x'.repeat(padBytes) }
  return {
    Sesion_Id: { S: id },
    Expire_Session: { N: String(expires) },
    Created_At: { N: String(expires - 300) },
    Touched_At: { N: String(expires - 300) },
    Data: { M: data },
    ...indexItemAttributes(index, id, expires)
  }
}

/** Pads the bench's row to 1,000 bytes (DynamoDB's item size arithmetic; test/bench.test.ts checks it). */
export const ROW_PAD_1KB = 822

export function newSessionId (): string {
  return randomBytes(24).toString('base64url')
}

function sessionRow (nowSec: number, expired: boolean, n: number): WriteRequest {
  const expires = expired ? nowSec - 600 - (n % 3600) : nowSec + 3600
  return { PutRequest: { Item: sessionItem(newSessionId(), expires, n) } }
}

/**
 * Sends `count` write requests, `make(i)` each, with BatchWriteItem: several batches in flight, unprocessed items
 * resent. Requests are made as batches go out, so a million rows never sit in memory at once.
 */
export async function writeAll (
  client: DynamoDBClient, tableName: string, count: number, make: (i: number) => WriteRequest
): Promise<void> {
  let next = 0
  async function worker (): Promise<void> {
    while (next < count) {
      const batch: WriteRequest[] = []
      while (batch.length < BATCH && next < count) batch.push(make(next++))
      let pending: WriteRequest[] = batch
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 10) throw new Error(`bench: ${pending.length} requests stayed unprocessed while writing ${tableName}`)
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }))
        pending = out.UnprocessedItems?.[tableName] ?? []
      }
    }
  }
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker))
}

/** Fills a table with `rows` session rows, `expired` of them past their expiry, spread evenly. */
export async function loadRows (client: DynamoDBClient, tableName: string, rows: number, expired: number): Promise<void> {
  const nowSec = Math.floor(Date.now() / 1000)
  const every = expired > 0 ? rows / expired : Infinity
  let expiredSoFar = 0
  await writeAll(client, tableName, rows, (i) => {
    const isExpired = expiredSoFar < expired && i >= expiredSoFar * every
    if (isExpired) expiredSoFar++
    return sessionRow(nowSec, isExpired, i)
  })
  if (expiredSoFar !== expired) throw new Error(`bench: loaded ${expiredSoFar} expired rows into ${tableName}, wanted ${expired}`)
}

export function reaperCases (settings: Settings): ReaperCase[] {
  const cases: ReaperCase[] = []
  for (const rows of settings.reaper.rows) {
    for (const expiredFraction of settings.reaper.expiredFractions) {
      for (const segments of settings.reaper.segments) cases.push({ rows, expiredFraction, segments })
    }
  }
  return cases
}

export function operationCalls (counters: Counters): Record<string, number> {
  return Object.fromEntries(Object.entries(counters).map(([op, c]) => [op, c.calls]))
}

/** One case on its freshly created table: load the rows, run one pass in the reaper child, check and report it. */
async function runReaperCase (
  client: DynamoDBClient,
  dynamo: Child<DynamoInfo>,
  reaper: Child<ReaperInfo>,
  c: ReaperCase & { tableName: string, expiredRows: number },
  log: (m: string) => void
): Promise<ReaperResult> {
  const { tableName, expiredRows, ...reaperCase } = c
  const loadStarted = Date.now()
  await loadRows(client, tableName, c.rows, expiredRows)
  const loadSeconds = (Date.now() - loadStarted) / 1000
  const before = await dynamo.call<Counters>('counters')
  const args = { tableName, segments: c.segments, strategy: 'scan' }
  const report = await reaper.call<PassReport>('pass', args, (PASS_LIMIT_SECONDS + 60) * 1000)
  const calls = operationCalls(diffCounters(await dynamo.call<Counters>('counters'), before))
  if (report.result !== 'success') throw new Error(`bench: the reaper pass on ${tableName} ended with ${report.result}`)
  if (report.deleted !== expiredRows) {
    throw new Error(`bench: the reaper pass on ${tableName} deleted ${report.deleted} of ${expiredRows} expired rows`)
  }
  const caps = reaper.info.defaultCaps
  const r: ReaperResult = {
    ...reaperCase,
    expiredRows,
    scanned: report.scanned,
    deleted: report.deleted,
    conflicts: report.conflicts,
    seconds: report.wallSeconds,
    rowsDeletedPerSecond: report.wallSeconds > 0 ? report.deleted / report.wallSeconds : 0,
    readUnits: report.consumedReadUnits,
    writeUnits: report.consumedWriteUnits,
    dynamoCalls: calls,
    secondsAtDefaultCaps: Math.max(
      report.consumedReadUnits / caps.maxReadUnitsPerSecond,
      report.consumedWriteUnits / caps.maxWriteUnitsPerSecond
    )
  }
  log(`  ${String(c.rows).padStart(7)} rows, ${String(c.expiredFraction * 100).padStart(2)}% expired, ${c.segments} segment(s): ` +
    `${r.deleted} deleted in ${r.seconds.toFixed(2)} s (${r.rowsDeletedPerSecond.toFixed(0)}/s), ${r.readUnits} RU, ${r.writeUnits} WU ` +
    `(loaded in ${loadSeconds.toFixed(1)} s)`)
  return r
}

/**
 * For each case: a fresh table, loaded directly (not counted), then one `runOnce()` pass of the plugin's reaper in
 * its own process through the counting proxy, then the table is dropped.
 */
export async function runReaperBench (
  dynamo: Child<DynamoInfo>, settings: Settings, options: { execArgv: string[], env: NodeJS.ProcessEnv, log: (m: string) => void }
): Promise<ReaperSection> {
  const client = new DynamoDBClient({
    endpoint: dynamo.info.direct, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, maxAttempts: 10
  })
  let reaper: Child<ReaperInfo> | undefined
  try {
    reaper = await startChild<ReaperInfo>(benchFile('reaper-server'), {
      execArgv: options.execArgv, env: { ...options.env, BENCH_DYNAMO_ENDPOINT: dynamo.info.counted }
    })
    const results: ReaperResult[] = []
    let n = 0
    for (const c of reaperCases(settings)) {
      const tableName = `BenchReap_${c.rows}_${Math.round(c.expiredFraction * 100)}_${c.segments}_${++n}`
      const expiredRows = Math.round(c.rows * c.expiredFraction)
      await ensureSessionTable(client, { tableName })
      try {
        results.push(await runReaperCase(client, dynamo, reaper, { ...c, tableName, expiredRows }, options.log))
      } finally {
        await client.send(new DeleteTableCommand({ TableName: tableName }))
      }
    }
    return { status: 'ok', defaultCaps: reaper.info.defaultCaps, results }
  } finally {
    await reaper?.stop()
    client.destroy()
  }
}
