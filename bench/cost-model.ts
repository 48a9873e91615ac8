import type { Machine } from './results.js'

/*
 * The reaper cost bench's results (bench/results/reaper-cost.json and reaper-cost-large.json), the arithmetic on them
 * and the targets of issue 11: all pure, so test/bench.test.ts checks them without a server.
 */

/** Bump on any incompatible change of ReaperCostResult. */
export const COST_SCHEMA_VERSION = 1

export type FinderStrategy = 'scan' | 'index'

/** One pass of one strategy on a table of `rows` rows of which `expiredRows` are due. */
export interface CostCase {
  rows: number
  expiredFraction: number
  expiredRows: number
  strategy: FinderStrategy
  /** Item size of the loaded rows (DynamoDB's arithmetic). */
  rowBytes: number
  scanned: number
  deleted: number
  conflicts: number
  seconds: number
  rowsDeletedPerSecond: number
  /** ConsumedCapacity of the pass's own calls, as the reaper reported it. */
  readUnits: number
  writeUnits: number
  /** Calls by operation as the counting proxy saw them. */
  dynamoCalls: Record<string, number>
}

/** What happened to one row's index entry on one session write, read back from the row (GetItem) before and after. */
export type EntryChange = 'created' | 'moved' | 'unchanged' | 'deleted'

/** The billing rule of shared/DYNAMODB-FACTS.md: an index key change is a delete and a put. */
export const INDEX_WRITES: Readonly<Record<EntryChange, number>> = { created: 1, moved: 2, unchanged: 0, deleted: 1 }

/** Index entry changes observed for one bucket width, and the index write units they cost (computed, not reported). */
export interface Amplification {
  bucketSeconds: number
  touchAfterSeconds: number
  /** Seconds the expiry moved per refresh (the injected clock's step). */
  refreshSeconds: number
  sessions: number
  refreshes: number
  /** How the refreshes changed the entries. */
  changes: Record<EntryChange, number>
  /** Computed from `changes` with INDEX_WRITES. */
  indexWritesPerCreate: number
  indexWritesPerRefresh: number
  indexWritesPerDelete: number
  /** The model: 2Δ/bucketSeconds, at most 2. */
  modelPerRefresh: number
}

/** A steady churn run of the scheduled reaper in index mode. */
export interface LagRun {
  label: 'steady' | 'default-budget' | 'budget-bound'
  seconds: number
  rowsPerSecond: number
  bucketSeconds: number
  periodSeconds: number
  graceSeconds: number
  maxWriteUnitsPerSecond: number
  /** Rows that expired during the run. */
  expired: number
  deleted: number
  /** Of those, still in the table when the run stopped waiting. */
  left: number
  /** Seconds from each deleted row's expiry to its DeleteItem's answer. */
  lagSeconds: { p50: number, p99: number, max: number }
  /** bucketSeconds + periodSeconds + graceSeconds. */
  modelBoundSeconds: number
}

export interface ReaperCostResult {
  schemaVersion: number
  kind: 'normal' | 'large'
  startedAt: string
  finishedAt: string
  machine: Machine
  cases: CostCase[]
  /** Absent from results written before the census was measured. */
  census?: CensusRun[]
  amplification: Amplification[]
  lag: LagRun[]
}

/** The index writes a set of observed changes costs. */
export function indexWrites (changes: Readonly<Record<EntryChange, number>>): number {
  return (Object.keys(INDEX_WRITES) as EntryChange[]).reduce((sum, k) => sum + changes[k] * INDEX_WRITES[k], 0)
}

/** How a refresh changed a row's entry, from its bucket before and after (undefined: no entry). */
export function entryChange (before: number | undefined, after: number | undefined): EntryChange {
  if (before === undefined) return after === undefined ? 'unchanged' : 'created'
  if (after === undefined) return 'deleted'
  return before === after ? 'unchanged' : 'moved'
}

export function modelWritesPerRefresh (refreshSeconds: number, bucketSeconds: number): number {
  return Math.min(2, 2 * refreshSeconds / bucketSeconds)
}

/** The nearest-rank percentile of `values` (0 for none). */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))] as number
}

/** Censuses of the live sessions (src/reaper/census.ts) on a table of known size, against the truth. */
export interface CensusRun {
  rows: number
  /** Live rows in the table: every row the bench loaded. */
  trueActive: number
  /** One entry per census, each on the next segments. */
  estimates: Array<{ active: number, relativeError: number, readUnits: number, share: number }>
  /** Read units of one full scan of the same table (a scan pass's Scan pages). */
  fullScanReadUnits: number
}

/** Pure: the largest relative error of a run's estimates, and the largest cost share of a full scan. */
export function censusFigures (run: CensusRun): { maxError: number, maxCostShare: number } {
  const errors = run.estimates.map((e) => Math.abs(e.active - run.trueActive) / run.trueActive)
  const shares = run.estimates.map((e) => run.fullScanReadUnits > 0 ? e.readUnits / run.fullScanReadUnits : 0)
  return { maxError: Math.max(0, ...errors), maxCostShare: Math.max(0, ...shares) }
}

/** Active sessions within ±2% of the truth at 1M rows, each census costing ≤ 5% of a full scan. */
function censusTarget (runs: readonly CensusRun[]): Target {
  const run = runs.find((r) => r.rows === 1_000_000)
  const name = 'active-session census within ±2% of the truth at 1M rows, each ≤ 5% of a full scan\'s read units'
  if (run === undefined || run.estimates.length === 0) return { name, detail: 'not measured (run with --large)', met: null }
  const { maxError, maxCostShare } = censusFigures(run)
  return {
    name,
    detail: `${run.estimates.length} censuses: largest error ${fmt(maxError * 100)}%, ` +
      `largest cost ${fmt(maxCostShare * 100)}% of a full scan`,
    met: maxError <= 0.02 && maxCostShare <= 0.05
  }
}

export interface Target {
  name: string
  /** What was measured and what it is compared with, in words. */
  detail: string
  /** null: not measured in the results at hand. */
  met: boolean | null
}

function findCase (cases: readonly CostCase[], rows: number, fraction: number, strategy: FinderStrategy): CostCase | undefined {
  return cases.find((c) => c.rows === rows && c.expiredFraction === fraction && c.strategy === strategy)
}

function fmt (v: number, digits = 2): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** At 1M rows with 1% expired an index pass reads at most 1% of a scan pass's units. */
function readRatioTarget (cases: readonly CostCase[]): Target {
  const scan = findCase(cases, 1_000_000, 0.01, 'scan')
  const index = findCase(cases, 1_000_000, 0.01, 'index')
  const name = 'index pass reads ≤ 1% of a scan pass (1M rows, 1% expired)'
  if (scan === undefined || index === undefined) return { name, detail: 'not measured (run with --large)', met: null }
  const ratio = index.readUnits / scan.readUnits
  return { name, detail: `${fmt(index.readUnits, 1)} / ${fmt(scan.readUnits, 1)} read units = ${fmt(ratio * 100)}%`, met: ratio <= 0.01 }
}

/** Index pass duration at 1M rows (0.1% expired) at most 1.5× the one at 100k rows (1% expired): 1,000 rows each. */
function durationTarget (cases: readonly CostCase[]): Target {
  const large = findCase(cases, 1_000_000, 0.001, 'index')
  const small = findCase(cases, 100_000, 0.01, 'index')
  const name = 'index pass at 1M rows ≤ 1.5× the pass at 100k rows, 1,000 expired rows each'
  if (large === undefined || small === undefined) return { name, detail: 'not measured (run with --large)', met: null }
  const ratio = large.seconds / small.seconds
  return { name, detail: `${fmt(large.seconds)} s / ${fmt(small.seconds)} s = ${fmt(ratio)}×`, met: ratio <= 1.5 }
}

function lagTarget (lag: readonly LagRun[]): Target {
  const run = lag.find((r) => r.label === 'steady')
  const name = 'p99 lag ≤ bucketSeconds + period + grace (write budget not the bottleneck)'
  if (run === undefined) return { name, detail: 'not measured', met: null }
  return {
    name,
    detail: `p99 ${fmt(run.lagSeconds.p99, 2)} s against ${run.bucketSeconds} + ${run.periodSeconds} + ${run.graceSeconds} = ` +
      `${run.modelBoundSeconds} s`,
    met: run.lagSeconds.p99 <= run.modelBoundSeconds && run.left === 0
  }
}

function amplificationTarget (amplification: readonly Amplification[], defaultBucketSeconds: number): Target {
  const a = amplification.find((x) => x.bucketSeconds === defaultBucketSeconds)
  const name = `refresh amplification ≤ 0.5 index write units per refresh (bucketSeconds ${defaultBucketSeconds})`
  if (a === undefined) return { name, detail: 'not measured', met: null }
  return { name, detail: `${fmt(a.indexWritesPerRefresh, 3)} computed over ${a.refreshes} refreshes`, met: a.indexWritesPerRefresh <= 0.5 }
}

/** The four targets over the normal and (when present) the large run's results. */
export function checkTargets (results: readonly ReaperCostResult[], defaultBucketSeconds: number): Target[] {
  const cases = results.flatMap((r) => r.cases)
  // Duration compares the two sizes within one run (the large run measures both), so machine load hits them alike.
  const large = results.find((r) => r.kind === 'large')
  return [
    readRatioTarget(cases),
    durationTarget(large?.cases ?? cases),
    lagTarget(results.flatMap((r) => r.lag)),
    amplificationTarget(results.flatMap((r) => r.amplification), defaultBucketSeconds),
    censusTarget(results.flatMap((r) => r.census ?? []))
  ]
}
