import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { benchFile, startChild } from './children.js'
import { COST_SCHEMA_VERSION, type CensusRun, type ReaperCostResult } from './cost-model.js'
import type { DynamoInfo } from './dynamo-server.js'
import { COST_SETTINGS, measureAmplification, runCostCases, runLag, type CostSettings } from './reaper-cost.js'
import { machineInfo } from './results.js'
import { writeAtomic } from './runner.js'

export type CostKind = ReaperCostResult['kind']

export interface CostBenchOptions {
  kind: CostKind
  /** Defaults to COST_SETTINGS[kind]. */
  settings?: CostSettings
  /** Where reaper-cost.json (or reaper-cost-large.json) goes. */
  outDir: string
  childExecArgv?: string[]
  childEnv?: NodeJS.ProcessEnv
  log?: (message: string) => void
  /** Measure these parts only, keeping the others from the existing results file. Defaults to all. */
  only?: readonly CostPart[]
}

export type CostPart = 'passes' | 'census' | 'amplification' | 'lag'

/** Censuses per table size: each reads the next segments, so their errors are independent. */
export const CENSUSES_PER_SIZE = 4

export function costResultsFile (outDir: string, kind: CostKind): string {
  return join(outDir, kind === 'large' ? 'reaper-cost-large.json' : 'reaper-cost.json')
}

/** The results files present in `outDir`, normal run first. */
export function readCostResults (outDir: string): ReaperCostResult[] {
  const results: ReaperCostResult[] = []
  for (const kind of ['normal', 'large'] as const) {
    const file = costResultsFile(outDir, kind)
    if (!existsSync(file)) continue
    const result = JSON.parse(readFileSync(file, 'utf8')) as ReaperCostResult
    if (result.schemaVersion !== COST_SCHEMA_VERSION) {
      throw new Error(`${file} has schema ${result.schemaVersion}, this runner writes ${COST_SCHEMA_VERSION}`)
    }
    results.push(result)
  }
  return results
}

/** A result to fill: empty, or with `only`, the existing file's with the parts to measure emptied. */
function startResult (options: CostBenchOptions, runs: (part: CostPart) => boolean): ReaperCostResult {
  const previous = options.only === undefined ? undefined : readCostResults(options.outDir).find((r) => r.kind === options.kind)
  const startedAt = new Date().toISOString()
  return {
    schemaVersion: COST_SCHEMA_VERSION,
    kind: options.kind,
    startedAt: previous?.startedAt ?? startedAt,
    finishedAt: startedAt,
    machine: previous?.machine ?? machineInfo(),
    cases: runs('passes') ? [] : previous?.cases ?? [],
    census: runs('census') ? [] : previous?.census ?? [],
    amplification: runs('amplification') ? [] : previous?.amplification ?? [],
    lag: runs('lag') ? [] : previous?.lag ?? []
  }
}

async function measureRefreshes (endpoint: string, settings: CostSettings, result: ReaperCostResult, write: () => void): Promise<void> {
  const refreshes = settings.amplification
  if (refreshes === false) return
  for (const bucketSeconds of refreshes.bucketSeconds) {
    const a = await measureAmplification(endpoint, bucketSeconds, refreshes.sessions, refreshes.rounds)
    result.amplification.push(a)
    write()
  }
}

/** The passes of both strategies at each size, then the amplification and lag runs; writes and returns the result. */
export async function runCostBench (options: CostBenchOptions): Promise<ReaperCostResult> {
  const log = options.log ?? console.log
  const settings = options.settings ?? COST_SETTINGS[options.kind]
  const runs = (part: CostPart): boolean => options.only?.includes(part) ?? true
  const result = startResult(options, runs)
  const m = result.machine
  log(`reaper cost bench (${options.kind}): ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, load ${m.loadAverage1m}`)
  const execArgv = options.childExecArgv ?? process.execArgv
  const env = options.childEnv ?? process.env
  const dynamo = await startChild<DynamoInfo>(benchFile('dynamo-server'), { execArgv, env })
  // Written after every step too, so that a long run stopped midway keeps what it measured.
  const write = (): void => {
    result.finishedAt = new Date().toISOString()
    mkdirSync(options.outDir, { recursive: true })
    writeAtomic(costResultsFile(options.outDir, options.kind), JSON.stringify(result, null, 2) + '\n')
  }
  try {
    if (runs('passes') || runs('census')) {
      log(runs('passes') ? 'passes:' : 'censuses:')
      // Without passes, each size is loaded for its censuses only.
      const sizes = runs('passes') ? settings.sizes : settings.sizes.map((size) => ({ ...size, fractions: [] }))
      const done = (run: CensusRun): void => { result.census = [...result.census ?? [], run]; write() }
      const census = runs('census') ? { count: CENSUSES_PER_SIZE, done } : undefined
      await runCostCases(dynamo, { ...settings, sizes }, {
        execArgv, env, log, onCase: (cases) => { result.cases = [...cases]; write() }, ...(census === undefined ? {} : { census })
      })
    }
    if (runs('amplification')) {
      log('index writes per refresh:')
      await measureRefreshes(dynamo.info.direct, settings, result, write)
      for (const a of result.amplification) {
        log(`  bucketSeconds ${a.bucketSeconds}: ${a.indexWritesPerRefresh.toFixed(3)} per refresh (model ${a.modelPerRefresh.toFixed(3)})`)
      }
    }
    for (const spec of runs('lag') ? settings.lag : []) {
      log(`lag (${spec.label}, ${spec.seconds} s):`)
      result.lag.push(await runLag(dynamo.info.direct, spec, log))
      write()
    }
    write()
    return result
  } finally {
    await dynamo.stop()
  }
}
