// npm run bench [-- --quick] [--only requests|reaper] [--contestants a,b] [--scenarios a,b] [--profile plugin] [--out dir] [--readme]
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { killAllChildren } from './children.js'
import { CONTESTANTS, SCENARIOS, type ContestantId, type ScenarioId } from './config.js'
import { renderMarkdown } from './markdown.js'
import { updateReadme } from './readme.js'
import { SCHEMA_VERSION, type BenchResult } from './results.js'
import { repoRoot, runBench, writeResults, type Section } from './runner.js'

const USAGE = `usage: npm run bench [-- options]
  --quick                  short run (under two minutes), same output shape
  --only <section>         requests or reaper (default: both)
  --contestants <a,b>      ${CONTESTANTS.map((c) => c.id).join(', ')}
  --scenarios <a,b>        ${SCENARIOS.map((s) => s.id).join(', ')}
  --duration <s>           seconds per measured run (overrides the mode)
  --warmup <s>             seconds of warm-up before the first run (overrides the mode)
  --rounds <n>             measured runs per contestant and scenario (overrides the mode)
  --profile <a,b>          run these contestants' apps with --cpu-prof (profiles in the temp directory)
  --out <dir>              where latest.json/.md/.svg go (default bench/results)
  --readme                 copy the Markdown tables into README.md's benchmark section
  --render                 measure nothing: rewrite latest.md/.svg from <out>/latest.json`

function list<T extends string> (value: string | undefined, allowed: readonly T[], name: string): T[] | undefined {
  if (value === undefined) return undefined
  const items = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`--${name}: unknown ${item}; expected ${allowed.join(', ')}`)
  }
  return items as T[]
}

function seconds (value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a number of seconds, got ${value}`)
  return n
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      contestants: { type: 'string' },
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      profile: { type: 'string' },
      out: { type: 'string' },
      readme: { type: 'boolean', default: false },
      render: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help === true) {
    console.log(USAGE)
    return 0
  }
  if (values.render === true) {
    const outDir = values.out ?? join(repoRoot(), 'bench', 'results')
    const result = JSON.parse(readFileSync(join(outDir, 'latest.json'), 'utf8')) as BenchResult
    if (result.schemaVersion !== SCHEMA_VERSION) throw new Error(`latest.json has schema ${result.schemaVersion}, this runner writes ${SCHEMA_VERSION}`)
    writeResults(result, outDir)
    if (values.readme === true) updateReadme(join(repoRoot(), 'README.md'), renderMarkdown(result))
    return 0
  }
  const ids = CONTESTANTS.map((c) => c.id)
  const duration = seconds(values.duration, 'duration')
  const warmup = seconds(values.warmup, 'warmup')
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds)
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds: expected a positive integer, got ${values.rounds}`)
  const result = await runBench({
    mode: values.quick === true ? 'quick' : 'full',
    ...(values.out === undefined ? {} : { outDir: values.out }),
    ...(values.only === undefined ? {} : { sections: list<Section>(values.only, ['requests', 'reaper'], 'only') }),
    contestants: list<ContestantId>(values.contestants, ids, 'contestants'),
    scenarios: list<ScenarioId>(values.scenarios, SCENARIOS.map((s) => s.id), 'scenarios'),
    profile: list<ContestantId>(values.profile, ids, 'profile'),
    overrides: {
      ...(duration === undefined ? {} : { durationSeconds: duration }),
      ...(warmup === undefined ? {} : { warmupSeconds: warmup }),
      ...(rounds === undefined ? {} : { rounds })
    }
  })
  if (values.readme === true) {
    updateReadme(join(repoRoot(), 'README.md'), renderMarkdown(result))
    console.log('README.md: benchmark tables updated')
  }
  let code = 0
  const failed = result.requests.filter((r) => r.failures > 0)
  if (failed.length > 0) {
    console.error(`bench: ${failed.length} run(s) had failed requests (non-2xx, errors or timeouts); their figures are not sound`)
    code = 1
  }
  if (values.only !== 'requests' && result.reaper.status !== 'ok') {
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
  console.error(err.stack ?? err.message)
  killAllChildren()
  process.exitCode = 1
})
