// npm run bench [-- --quick] [--only requests|reaper] [--contestants a,b] [--scenarios a,b] [--rate req/s] [--profile plugin]
//   [--out dir] [--readme]
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError, columns, flagRows, parseFlags, type FlagSpecs, type Flags } from '../src/cli/flags.js'
import { killAllChildren } from './children.js'
import { CONTESTANTS, SCENARIOS, type ContestantId, type ScenarioId } from './config.js'
import { renderMarkdown } from './markdown.js'
import { updateReadme } from './readme.js'
import { SCHEMA_VERSION, type BenchResult } from './results.js'
import { repoRoot, runBench, writeResults, type Section } from './runner.js'

const FLAGS: FlagSpecs = {
  quick: { type: 'boolean', description: 'short run (under two minutes), same output shape' },
  only: { type: 'string', arg: 'section', description: 'requests or reaper (default: both)' },
  contestants: { type: 'string', arg: 'a,b', description: CONTESTANTS.map((c) => c.id).join(', ') },
  scenarios: { type: 'string', arg: 'a,b', description: SCENARIOS.map((s) => s.id).join(', ') },
  duration: { type: 'string', arg: 's', description: 'seconds per measured run (overrides the mode)' },
  warmup: { type: 'string', arg: 's', description: 'seconds of warm-up before the first run (overrides the mode)' },
  rounds: { type: 'string', arg: 'n', description: 'measured runs per contestant and scenario (overrides the mode)' },
  rate: { type: 'string', arg: 'req/s', description: 'offer this load to each contestant, not as fast as it goes (CPU at equal work)' },
  profile: { type: 'string', arg: 'a,b', description: 'run these contestants\' apps with --cpu-prof (profiles in the temp directory)' },
  out: { type: 'string', arg: 'dir', description: 'where latest.json/.md/.svg go (default bench/results)' },
  readme: { type: 'boolean', description: 'copy the Markdown tables into bench/README.md\'s results section' },
  render: { type: 'boolean', description: 'measure nothing: rewrite latest.md/.svg from <out>/latest.json' },
  help: { type: 'boolean', description: 'show this help' }
}

const USAGE = `usage: npm run bench [-- options]\n${columns(flagRows(FLAGS))}`

/** --render: rewrites the result files (and bench/README.md with --readme) from <out>/latest.json. */
function render (flags: Flags): number {
  const outDir = flags.text('out') ?? join(repoRoot(), 'bench', 'results')
  const result = JSON.parse(readFileSync(join(outDir, 'latest.json'), 'utf8')) as BenchResult
  if (result.schemaVersion !== SCHEMA_VERSION) {
    throw new Error(`latest.json has schema ${result.schemaVersion}, this runner writes ${SCHEMA_VERSION}`)
  }
  writeResults(result, outDir)
  if (flags.on('readme')) updateReadme(join(repoRoot(), 'bench', 'README.md'), renderMarkdown(result))
  return 0
}

async function main (): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), FLAGS)
  if (flags.on('help')) {
    console.log(USAGE)
    return 0
  }
  if (flags.on('render')) return render(flags)
  const ids = CONTESTANTS.map((c) => c.id)
  const duration = flags.number('duration', { min: 0 })
  const warmup = flags.number('warmup', { min: 0 })
  const rounds = flags.integer('rounds', { min: 1 })
  const rate = flags.number('rate', { min: 1 })
  const out = flags.text('out')
  const sections = flags.list<Section>('only', ['requests', 'reaper'])
  const result = await runBench({
    mode: flags.on('quick') ? 'quick' : 'full',
    ...(out === undefined ? {} : { outDir: out }),
    ...(sections === undefined ? {} : { sections }),
    contestants: flags.list<ContestantId>('contestants', ids),
    scenarios: flags.list<ScenarioId>('scenarios', SCENARIOS.map((s) => s.id)),
    profile: flags.list<ContestantId>('profile', ids),
    overrides: {
      ...(duration === undefined ? {} : { durationSeconds: duration }),
      ...(warmup === undefined ? {} : { warmupSeconds: warmup }),
      ...(rounds === undefined ? {} : { rounds }),
      ...(rate === undefined ? {} : { rate })
    }
  })
  if (flags.on('readme')) {
    updateReadme(join(repoRoot(), 'bench', 'README.md'), renderMarkdown(result))
    console.log('bench/README.md: benchmark tables updated')
  }
  let code = 0
  const failed = result.requests.filter((r) => r.failures > 0)
  if (failed.length > 0) {
    console.error(`bench: ${failed.length} run(s) had failed requests (non-2xx, errors or timeouts); their figures are not sound`)
    code = 1
  }
  if (flags.text('only') !== 'requests' && result.reaper.status !== 'ok') {
    console.error(`bench: reaper section ${result.reaper.status}: ${result.reaper.message ?? ''}`)
    code = 1
  }
  return code
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
