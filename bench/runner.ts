import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { ensureSessionTable } from '../src/store/table.js'
import { benchFile, startChild, type Child } from './children.js'
import {
  CONTESTANTS,
  SCENARIOS,
  SETTINGS,
  type Contestant,
  type ContestantId,
  type Mode,
  type Scenario,
  type ScenarioId,
  type Settings
} from './config.js'
import type { AppContext } from './contestants/context.js'
import type { AppInfo } from './app-server.js'
import type { DynamoInfo } from './dynamo-server.js'
import { runLoad, type LoadSpec } from './load.js'
import { renderMarkdown } from './markdown.js'
import { readProfile } from './profile.js'
import { diffCounters, type Counters } from './proxy.js'
import { runReaperBench } from './reaper.js'
import {
  SCHEMA_VERSION,
  combineRounds,
  computeRatios,
  machineInfo,
  transportTargets,
  type BenchResult,
  type ProfileSummary,
  type ReaperSection,
  type RequestResult,
  type Round
} from './results.js'
import { renderSvg } from './svg.js'

export type Section = 'requests' | 'reaper'

export interface BenchOptions {
  mode: Mode
  /** Where latest.json, latest.md and latest.svg go. Defaults to bench/results. */
  outDir?: string
  sections?: readonly Section[]
  contestants?: readonly ContestantId[]
  scenarios?: readonly ScenarioId[]
  /** Changes to the mode's settings (the smoke test uses tiny durations). */
  overrides?: Partial<Settings>
  /** Contestants whose app runs with --cpu-prof; profiles go to PROFILE_DIR. */
  profile?: readonly ContestantId[]
  /** Node flags and environment of the child processes. Default to this process's. */
  childExecArgv?: string[]
  childEnv?: NodeJS.ProcessEnv
  log?: (message: string) => void
}

/** Where --profile writes `<contestant>.cpuprofile` (open it in Chrome DevTools or speedscope). */
export const PROFILE_DIR = join(tmpdir(), 'fastify-dynamo-session-bench-profiles')

// Signs the contestants' cookies; long enough for every library's check.
const SECRET = 'bench-secret-that-is-long-enough-for-every-library'

/** The repository root: the nearest directory above this file whose package.json is this package's. */
export function repoRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    const name =
      existsSync(pkg) ? (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name : undefined
    if (name === 'fastify-dynamo-session') return dir
    const parent = dirname(dir)
    if (parent === dir) {
      throw new Error('bench: cannot find the fastify-dynamo-session package root above ' + fileURLToPath(import.meta.url))
    }
    dir = parent
  }
}

function directClient (endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } })
}

/** Logs in `count` times over HTTP and returns the session cookies (`name=value`). */
async function createSessions (port: number, count: number): Promise<string[]> {
  const cookies: string[] = []
  for (let i = 0; i < count; i++) {
    const res = await fetch(
      `http://127.0.0.1:${port}/login`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }
    )
    const setCookie = res.headers.getSetCookie()[0]
    await res.arrayBuffer()
    if (res.status !== 200 || setCookie === undefined) throw new Error(`bench: login answered ${res.status} without a cookie`)
    cookies.push(setCookie.slice(0, setCookie.indexOf(';') === -1 ? undefined : setCookie.indexOf(';')))
  }
  return cookies
}

interface CpuUsage { user: number, system: number }

function cpuDelta (after: CpuUsage, before: CpuUsage): number {
  return (after.user - before.user) + (after.system - before.system)
}

function totalCalls (counters: Counters): number {
  return Object.values(counters).reduce((sum, c) => sum + c.calls, 0)
}

/**
 * Waits until requests that were in flight when autocannon stopped have finished (the proxy's call count holds still
 * for 200 ms, 5 s at most), so that their calls and CPU land with the run that sent them.
 */
async function settle (dynamo: Child<DynamoInfo>): Promise<Counters> {
  let last = await dynamo.call<Counters>('counters')
  let still = 0
  for (let i = 0; i < 50 && still < 2; i++) {
    await sleep(100)
    const now = await dynamo.call<Counters>('counters')
    still = totalCalls(now) === totalCalls(last) ? still + 1 : 0
    last = now
  }
  return last
}

async function measureOnce (
  app: Child<AppInfo>,
  dynamo: Child<DynamoInfo>,
  spec: Omit<LoadSpec, 'durationSeconds'>,
  seconds: number
): Promise<Round> {
  // Requests left in flight by the warm-up or the previous run must not land in this one.
  const countersBefore = await settle(dynamo)
  const cpuBefore = await app.call<CpuUsage>('cpu')
  const dbBefore = await dynamo.call<CpuUsage>('cpu')
  const runnerBefore = process.cpuUsage()
  const load = await runLoad({ ...spec, durationSeconds: seconds })
  const countersAfter = await settle(dynamo)
  const cpuAfter = await app.call<CpuUsage>('cpu')
  const dbAfter = await dynamo.call<CpuUsage>('cpu')
  const runner = process.cpuUsage(runnerBefore)
  return {
    requests: load.sent,
    completed: load.completed,
    seconds: load.seconds,
    requestsPerSecond: load.requestsPerSecond,
    latencyMs: load.latencyMs,
    failures: load.failures,
    cpuMicros: cpuDelta(cpuAfter, cpuBefore),
    databaseCpuMicros: cpuDelta(dbAfter, dbBefore),
    loadGeneratorCpuMicros: runner.user + runner.system,
    counters: diffCounters(countersAfter, countersBefore)
  }
}

function rotate<T> (list: readonly T[], by: number): T[] {
  const k = list.length === 0 ? 0 : by % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

/** Creates the tables of the contestants that keep sessions in DynamoDB (through the uncounted endpoint). */
async function createContestantTables (dynamo: Child<DynamoInfo>, contestants: readonly Contestant[]): Promise<void> {
  const client = directClient(dynamo.info.direct)
  try {
    for (const c of contestants) {
      if (c.tableName !== undefined) await ensureSessionTable(client, { tableName: c.tableName })
    }
  } finally {
    client.destroy()
  }
}

/** Starts one contestant's app in its own process, with a CPU profile when asked. */
async function startApp (dynamo: Child<DynamoInfo>, c: Contestant, settings: Settings, options: BenchOptions): Promise<Child<AppInfo>> {
  const log = options.log ?? console.log
  const ctx: AppContext & { contestant: string } = {
    contestant: c.id, endpoint: dynamo.info.counted, tableName: c.tableName ?? '', secret: SECRET, ttlSeconds: settings.ttlSeconds
  }
  const execArgv = [...(options.childExecArgv ?? process.execArgv)]
  if (options.profile?.includes(c.id) === true) {
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${c.id}.cpuprofile`)
    log(`  ${c.label}: CPU profile to ${join(PROFILE_DIR, `${c.id}.cpuprofile`)}`)
  }
  return await startChild<AppInfo>(benchFile('app-server'), {
    execArgv, env: { ...(options.childEnv ?? process.env), BENCH_APP_CONTEXT: JSON.stringify(ctx) }
  })
}

/** The progress line of one measured round. */
function roundLine (prefix: string, s: Scenario, c: Contestant, r: Round): string {
  const calls = Object.values(r.counters).reduce((sum, x) => sum + x.calls, 0)
  const cpuPerRequest = (r.requests > 0 ? r.cpuMicros / r.requests : 0).toFixed(0)
  const callsPerRequest = (r.requests > 0 ? calls / r.requests : 0).toFixed(2)
  return `  ${prefix}${s.label.padEnd(15)} ${c.label.padEnd(38)} ` +
    `${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  p99 ${r.latencyMs.p99} ms  ` +
    `${cpuPerRequest} µs CPU/req  ${callsPerRequest} calls/req` +
    (r.failures > 0 ? `  ${r.failures} FAILED` : '')
}

async function runRequestSection (
  dynamo: Child<DynamoInfo>, contestants: readonly Contestant[], scenarios: readonly Scenario[], settings: Settings, options: BenchOptions
): Promise<RequestResult[]> {
  const log = options.log ?? console.log
  await createContestantTables(dynamo, contestants)
  // Every app runs from the start (idle ones cost nothing), so contestants can take turns within a scenario.
  const apps = new Map<ContestantId, Child<AppInfo>>()
  const pools = new Map<ContestantId, string[]>()
  const rounds = new Map<string, Round[]>()
  try {
    for (const c of contestants) apps.set(c.id, await startApp(dynamo, c, settings, options))
    for (let round = 0; round < settings.rounds; round++) {
      for (const s of scenarios) {
        for (const c of rotate(contestants, round)) {
          const app = apps.get(c.id) as Child<AppInfo>
          let cookies: string[] = []
          if (s.withSession) {
            cookies = pools.get(c.id) ?? await createSessions(app.info.port, settings.sessionPool)
            pools.set(c.id, cookies)
          }
          const { connections, rate } = settings
          const spec = { port: app.info.port, method: s.method, path: s.path, cookies, connections, rate }
          if (round === 0 && settings.warmupSeconds > 0) await runLoad({ ...spec, durationSeconds: settings.warmupSeconds })
          const r = await measureOnce(app, dynamo, spec, settings.durationSeconds)
          const key = `${c.id}/${s.id}`
          rounds.set(key, [...(rounds.get(key) ?? []), r])
          log(roundLine(settings.rounds > 1 ? `round ${round + 1}  ` : '', s, c, r))
        }
      }
    }
  } finally {
    await Promise.all([...apps.values()].map(async (app) => await app.stop()))
  }
  const results: RequestResult[] = []
  for (const s of scenarios) {
    for (const c of contestants) results.push(combineRounds(c.id, s.id, rounds.get(`${c.id}/${s.id}`) ?? []))
  }
  return results
}

export function writeAtomic (path: string, content: string): void {
  writeFileSync(path + '.tmp', content)
  renameSync(path + '.tmp', path)
}

/** Writes latest.json, latest.md and latest.svg into `outDir`. */
export function writeResults (result: BenchResult, outDir: string): { json: string, markdown: string, svg: string } {
  mkdirSync(outDir, { recursive: true })
  const paths = { json: join(outDir, 'latest.json'), markdown: join(outDir, 'latest.md'), svg: join(outDir, 'latest.svg') }
  writeAtomic(paths.json, JSON.stringify(result, null, 2) + '\n')
  writeAtomic(paths.markdown, renderMarkdown(result))
  writeAtomic(paths.svg, renderSvg(result))
  return paths
}

/** The reaper section; a failure is recorded in it, so the request results are still written. */
async function runReaperSection (dynamo: Child<DynamoInfo>, settings: Settings, options: BenchOptions): Promise<ReaperSection> {
  const log = options.log ?? console.log
  try {
    return await runReaperBench(dynamo, settings, {
      execArgv: options.childExecArgv ?? process.execArgv,
      env: options.childEnv ?? process.env,
      log
    })
  } catch (err) {
    log(`  reaper section failed: ${(err as Error).message}`)
    return { status: 'failed', message: (err as Error).message, results: [] }
  }
}

/** Summaries of the profiles the run's apps wrote (they write them when they exit). */
function profileSummaries (contestants: readonly Contestant[], options: BenchOptions): ProfileSummary[] {
  const profiled = contestants.filter((c) => options.profile?.includes(c.id) === true)
  return profiled.map((c) => readProfile(c.id, join(PROFILE_DIR, `${c.id}.cpuprofile`)))
}

interface Measured {
  mode: Mode
  startedAt: string
  machine: BenchResult['machine']
  settings: Settings
  contestants: readonly Contestant[]
  scenarios: readonly Scenario[]
  requests: RequestResult[]
  profiles: ProfileSummary[]
  reaper: ReaperSection
}

/** latest.json's content: what was measured, with the ratios and targets computed from it. */
function assemble (m: Measured): BenchResult {
  const ratios = computeRatios(m.requests, m.scenarios.map((s) => s.id))
  return {
    schemaVersion: SCHEMA_VERSION,
    mode: m.mode,
    startedAt: m.startedAt,
    finishedAt: new Date().toISOString(),
    machine: m.machine,
    settings: m.settings,
    contestants: m.contestants.map(({ id, label, description }) => ({ id, label, description })),
    scenarios: m.scenarios.map(({ id, label, description }) => ({ id, label, description })),
    requests: m.requests,
    ratios,
    targets: transportTargets(ratios, m.settings.rate !== undefined),
    ...(m.profiles.length === 0 ? {} : { profiles: m.profiles }),
    reaper: m.reaper
  }
}

/** Runs the selected sections, writes the results and returns them. */
export async function runBench (options: BenchOptions): Promise<BenchResult> {
  const log = options.log ?? console.log
  const settings: Settings = { ...SETTINGS[options.mode], ...options.overrides }
  const outDir = options.outDir ?? join(repoRoot(), 'bench', 'results')
  const sections = options.sections ?? ['requests', 'reaper']
  const contestants = CONTESTANTS.filter((c) => options.contestants?.includes(c.id) ?? true)
  const scenarios = SCENARIOS.filter((s) => options.scenarios?.includes(s.id) ?? true)
  const startedAt = new Date().toISOString()
  const machine = machineInfo()
  log(`bench (${options.mode}): ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, load ${machine.loadAverage1m}`)

  const dynamo = await startChild<DynamoInfo>(
    benchFile('dynamo-server'),
    { execArgv: options.childExecArgv ?? process.execArgv, env: options.childEnv }
  )
  let requests: RequestResult[] = []
  let profiles: ProfileSummary[] = []
  let reaper: ReaperSection = { status: 'unavailable', message: 'not selected in this run', results: [] }
  try {
    if (sections.includes('requests')) {
      log('requests:')
      requests = await runRequestSection(dynamo, contestants, scenarios, settings, options)
      profiles = profileSummaries(contestants, options)
    }
    if (sections.includes('reaper')) {
      log('reaper:')
      reaper = await runReaperSection(dynamo, settings, options)
    }
  } finally {
    await dynamo.stop()
  }

  const result = assemble({ mode: options.mode, startedAt, machine, settings, contestants, scenarios, requests, profiles, reaper })
  const paths = writeResults(result, outDir)
  log(`results: ${paths.json}, ${paths.markdown}, ${paths.svg}`)
  return result
}
