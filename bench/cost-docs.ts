import { readFileSync, writeFileSync } from 'node:fs'
import {
  DEFAULT_BUCKET_SECONDS,
  DEFAULT_EXPIRY_INDEX_SHARDS,
  DEFAULT_REAPER_GRACE_SECONDS,
  DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND
} from '../src/options.js'
import { checkTargets, type CostCase, type ReaperCostResult } from './cost-model.js'
import { replaceBetween } from './readme.js'

/*
 * docs/reaper.md's cost section, rendered from the reaper cost bench's results files (never edited by hand):
 * the measured passes, the computed index writes per session write, the lag, the targets and a monthly cost table.
 */

export const COST_START = '<!-- BENCH:reaper-cost:start -->'
export const COST_END = '<!-- BENCH:reaper-cost:end -->'

/** On-demand prices, us-east-1, since November 2024. */
export const PRICES = { readPerMillion: 0.125, writePerMillion: 0.625, storagePerGbMonth: 0.25, date: 'November 2024' } as const
/** A KEYS_ONLY entry of a session: table key, shard, bucket and DynamoDB's 100 B of index overhead. */
export const INDEX_ENTRY_BYTES = 100
/** The default schedule runs a pass every minute. */
const DEFAULT_PERIOD_SECONDS = 60
const DAYS_PER_MONTH = 30
/** Scan mode's sweep period in the cost table: a sweep every 5 minutes keeps its lag near index mode's. */
const SCAN_SWEEP_SECONDS = 300

/** A workload of the cost table: how many of the table's sessions end each day, and how often each is refreshed. */
export interface Workload {
  label: string
  /** Sessions created (and as many ended) per day, as a fraction of the table. */
  turnoverPerDay: number
  refreshesPerSession: number
}

export const WORKLOADS: readonly Workload[] = [
  { label: 'short sessions: the table turns over daily, 30 refreshes each', turnoverPerDay: 1, refreshesPerSession: 30 },
  { label: 'long sessions: 1/30 of the table ends daily, 5 refreshes each', turnoverPerDay: 1 / 30, refreshesPerSession: 5 }
]

/** The per-row figures the cost table needs, from the measured passes. */
export interface UnitRates {
  rowBytes: number
  /** Read units of a scan pass per row in the table. */
  scanReadPerRow: number
  /** Read units of an index pass: fixed (the shard Queries) plus per expired row. */
  indexReadFixed: number
  indexReadPerExpired: number
  /** Write units per deleted row (lease writes included). */
  writePerDeleted: number
  /** Index writes per refresh at the default bucketSeconds (computed). */
  indexWritesPerRefresh: number
}

function largest (cases: readonly CostCase[], strategy: CostCase['strategy']): CostCase[] {
  const own = cases.filter((c) => c.strategy === strategy)
  const rows = Math.max(...own.map((c) => c.rows))
  return own.filter((c) => c.rows === rows).sort((a, b) => a.expiredRows - b.expiredRows)
}

/** Unit rates from the largest table measured: scan per row, index as a line through its smallest and largest case. */
export function unitRates (results: readonly ReaperCostResult[]): UnitRates | undefined {
  const cases = results.flatMap((r) => r.cases)
  const amplification = results.flatMap((r) => r.amplification).find((a) => a.bucketSeconds === DEFAULT_BUCKET_SECONDS)
  const scan = largest(cases, 'scan')
  const index = largest(cases, 'index')
  const first = index[0]
  const last = index[index.length - 1]
  const scanCase = scan[0]
  if (amplification === undefined || scanCase === undefined || first === undefined || last === undefined || last === first) return undefined
  const perExpired = (last.readUnits - first.readUnits) / (last.expiredRows - first.expiredRows)
  return {
    rowBytes: scanCase.rowBytes,
    scanReadPerRow: scanCase.readUnits / scanCase.rows,
    indexReadFixed: Math.max(0, first.readUnits - perExpired * first.expiredRows),
    indexReadPerExpired: perExpired,
    writePerDeleted: last.writeUnits / last.deleted,
    indexWritesPerRefresh: amplification.indexWritesPerRefresh
  }
}

export interface MonthlyCost {
  sessions: number
  workload: string
  mode: 'scan' | 'index'
  readUnits: number
  writeUnits: number
  /** Index storage, GB. */
  storageGb: number
  dollars: number
}

/** One month of reaping `sessions` rows under `w` in `mode`, at the default schedule, from measured unit rates. */
export function monthlyCost (rates: UnitRates, sessions: number, w: Workload, mode: 'scan' | 'index'): MonthlyCost {
  const ended = sessions * w.turnoverPerDay * DAYS_PER_MONTH
  const deletes = ended * rates.writePerDeleted
  let readUnits: number
  let writeUnits: number
  let storageGb = 0
  if (mode === 'scan') {
    readUnits = sessions * rates.scanReadPerRow * (DAYS_PER_MONTH * 86_400 / SCAN_SWEEP_SECONDS)
    writeUnits = deletes
  } else {
    const passes = DAYS_PER_MONTH * 86_400 / DEFAULT_PERIOD_SECONDS
    readUnits = passes * rates.indexReadFixed + ended * rates.indexReadPerExpired
    // One index write when a session is created, one when it is deleted, and the measured amplification per refresh.
    writeUnits = deletes + ended * (2 + w.refreshesPerSession * rates.indexWritesPerRefresh)
    storageGb = sessions * INDEX_ENTRY_BYTES / 1e9
  }
  const dollars = readUnits / 1e6 * PRICES.readPerMillion + writeUnits / 1e6 * PRICES.writePerMillion + storageGb * PRICES.storagePerGbMonth
  return { sessions, workload: w.label, mode, readUnits, writeUnits, storageGb, dollars }
}

function num (v: number, digits = 0): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function big (v: number): string {
  if (v >= 1e9) return `${num(v / 1e9, 1)}G`
  if (v >= 1e6) return `${num(v / 1e6, 1)}M`
  if (v >= 1e3) return `${num(v / 1e3, 1)}k`
  return num(v, 1)
}

function runLine (r: ReaperCostResult): string {
  const m = r.machine
  return `${r.kind === 'large' ? '`npm run bench:reaper -- --large`' : '`npm run bench:reaper`'}: ` +
    `${r.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${m.cpuModel} (${m.cores} cores), Node ${m.node}, load average ` +
    `${m.loadAverage1m} at start; dynalite behind the counting proxy on 127.0.0.1.`
}

function passTable (results: readonly ReaperCostResult[]): string[] {
  const lines = [
    '| run | rows | expired | strategy | row size | rows examined | deleted | pass s | rows deleted/s | read units | write units | ' +
      'index / scan read units |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const r of results) {
    for (const c of r.cases) {
      const scan = r.cases.find((x) => x.strategy === 'scan' && x.rows === c.rows && x.expiredFraction === c.expiredFraction)
      const ratio = c.strategy === 'index' && scan !== undefined ? `${num(c.readUnits / scan.readUnits * 100, 2)}%` : ''
      lines.push(`| ${r.kind} | ${num(c.rows)} | ${num(c.expiredFraction * 100, 1)}% | ${c.strategy} | ${num(c.rowBytes)} B | ` +
        `${num(c.scanned)} | ` +
        `${num(c.deleted)} | ${num(c.seconds, 2)} | ${num(c.rowsDeletedPerSecond)} | ${num(c.readUnits, 1)} | ${num(c.writeUnits, 1)} | ` +
        `${ratio} |`)
    }
  }
  return lines
}

function amplificationTable (results: readonly ReaperCostResult[]): string[] {
  const all = results.flatMap((r) => r.amplification)
  if (all.length === 0) return []
  const lines = [
    'Index writes per session write, **computed** (dynalite reports no index write units) from the index-key changes ' +
      'observed: sessions logged in through the plugin on an injected clock, each refreshed every `touchAfterSeconds` ' +
      `(${all[0]?.touchAfterSeconds ?? 60} s), each row's bucket read back (GetItem) before and after every write, then ` +
      'billed at 1 index write per entry created or deleted, 2 per entry moved, 0 when unchanged:',
    '',
    '| bucketSeconds | refreshes | entries moved | unchanged | index writes per refresh (computed) | model 2Δ/bucketSeconds | ' +
      'per login | per logout |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const a of all) {
    lines.push(`| ${a.bucketSeconds}${a.bucketSeconds === DEFAULT_BUCKET_SECONDS ? ' (default)' : ''} | ${num(a.refreshes)} | ` +
      `${num(a.changes.moved)} | ${num(a.changes.unchanged)} | ${num(a.indexWritesPerRefresh, 3)} | ${num(a.modelPerRefresh, 3)} | ` +
      `${num(a.indexWritesPerCreate, 2)} | ${num(a.indexWritesPerDelete, 2)} |`)
  }
  return lines
}

function lagTable (results: readonly ReaperCostResult[]): string[] {
  const all = results.flatMap((r) => r.lag)
  if (all.length === 0) return []
  const lines = [
    'Lag from expiry to deletion, steady churn, index mode, scaled-down settings (rows written as the plugin writes them, ' +
      'expiring 5 to 24 s after they are written; lag measured per deleted row from its expiry to its DeleteItem\'s answer):',
    '',
    '| run | rows/s | seconds | write budget units/s | bucketSeconds + period + grace | deleted / expired | p50 s | p99 s | max s |',
    '| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |'
  ]
  for (const l of all) {
    lines.push(`| ${l.label} | ${l.rowsPerSecond} | ${l.seconds} | ${l.maxWriteUnitsPerSecond} | ` +
      `${l.bucketSeconds} + ${l.periodSeconds} + ${l.graceSeconds} = ${l.modelBoundSeconds} s | ${num(l.deleted)} / ${num(l.expired)} | ` +
      `${num(l.lagSeconds.p50, 1)} | ${num(l.lagSeconds.p99, 1)} | ${num(l.lagSeconds.max, 1)} |`)
  }
  const model = DEFAULT_BUCKET_SECONDS + DEFAULT_PERIOD_SECONDS + DEFAULT_REAPER_GRACE_SECONDS
  const steady = all.find((l) => l.label === 'steady')
  if (steady !== undefined) {
    lines.push('', 'The bound leaves out the pass\'s own time: a due bucket\'s rows are deleted one after another, so the last ' +
      'ones wait for those before them, and for the shard Queries; on this machine that is what the steady run\'s longest ' +
      `lag shows beyond the bound (${num(steady.lagSeconds.max - steady.modelBoundSeconds, 1)} s).`)
  }
  lines.push('', `The model at the defaults (bucketSeconds ${DEFAULT_BUCKET_SECONDS}, a pass every ${DEFAULT_PERIOD_SECONDS} s, ` +
    `graceSeconds ${DEFAULT_REAPER_GRACE_SECONDS}): a row is deleted at most ${model} s (${num(model / 60, 0)} min) after it expires, ` +
    'while the write budget keeps up. A bucket\'s rows all fall due at once, and the reaper deletes them at its write ' +
    'budget\'s pace: a bucket of n rows adds up to n / maxWriteUnitsPerSecond seconds (the default-budget run: 50 rows ' +
    'at 10 units/s, up to 5 s), so size the budget for a bucket\'s deletions within a schedule period, not for the average ' +
    'rate. In the budget-bound run the churn exceeds the budget: the backlog and the lag grow for as long as it lasts ' +
    '(its p99 covers the rows deleted before the run stopped waiting).')
  return lines
}

function costTable (results: readonly ReaperCostResult[]): string[] {
  const rates = unitRates(results)
  if (rates === undefined) return ['Cost table: needs passes of both strategies at two expired fractions and the amplification run.']
  const lines = [
    `Monthly cost of reaping (${DAYS_PER_MONTH} days), from the measured rates: a scan pass reads ${num(rates.scanReadPerRow, 4)} ` +
      `units per ${num(rates.rowBytes)} B row; an index pass ${num(rates.indexReadFixed, 1)} units for its ` +
      `${DEFAULT_EXPIRY_INDEX_SHARDS} ` +
      `shard Queries plus ${num(rates.indexReadPerExpired, 4)} per expired row; a deletion costs ${num(rates.writePerDeleted, 3)} write ` +
      `units; a refresh ${num(rates.indexWritesPerRefresh, 3)} index writes (computed above). Scan mode sweeps the whole table every ` +
      `${SCAN_SWEEP_SECONDS / 60} minutes (a lag near index mode's); index mode runs a pass every minute (the default) and adds its ` +
      `own costs: one index write per session created and one per session deleted, the refreshes' bucket moves, and ` +
      `${INDEX_ENTRY_BYTES} B of index storage per session. Deletions are billed alike in both modes. Prices: on-demand, ` +
      `us-east-1, since ${PRICES.date}: $${PRICES.readPerMillion} per million read request units, $${PRICES.writePerMillion} per ` +
      `million write request units, $${PRICES.storagePerGbMonth} per GB-month.`,
    '',
    '| sessions | workload | mode | read units | write units | index storage | $ per month |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: |'
  ]
  for (const sessions of COST_SIZES) {
    for (const w of WORKLOADS) {
      for (const mode of ['scan', 'index'] as const) {
        const c = monthlyCost(rates, sessions, w, mode)
        lines.push(`| ${big(sessions)} | ${w.label} | ${mode} | ${big(c.readUnits)} | ${big(c.writeUnits)} | ` +
          `${c.storageGb === 0 ? '' : `${num(c.storageGb, 3)} GB`} | ${dollars(c.dollars)} |`)
      }
    }
  }
  return [...lines, '', ...verdict(rates), '', ...sweepTable(rates)]
}

const COST_SIZES = [10_000, 1_000_000, 100_000_000]

function dollars (v: number): string {
  return `$${num(v, v < 10 ? 2 : 0)}`
}

/** Index writes per row and day below which index mode costs less than scan mode's 5-minute sweeps. */
export function breakEvenIndexWritesPerRowDay (rates: UnitRates): number {
  return rates.scanReadPerRow * (86_400 / SCAN_SWEEP_SECONDS) * PRICES.readPerMillion / PRICES.writePerMillion
}

/** Where each mode wins, in words computed from the rates and the workloads. */
function verdict (rates: UnitRates): string[] {
  const limit = breakEvenIndexWritesPerRowDay(rates)
  const lines = [`Index mode costs less than scan mode's ${SCAN_SWEEP_SECONDS / 60}-minute sweeps while the sessions cause fewer ` +
    `than ${num(limit, 1)} index writes per row of the table and per day (a scan reads every row ` +
    `${num(86_400 / SCAN_SWEEP_SECONDS)} times a day; a write unit costs ${num(PRICES.writePerMillion / PRICES.readPerMillion)} ` +
    'read units). Per workload, at any table size (both grow with it):']
  for (const w of WORKLOADS) {
    const perRowDay = w.turnoverPerDay * (2 + w.refreshesPerSession * rates.indexWritesPerRefresh)
    const scan = monthlyCost(rates, 1_000_000, w, 'scan').dollars
    const index = monthlyCost(rates, 1_000_000, w, 'index').dollars
    lines.push(`- ${w.label}: ${num(perRowDay, 2)} index writes per row and day; ` +
      (index < scan ? `the index costs ${num(scan / index, 1)}× less.` : `scan's sweeps cost ${num(index / scan, 1)}× less.`))
  }
  const smallest = COST_SIZES[0] as number
  const tiny = Math.max(...WORKLOADS.flatMap((w) => (['scan', 'index'] as const).map((m) => monthlyCost(rates, smallest, w, m).dollars)))
  lines.push(`- Tiny tables: at ${big(smallest)} sessions every figure is below ${dollars(Math.ceil(tiny))} a month, ` +
    'and scan mode needs no index, no backfill and no index writes on the request path: it stays the simpler choice there, ' +
    'as for tables written by software that replaces whole items.')
  return lines
}

/** What scan mode's sweeps need in read budget, against index mode's lag bound at the defaults. */
function sweepTable (rates: UnitRates): string[] {
  const lag = (DEFAULT_BUCKET_SECONDS + DEFAULT_PERIOD_SECONDS + DEFAULT_REAPER_GRACE_SECONDS) / 60
  const lines = [
    'Lag, not only cost: scan mode deletes a row at most one sweep after it expired, and a sweep runs at the read budget.',
    '',
    `| sessions | scan: read units/s for a sweep every ${SCAN_SWEEP_SECONDS / 60} min | scan: one sweep at the default ` +
      `${DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND} units/s | index: lag bound at the defaults |`,
    '| ---: | ---: | ---: | ---: |'
  ]
  for (const sessions of COST_SIZES) {
    const units = sessions * rates.scanReadPerRow
    const sweep = duration(units / DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND)
    lines.push(`| ${big(sessions)} | ${num(units / SCAN_SWEEP_SECONDS)} | ${sweep} | ${num(lag)} min |`)
  }
  return lines
}

function duration (seconds: number): string {
  if (seconds < 120) return `${num(seconds)} s`
  if (seconds < 7200) return `${num(seconds / 60)} min`
  if (seconds < 172_800) return `${num(seconds / 3600, 1)} h`
  return `${num(seconds / 86_400, 1)} days`
}

/** The whole generated block: runs, passes, amplification, lag, targets, cost table. */
export function renderCostMarkdown (results: readonly ReaperCostResult[]): string {
  const lines: string[] = []
  lines.push(...results.map((r) => `- ${runLine(r)}`), '')
  lines.push('One `runOnce()` pass per row, each strategy on the same loaded table (the rows a pass deleted are written ' +
    'back before the next), budget caps raised so the pass runs at full speed; units are the pass\'s ConsumedCapacity ' +
    'as the reaper reported it:', '')
  lines.push(...passTable(results), '')
  const amplification = amplificationTable(results)
  if (amplification.length > 0) lines.push(...amplification, '')
  const lag = lagTable(results)
  if (lag.length > 0) lines.push(...lag, '')
  lines.push('Targets:', '')
  for (const t of checkTargets(results, DEFAULT_BUCKET_SECONDS)) {
    lines.push(`- ${t.met === null ? 'not measured' : t.met ? 'met' : '**not met**'}: ${t.name}: ${t.detail}`)
  }
  lines.push('', ...costTable(results))
  return lines.join('\n') + '\n'
}

export function updateCostDocs (path: string, results: readonly ReaperCostResult[]): void {
  writeFileSync(path, replaceBetween(readFileSync(path, 'utf8'), renderCostMarkdown(results), COST_START, COST_END))
}
