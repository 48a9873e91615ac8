import os from 'node:os'
import {
  ALTERNATIVE, BASELINE, FLOOR, SDK_TRANSPORT, type ContestantId, type Mode, type ReaperCase, type ScenarioId, type Settings
} from './config.js'
import { sumCounters, type Counters } from './proxy.js'

/** bench/results/latest.json; documented in bench/README.md. Bump SCHEMA_VERSION on any incompatible change. */
export const SCHEMA_VERSION = 2

export interface Machine {
  cpuModel: string
  cores: number
  node: string
  platform: string
  arch: string
  totalMemoryMiB: number
  /** 1-minute load average when the run started: a busy machine makes every figure worse. */
  loadAverage1m: number
}

export interface DynamoPerRequest {
  calls: number
  readUnits: number
  writeUnits: number
  /** Calls per request by operation, e.g. { GetItem: 1 }. */
  callsByOperation: Record<string, number>
  /** Where the units come from: DynamoDB's ConsumedCapacity, the proxy's arithmetic, both, or no calls at all. */
  unitsSource: 'reported' | 'estimated' | 'mixed' | 'none'
}

/** One measured autocannon run of one contestant in one scenario. */
export interface Round {
  /** Requests sent (one in flight when the run stopped may not have reached the app). */
  requests: number
  /** Responses received. */
  completed: number
  seconds: number
  requestsPerSecond: number
  latencyMs: { p50: number, p99: number, mean: number }
  /** Non-2xx responses, errors and timeouts. */
  failures: number
  /** App process CPU (user + system) over the run, in microseconds. */
  cpuMicros: number
  /** CPU of the process running dynalite and the counting proxy over the run, in microseconds. */
  databaseCpuMicros: number
  /** CPU of the runner (autocannon) over the run, in microseconds. */
  loadGeneratorCpuMicros: number
  /** The proxy's counters for the run. */
  counters: Counters
}

export interface RequestResult {
  contestant: ContestantId
  scenario: ScenarioId
  /** Requests sent over all rounds (the denominator of every per-request figure). */
  requests: number
  /** Requests answered over all rounds. */
  completed: number
  /** Measured seconds over all rounds. */
  seconds: number
  /** Median of the rounds' requests per second. */
  requestsPerSecond: number
  /** p50 and p99: medians of the rounds' percentiles; mean: over all requests. */
  latencyMs: { p50: number, p99: number, mean: number }
  /** Non-2xx responses, errors and timeouts: a sound run has 0. */
  failures: number
  /** CPU time of the app process (user + system) per request, in microseconds. */
  cpuMicrosPerRequest: number
  /**
   * The same for the dynalite + proxy process and for the load generator: on one machine the three share the cores,
   * so their sum is what bounds throughput there.
   */
  databaseCpuMicrosPerRequest: number
  loadGeneratorCpuMicrosPerRequest: number
  dynamo: DynamoPerRequest
  /** The proxy's raw counters over all rounds (totals, not per request). */
  dynamoTotals: Counters
  /** Each round's own figures, in the order they ran. */
  rounds: Array<Omit<Round, 'counters' | 'cpuMicros' | 'databaseCpuMicros' | 'loadGeneratorCpuMicros'> & { cpuMicrosPerRequest: number }>
}

export interface Ratio {
  requestsPerSecond: number | null
  cpuMicrosPerRequest: number | null
  latencyP99: number | null
  dynamoCallsPerRequest: number | null
  capacityUnitsPerRequest: number | null
}

export interface ScenarioRatios {
  scenario: ScenarioId
  /** plugin / limit. */
  pluginVsLimit: Ratio
  /** plugin / @fastify/session + connect-dynamodb. */
  pluginVsAlternative: Ratio
  /** plugin with transport: 'sdk' / limit. */
  sdkTransportVsLimit: Ratio
  /** floor (the HTTP work alone) / limit: the least the plugin's ratio could be with a transport that cost nothing. */
  floorVsLimit: Ratio
}

/** One of the figures the fast transport is held to, with this run's value. */
export interface TransportTarget {
  scenario: ScenarioId
  /** plugin / `versus`, of this figure. */
  figure: 'cpuMicrosPerRequest' | 'requestsPerSecond'
  versus: ContestantId
  /** 'max': the ratio must not exceed `limit`; 'min': it must reach it. */
  bound: 'max' | 'min'
  limit: number
  /** null when a contestant or scenario was not part of the run. */
  actual: number | null
  met: boolean | null
}

/** Where one contestant's app spent its CPU over the run (from its --cpu-prof profile). */
export interface ProfileSummary {
  contestant: ContestantId
  /** Sampled time, idle excluded, in milliseconds. */
  busyMs: number
  /** Self time by package (or node internals, GC, the library's own code), largest first, in % of busyMs. */
  packages: Array<{ name: string, percent: number }>
  /** The functions with the most self time. */
  functions: Array<{ name: string, where: string, percent: number }>
}

export interface ReaperResult extends ReaperCase {
  expiredRows: number
  scanned: number
  deleted: number
  conflicts: number
  seconds: number
  rowsDeletedPerSecond: number
  /** As the reaper reported them (ConsumedCapacity of its own calls). */
  readUnits: number
  writeUnits: number
  /** What the counting proxy saw for the pass, as a cross-check. */
  dynamoCalls: Record<string, number>
  /** How long the same pass would take under the reaper's default capacity caps, in seconds. */
  secondsAtDefaultCaps: number
}

export interface ReaperSection {
  status: 'ok' | 'unavailable' | 'failed'
  message?: string
  defaultCaps?: { maxReadUnitsPerSecond: number, maxWriteUnitsPerSecond: number }
  results: ReaperResult[]
}

export interface BenchResult {
  schemaVersion: number
  mode: Mode
  startedAt: string
  finishedAt: string
  machine: Machine
  settings: Settings
  contestants: Array<{ id: ContestantId, label: string, description: string }>
  scenarios: Array<{ id: ScenarioId, label: string, description: string }>
  requests: RequestResult[]
  ratios: ScenarioRatios[]
  /** The fast transport's targets against this run's figures. */
  targets: TransportTarget[]
  /** Present when the run profiled contestants (--profile). */
  profiles?: ProfileSummary[]
  reaper: ReaperSection
}

export function machineInfo (): Machine {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: os.platform(),
    arch: os.arch(),
    totalMemoryMiB: Math.round(os.totalmem() / 1024 / 1024),
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100
  }
}

/** Per-request DynamoDB figures from the proxy's counters for one run. */
export function perRequest (counters: Counters, requests: number): DynamoPerRequest {
  let calls = 0
  let readUnits = 0
  let writeUnits = 0
  let reported = 0
  let estimated = 0
  const callsByOperation: Record<string, number> = {}
  for (const [op, c] of Object.entries(counters)) {
    calls += c.calls
    readUnits += c.readUnits
    writeUnits += c.writeUnits
    reported += c.reportedCalls
    estimated += c.estimatedCalls
    callsByOperation[op] = requests > 0 ? c.calls / requests : 0
  }
  const per = (n: number): number => requests > 0 ? n / requests : 0
  return {
    calls: per(calls),
    readUnits: per(readUnits),
    writeUnits: per(writeUnits),
    callsByOperation,
    unitsSource: calls === 0 ? 'none' : estimated === 0 ? 'reported' : reported === 0 ? 'estimated' : 'mixed'
  }
}

export function median (values: readonly number[]): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/**
 * One contestant × scenario over its rounds: throughput and latency percentiles are medians of the rounds (robust
 * to one disturbed round on a shared machine); per-request costs are totals over all rounds divided by all requests.
 */
export function combineRounds (contestant: ContestantId, scenario: ScenarioId, rounds: readonly Round[]): RequestResult {
  const sum = (f: (r: Round) => number): number => rounds.reduce((acc, r) => acc + f(r), 0)
  const requests = sum((r) => r.requests)
  const completed = sum((r) => r.completed)
  const totals = sumCounters(rounds.map((r) => r.counters))
  return {
    contestant,
    scenario,
    requests,
    completed,
    seconds: sum((r) => r.seconds),
    requestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
    latencyMs: {
      p50: median(rounds.map((r) => r.latencyMs.p50)),
      p99: median(rounds.map((r) => r.latencyMs.p99)),
      mean: completed > 0 ? sum((r) => r.latencyMs.mean * r.completed) / completed : 0
    },
    failures: sum((r) => r.failures),
    cpuMicrosPerRequest: requests > 0 ? sum((r) => r.cpuMicros) / requests : 0,
    databaseCpuMicrosPerRequest: requests > 0 ? sum((r) => r.databaseCpuMicros) / requests : 0,
    loadGeneratorCpuMicrosPerRequest: requests > 0 ? sum((r) => r.loadGeneratorCpuMicros) / requests : 0,
    dynamo: perRequest(totals, requests),
    dynamoTotals: totals,
    rounds: rounds.map(({ counters: _c, cpuMicros, databaseCpuMicros: _d, loadGeneratorCpuMicros: _l, ...r }) =>
      ({ ...r, cpuMicrosPerRequest: r.requests > 0 ? cpuMicros / r.requests : 0 }))
  }
}

function ratio (a: number, b: number): number | null {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return null
  if (b === 0) return a === 0 ? 1 : null
  return a / b
}

function compare (a: RequestResult | undefined, b: RequestResult | undefined): Ratio {
  if (a === undefined || b === undefined) {
    return {
      requestsPerSecond: null,
      cpuMicrosPerRequest: null,
      latencyP99: null,
      dynamoCallsPerRequest: null,
      capacityUnitsPerRequest: null
    }
  }
  return {
    requestsPerSecond: ratio(a.requestsPerSecond, b.requestsPerSecond),
    cpuMicrosPerRequest: ratio(a.cpuMicrosPerRequest, b.cpuMicrosPerRequest),
    latencyP99: ratio(a.latencyMs.p99, b.latencyMs.p99),
    dynamoCallsPerRequest: ratio(a.dynamo.calls, b.dynamo.calls),
    capacityUnitsPerRequest: ratio(a.dynamo.readUnits + a.dynamo.writeUnits, b.dynamo.readUnits + b.dynamo.writeUnits)
  }
}

/** plugin / limit and plugin / alternative for each scenario, from the results of one run. */
export function computeRatios (results: readonly RequestResult[], scenarios: readonly ScenarioId[]): ScenarioRatios[] {
  const find = (c: ContestantId, s: ScenarioId): RequestResult | undefined => results.find((r) => r.contestant === c && r.scenario === s)
  return scenarios.map((scenario) => ({
    scenario,
    pluginVsLimit: compare(find('plugin', scenario), find(BASELINE, scenario)),
    pluginVsAlternative: compare(find('plugin', scenario), find(ALTERNATIVE, scenario)),
    sdkTransportVsLimit: compare(find(SDK_TRANSPORT, scenario), find(BASELINE, scenario)),
    floorVsLimit: compare(find(FLOOR, scenario), find(BASELINE, scenario))
  }))
}

/**
 * The fast transport's goals: the plugin's app CPU per request at most 0.4× the raw-GetItem route's when reading a
 * session and 0.5× when changing one or logging in, and reading sessions at twice @fastify/session +
 * connect-dynamodb's throughput.
 */
const TARGETS: ReadonlyArray<Pick<TransportTarget, 'scenario' | 'figure' | 'versus' | 'bound' | 'limit'>> = [
  { scenario: 'read', figure: 'cpuMicrosPerRequest', versus: BASELINE, bound: 'max', limit: 0.4 },
  { scenario: 'change', figure: 'cpuMicrosPerRequest', versus: BASELINE, bound: 'max', limit: 0.5 },
  { scenario: 'login', figure: 'cpuMicrosPerRequest', versus: BASELINE, bound: 'max', limit: 0.5 },
  { scenario: 'read', figure: 'requestsPerSecond', versus: ALTERNATIVE, bound: 'min', limit: 2 }
]

/** The targets, checked against the ratios of one run; at a fixed offered load throughput is not measured. */
export function transportTargets (ratios: readonly ScenarioRatios[], fixedRate = false): TransportTarget[] {
  return TARGETS.map((target) => {
    const row = ratios.find((r) => r.scenario === target.scenario)
    const ratio = target.versus === BASELINE ? row?.pluginVsLimit : row?.pluginVsAlternative
    const actual = fixedRate && target.figure === 'requestsPerSecond' ? null : ratio?.[target.figure] ?? null
    const met = actual === null ? null : target.bound === 'max' ? actual <= target.limit : actual >= target.limit
    return { ...target, actual, met }
  })
}
