// npm run bench:reaper [-- --large] [--quick] [--lag-seconds s] [--budget-seconds s] [--out dir] [--render]
import { join } from 'node:path'
import { UsageError, columns, flagRows, parseFlags, type FlagSpecs, type Flags } from '../src/cli/flags.js'
import { DEFAULT_BUCKET_SECONDS } from '../src/options.js'
import { killAllChildren } from './children.js'
import { updateCostDocs } from './cost-docs.js'
import { checkTargets } from './cost-model.js'
import { readCostResults, runCostBench, type CostKind, type CostPart } from './cost-runner.js'
import { COST_SETTINGS, lagSpecs } from './reaper-cost.js'
import { repoRoot } from './runner.js'

const FLAGS: FlagSpecs = {
  large: { type: 'boolean', description: '1M rows (and 100k again for the duration target); ~2.5 GB of dynalite memory' },
  quick: { type: 'boolean', description: 'tiny tables and short lag runs: checks the harness; writes to the temp directory unless --out' },
  'lag-seconds': { type: 'string', arg: 's', description: 'length of the steady churn run (default 300)' },
  'budget-seconds': { type: 'string', arg: 's', description: 'length of the default-budget and budget-bound churn runs (default 90)' },
  only: {
    type: 'string',
    arg: 'parts',
    description: 'passes, census, amplification, lag: measure these only, keep the rest of the results file'
  },
  out: { type: 'string', arg: 'dir', description: 'where reaper-cost.json / reaper-cost-large.json go (default bench/results)' },
  render: { type: 'boolean', description: 'measure nothing: rewrite docs/reaper.md\'s cost section from the results files' },
  help: { type: 'boolean', description: 'show this help' }
}

const USAGE = `usage: npm run bench:reaper [-- options]\n${columns(flagRows(FLAGS))}`

function settingsOf (flags: Flags, kind: CostKind | 'quick'): typeof COST_SETTINGS.normal {
  const base = COST_SETTINGS[kind]
  const steady = flags.integer('lag-seconds', { min: 1 })
  const budget = flags.integer('budget-seconds', { min: 1 })
  if (base.lag.length === 0 || (steady === undefined && budget === undefined)) return base
  const [s, b] = base.lag
  return { ...base, lag: lagSpecs(steady ?? s?.seconds ?? 300, budget ?? b?.seconds ?? 90) }
}

/** Prints the targets and rewrites docs/reaper.md from every results file in `outDir`; only for bench/results. */
function publish (outDir: string): void {
  const results = readCostResults(outDir)
  for (const t of checkTargets(results, DEFAULT_BUCKET_SECONDS)) {
    console.log(`target ${t.met === null ? 'not measured' : t.met ? 'met' : 'NOT MET'}: ${t.name}: ${t.detail}`)
  }
  if (outDir === join(repoRoot(), 'bench', 'results')) {
    updateCostDocs(join(repoRoot(), 'docs', 'reaper.md'), results)
    console.log('docs/reaper.md: cost section updated')
  }
}

async function main (): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), FLAGS)
  if (flags.on('help')) {
    console.log(USAGE)
    return 0
  }
  const outDir = flags.text('out') ?? join(repoRoot(), 'bench', 'results')
  if (flags.on('render')) {
    publish(outDir)
    return 0
  }
  const kind: CostKind = flags.on('large') ? 'large' : 'normal'
  if (flags.on('quick') && flags.text('out') === undefined) throw new UsageError('--quick writes tiny figures: give it an --out directory')
  const only = flags.list<CostPart>('only', ['passes', 'census', 'amplification', 'lag'])
  const settings = settingsOf(flags, flags.on('quick') ? 'quick' : kind)
  await runCostBench({ kind, settings, outDir, ...(only === undefined ? {} : { only }) })
  publish(outDir)
  return 0
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping the child processes`)
    killAllChildren()
    process.exit(130)
  })
}

main().then((code) => { process.exitCode = code }, (err: Error) => {
  if (err instanceof UsageError) {
    console.error(`bench: ${err.message}\n${USAGE}`)
    process.exitCode = 2
    return
  }
  console.error(err.stack ?? err.message)
  killAllChildren()
  process.exitCode = 1
})
