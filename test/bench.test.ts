import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runBench } from '../bench/runner.js'
import { CONTESTANTS, SCENARIOS, type ContestantId, type ScenarioId } from '../bench/config.js'
import { SCHEMA_VERSION, combineRounds, transportTargets, type BenchResult, type RequestResult, type Round, type ScenarioRatios } from '../bench/results.js'
import { packageOf, summarizeProfile } from '../bench/profile.js'
import { replaceBetween, replaceResults, START, END } from '../bench/readme.js'
import { COST_END, COST_START, PRICES, monthlyCost, renderCostMarkdown, unitRates } from '../bench/cost-docs.js'
import {
  COST_SCHEMA_VERSION,
  checkTargets,
  entryChange,
  indexWrites,
  modelWritesPerRefresh,
  percentile,
  type Amplification,
  censusFigures,
  type CensusRun,
  type CostCase,
  type LagRun,
  type ReaperCostResult
} from '../bench/cost-model.js'
import { readCostResults, runCostBench } from '../bench/cost-runner.js'
import { BENCH_INDEX, newSessionId, ROW_PAD_1KB, sessionItem } from '../bench/reaper.js'
import { shardOf } from '../src/store/expiry-index.js'
import { bucketOf } from '../src/expiry.js'
import { renderMarkdown } from '../bench/markdown.js'
import { runLoad } from '../bench/load.js'
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import { itemSize, readUnits, writeUnits, type WireItem } from '../bench/capacity.js'
import { DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND, DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND } from '../src/options.js'

// The harness, not the figures: tiny runs, and assertions only on shape and on what each contestant must do per
// request. No timing is asserted.

// Children run TypeScript through tap's loader, without tap's coverage hooks.
const childExecArgv = process.execArgv.filter((a) => a.includes('@tapjs/typescript') || a === '--enable-source-maps')
const childEnv = { ...process.env }
delete childEnv.NODE_OPTIONS

function find (result: BenchResult, contestant: ContestantId, scenario: ScenarioId): RequestResult {
  const r = result.requests.find((x) => x.contestant === contestant && x.scenario === scenario)
  if (r === undefined) throw new Error(`no result for ${contestant} / ${scenario}`)
  return r
}

/**
 * A total over a whole result, `expected` per request: every answered request added it, and no request added more. A
 * request in flight when autocannon stops counts as sent and may or may not have reached the app, so the total lies
 * between `expected` times the answered and times the sent requests, whatever the machine's load.
 */
function perRequest (t: Test, r: RequestResult, total: number, expected: number, message: string): void {
  t.ok(total >= expected * r.completed && total <= expected * r.requests,
    `${message}: ${total} for ${r.completed} answered of ${r.requests} sent requests, ${expected} per request`)
}

function callsPerRequest (t: Test, r: RequestResult, operation: string | undefined, expected: number, message: string): void {
  const calls = Object.entries(r.dynamoTotals).reduce((sum, [op, c]) => operation === undefined || op === operation ? sum + c.calls : sum, 0)
  perRequest(t, r, calls, expected, message)
}

function unitsPerRequest (t: Test, r: RequestResult, kind: 'readUnits' | 'writeUnits', expected: number, message: string): void {
  perRequest(t, r, Object.values(r.dynamoTotals).reduce((sum, c) => sum + c[kind], 0), expected, message)
}

t.test('quick mode with tiny durations writes JSON, Markdown and SVG of the same shape', async (t) => {
  const outDir = t.testdir()
  const logs: string[] = []
  const result = await runBench({
    mode: 'quick',
    outDir,
    overrides: { warmupSeconds: 0, durationSeconds: 1, sessionPool: 3, reaper: { rows: [200], expiredFractions: [0.5], segments: [1, 2] } },
    childExecArgv,
    childEnv,
    log: (m) => logs.push(m)
  })

  const json = JSON.parse(readFileSync(join(outDir, 'latest.json'), 'utf8')) as BenchResult
  t.strictSame(json, JSON.parse(JSON.stringify(result)), 'latest.json is the returned result')
  t.equal(json.schemaVersion, SCHEMA_VERSION)
  t.equal(json.mode, 'quick')
  t.equal(json.machine.node, process.version)
  t.ok(json.machine.cores > 0 && json.machine.cpuModel.length > 0, 'machine recorded')
  t.equal(json.settings.durationSeconds, 1, 'overrides recorded')
  t.strictSame(json.contestants.map((c) => c.id), CONTESTANTS.map((c) => c.id))
  t.strictSame(json.scenarios.map((s) => s.id), SCENARIOS.map((s) => s.id))
  t.equal(json.requests.length, CONTESTANTS.length * SCENARIOS.length, 'one result per contestant and scenario')
  for (const r of json.requests) {
    t.equal(r.failures, 0, `${r.contestant}/${r.scenario}: every request answered 2xx`)
    t.ok(r.requests > 0 && r.completed > 0 && r.requestsPerSecond > 0, `${r.contestant}/${r.scenario}: requests measured`)
    t.ok(r.cpuMicrosPerRequest > 0 && r.loadGeneratorCpuMicrosPerRequest > 0, `${r.contestant}/${r.scenario}: app and load generator CPU measured`)
    if (r.dynamo.calls > 0) t.ok(r.databaseCpuMicrosPerRequest > 0, `${r.contestant}/${r.scenario}: dynalite CPU measured`)
    t.ok(r.latencyMs.p99 >= r.latencyMs.p50, `${r.contestant}/${r.scenario}: latency percentiles`)
  }

  t.test('DynamoDB calls per request, as counted by the proxy', async (t) => {
    for (const c of CONTESTANTS) callsPerRequest(t, find(json, c.id, 'anonymous'), undefined, 0, `${c.id} anonymous`)
    for (const s of SCENARIOS) callsPerRequest(t, find(json, 'session-memory', s.id), undefined, 0, `memory store ${s.id}`)
    for (const c of ['limit', 'floor', 'plugin', 'plugin-sdk'] as const) {
      callsPerRequest(t, find(json, c, 'read'), 'GetItem', 1, `${c} read: one GetItem`)
      callsPerRequest(t, find(json, c, 'read'), undefined, 1, `${c} read: nothing else`)
      callsPerRequest(t, find(json, c, 'change'), 'UpdateItem', 1, `${c} change: one UpdateItem`)
      callsPerRequest(t, find(json, c, 'login'), 'PutItem', 1, `${c} login: one PutItem`)
    }
    // rolling: true rewrites the whole session on every response.
    callsPerRequest(t, find(json, 'session-dynamodb', 'read'), 'PutItem', 1, 'connect-dynamodb read: one PutItem')
    callsPerRequest(t, find(json, 'session-dynamodb', 'read'), 'GetItem', 1, 'connect-dynamodb read: one GetItem')
  })

  t.test('capacity units: reported where asked for, computed otherwise, and the computation agrees with DynamoDB', async (t) => {
    const plugin = find(json, 'plugin', 'read')
    t.equal(plugin.dynamo.unitsSource, 'reported')
    unitsPerRequest(t, plugin, 'readUnits', 0.5, 'plugin read: eventually consistent, half a unit')
    const alt = find(json, 'session-dynamodb', 'read')
    t.equal(alt.dynamo.unitsSource, 'estimated')
    unitsPerRequest(t, alt, 'readUnits', 1, 'connect-dynamodb reads strongly consistent')
    unitsPerRequest(t, alt, 'writeUnits', 1, 'connect-dynamodb writes one unit per read request')
    t.equal(find(json, 'session-memory', 'read').dynamo.unitsSource, 'none')
    for (const r of json.requests.filter((x) => ['plugin', 'plugin-sdk', 'limit', 'floor'].includes(x.contestant))) {
      for (const [op, c] of Object.entries(r.dynamoTotals)) {
        t.equal(c.reportedCalls, c.calls, `${r.contestant}/${r.scenario} ${op}: units reported by DynamoDB`)
        t.equal(c.shadowReadUnits, c.readUnits, `${r.contestant}/${r.scenario} ${op}: computed read units match`)
        t.equal(c.shadowWriteUnits, c.writeUnits, `${r.contestant}/${r.scenario} ${op}: computed write units match`)
      }
    }
  })

  t.test('ratios come from the same run', async (t) => {
    t.equal(json.ratios.length, SCENARIOS.length)
    const read = json.ratios.find((r) => r.scenario === 'read')
    const plugin = find(json, 'plugin', 'read')
    t.equal(read?.pluginVsLimit.requestsPerSecond, plugin.requestsPerSecond / find(json, 'limit', 'read').requestsPerSecond)
    t.equal(read?.pluginVsAlternative.requestsPerSecond, plugin.requestsPerSecond / find(json, 'session-dynamodb', 'read').requestsPerSecond)
    t.equal(read?.pluginVsAlternative.cpuMicrosPerRequest, plugin.cpuMicrosPerRequest / find(json, 'session-dynamodb', 'read').cpuMicrosPerRequest)
    t.equal(read?.sdkTransportVsLimit.cpuMicrosPerRequest, find(json, 'plugin-sdk', 'read').cpuMicrosPerRequest / find(json, 'limit', 'read').cpuMicrosPerRequest)
    t.equal(read?.floorVsLimit.cpuMicrosPerRequest, find(json, 'floor', 'read').cpuMicrosPerRequest / find(json, 'limit', 'read').cpuMicrosPerRequest)
    t.strictSame(json.targets, transportTargets(json.ratios, json.settings.rate !== undefined), 'targets checked against the same ratios')
  })

  t.test('reaper: one pass per case on a freshly loaded table', async (t) => {
    t.equal(json.reaper.status, 'ok', json.reaper.message ?? '')
    t.strictSame(json.reaper.results.map((r) => [r.rows, r.expiredFraction, r.segments]), [[200, 0.5, 1], [200, 0.5, 2]])
    for (const r of json.reaper.results) {
      t.equal(r.expiredRows, 100)
      t.equal(r.deleted, 100, `${r.segments} segment(s): every expired row deleted`)
      t.equal(r.scanned, 200, `${r.segments} segment(s): every row examined once`)
      t.equal(r.dynamoCalls.DeleteItem, 100, 'one conditional DeleteItem per expired row, seen by the proxy')
      t.ok((r.dynamoCalls.Scan ?? 0) >= r.segments, 'at least one Scan page per segment')
      t.ok(r.readUnits > 0 && r.writeUnits >= 100, 'units as the reaper reported them')
      t.equal(r.secondsAtDefaultCaps, Math.max(r.readUnits / DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND, r.writeUnits / DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND), 'time under the default caps')
    }
  })

  t.test('Markdown table', async (t) => {
    const md = readFileSync(join(outDir, 'latest.md'), 'utf8')
    t.match(md, json.machine.cpuModel, 'header names the CPU')
    t.match(md, `Node ${process.version}`, 'header names Node')
    t.match(md, '| scenario | contestant | req/s | p50 ms | p99 ms | app CPU µs/req | dynalite CPU µs/req | DynamoDB calls/req | read units/req | write units/req |')
    for (const s of SCENARIOS) {
      for (const c of CONTESTANTS) t.match(md, `| ${s.label} | ${c.label} |`, `row for ${c.id} / ${s.id}`)
    }
    t.match(md, '| read session | @fastify/session + connect-dynamodb |', 'ratio rows')
    t.match(md, '| scenario | limit (raw calls) µs | fast transport µs | ratio | sdk transport µs | ratio |', 'both transports\' CPU')
    t.match(md, '| read session | app CPU/req | limit (raw calls) | ≤ 0.4× |', 'the read target')
    t.match(md, '| rows | expired | segments | rows deleted | pass s | rows deleted/s | read units | write units | s at default caps |')
    t.match(md, '| 200 | 50% | 1 | 100 |', 'reaper row, one segment')
    t.match(md, '| 200 | 50% | 2 | 100 |', 'reaper row, two segments')
  })

  t.test('SVG chart', async (t) => {
    const svg = readFileSync(join(outDir, 'latest.svg'), 'utf8')
    t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    t.match(svg, /<\/svg>\n$/)
    t.equal(svg.match(/<rect [^>]*><title>/g)?.length, 2 * CONTESTANTS.length * SCENARIOS.length, 'one bar per result in each panel')
    for (const c of CONTESTANTS) t.match(svg, c.label.replace(/&/g, '&amp;'), `legend names ${c.id}`)
  })

  t.ok(logs.some((l) => l.includes('results:')), 'the runner reports where it wrote')
})

t.test('transport targets: CPU at most 0.4× (read) and 0.5× (change, login) the raw calls, read throughput 2× the alternative', async (t) => {
  const ratio = (cpu: number, rps: number) => ({ requestsPerSecond: rps, cpuMicrosPerRequest: cpu, latencyP99: 1, dynamoCallsPerRequest: 1, capacityUnitsPerRequest: 1 })
  const ratios: ScenarioRatios[] = [
    { scenario: 'read', pluginVsLimit: ratio(0.4, 1), pluginVsAlternative: ratio(0.3, 1.99), sdkTransportVsLimit: ratio(1, 1), floorVsLimit: ratio(0.3, 1) },
    { scenario: 'change', pluginVsLimit: ratio(0.51, 1), pluginVsAlternative: ratio(1, 1), sdkTransportVsLimit: ratio(1, 1), floorVsLimit: ratio(0.3, 1) }
  ]
  t.strictSame(transportTargets(ratios).map((x) => [x.scenario, x.figure, x.actual, x.met]), [
    ['read', 'cpuMicrosPerRequest', 0.4, true],
    ['change', 'cpuMicrosPerRequest', 0.51, false],
    ['login', 'cpuMicrosPerRequest', null, null],
    ['read', 'requestsPerSecond', 1.99, false]
  ])
  t.strictSame(transportTargets(ratios, true).map((x) => [x.scenario, x.figure, x.actual, x.met]), [
    ['read', 'cpuMicrosPerRequest', 0.4, true],
    ['change', 'cpuMicrosPerRequest', 0.51, false],
    ['login', 'cpuMicrosPerRequest', null, null],
    ['read', 'requestsPerSecond', null, null]
  ], 'at a fixed offered load every contestant answers the same rate: no throughput figure')
})

t.test('a fixed offered load: autocannon sends about that many requests a second, not as many as the app answers', async (t) => {
  const app = Fastify({ logger: false })
  app.get('/x', async () => ({ ok: true }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const port = (app.server.address() as AddressInfo).port
  const free = await runLoad({ port, method: 'GET', path: '/x', cookies: [], connections: 2, durationSeconds: 1 })
  const paced = await runLoad({ port, method: 'GET', path: '/x', cookies: [], connections: 2, durationSeconds: 1, rate: 20 })
  // Rates over the run's own measured length: a loaded machine stretches a 1 s run, never the pace per second.
  const pacedRate = paced.completed / paced.seconds
  t.ok(paced.completed > 0 && pacedRate <= 40, `20 req/s offered: ${paced.completed} requests in ${paced.seconds} s`)
  t.ok(free.completed / free.seconds > pacedRate * 4, `as fast as it goes: ${free.completed} requests in ${free.seconds} s`)
  t.ok(paced.sent <= paced.completed + 2, `regression: paced, at most one request a connection beyond the answered (${paced.sent} sent)`)
})

t.test('profile summary: self time by package and function, idle excluded', async (t) => {
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 })
  const summary = summarizeProfile('plugin', {
    nodes: [
      { id: 1, callFrame: frame('(idle)', '') },
      { id: 2, callFrame: frame('sign', 'file:///app/node_modules/@smithy/signature-v4/dist-cjs/index.js') },
      { id: 3, callFrame: frame('load', 'file:///app/node_modules/.cache/fastify-dynamo-session-bench/src/session.js') },
      { id: 4, callFrame: frame('emit', 'node:events') }
    ],
    samples: [1, 2, 2, 3, 4, 1],
    timeDeltas: [5000, 1000, 1000, 1000, 1000, 5000]
  })
  t.equal(summary.busyMs, 4)
  t.strictSame(summary.packages, [
    { name: '@smithy/signature-v4', percent: 50 }, { name: 'fastify-dynamo-session', percent: 25 }, { name: 'node (internals)', percent: 25 }
  ])
  t.strictSame(summary.functions[0], { name: 'sign', where: '@smithy/signature-v4/dist-cjs/index.js:10', percent: 50 })
  t.equal(packageOf('file:///x/node_modules/undici/lib/core.js', 'f'), 'undici')
  t.equal(packageOf('', '(garbage collector)'), '(garbage collector)')
})

t.test('capacity arithmetic follows the documented rules', async (t) => {
  t.equal(itemSize({ a: { S: 'xyz' } }), 4, 'name plus string bytes')
  t.equal(itemSize({ n: { N: '12345' } }), 1 + 4, 'numbers: about one byte per two digits, plus one')
  t.equal(itemSize({ m: { M: { k: { BOOL: true } } } }), 1 + 3 + 1 + 1 + 1, 'maps: 3 bytes plus 1 per element')
  t.equal(readUnits(undefined, false), 0.5, 'a missing item still costs the minimum')
  t.equal(readUnits(4097, true), 2)
  t.equal(writeUnits(1025, 10), 2, 'the larger of old and new item')
  t.equal(writeUnits(undefined), 1)
})

t.test('rounds combine: medians for throughput and latency, totals for per-request costs', async (t) => {
  const round = (rps: number, p99: number, requests: number, cpuMicros: number, gets: number): Round => ({
    requests,
    completed: requests - 1,
    seconds: 1,
    requestsPerSecond: rps,
    latencyMs: { p50: 1, p99, mean: 2 },
    failures: 0,
    cpuMicros,
    databaseCpuMicros: 2 * cpuMicros,
    loadGeneratorCpuMicros: cpuMicros / 2,
    counters: { GetItem: { calls: gets, errors: 0, readUnits: gets / 2, writeUnits: 0, reportedCalls: gets, estimatedCalls: 0, shadowReadUnits: gets / 2, shadowWriteUnits: 0 } }
  })
  const r = combineRounds('plugin', 'read', [round(100, 9, 101, 1000, 101), round(300, 3, 301, 3000, 301), round(200, 5, 198, 2000, 198)])
  t.equal(r.requestsPerSecond, 200, 'median throughput, not the mean of a disturbed round')
  t.equal(r.latencyMs.p99, 5)
  t.equal(r.requests, 600)
  t.equal(r.cpuMicrosPerRequest, 10)
  t.equal(r.databaseCpuMicrosPerRequest, 20)
  t.equal(r.loadGeneratorCpuMicrosPerRequest, 5)
  t.equal(r.dynamo.calls, 1)
  t.equal(r.dynamo.readUnits, 0.5)
  t.equal(r.dynamoTotals.GetItem?.calls, 600)
  t.strictSame(r.rounds.map((x) => x.cpuMicrosPerRequest), [1000 / 101, 3000 / 301, 2000 / 198])
})

t.test('the README block is replaced between its markers only', async (t) => {
  const readme = `before\n${START}\nold table\n${END}\nafter\n`
  t.equal(replaceResults(readme, 'new table\n'), `before\n${START}\nnew table\n${END}\nafter\n`)
  t.throws(() => replaceResults('no markers', 'x'))
})

t.test('bench/README.md holds the figures of bench/results/latest.json as rendered, never edited by hand', async (t) => {
  const root = join(import.meta.dirname, '..')
  const latest = JSON.parse(readFileSync(join(root, 'bench', 'results', 'latest.json'), 'utf8')) as BenchResult
  const readme = readFileSync(join(root, 'bench', 'README.md'), 'utf8')
  t.equal(replaceResults(readme, renderMarkdown(latest)), readme, 'rendering latest.json changes nothing')
  t.notOk(readFileSync(join(root, 'README.md'), 'utf8').includes(START), 'the top-level README embeds no figures')
})

t.test('reaper cost: the loaded rows are the plugin\'s rows, of 1,000 bytes', async (t) => {
  const id = newSessionId()
  const expires = 1_800_000_123
  const item = sessionItem(id, expires, 999_999, ROW_PAD_1KB)
  const size = itemSize(item as unknown as WireItem)
  t.ok(size > 990 && size <= 1024, `one write unit each, and near 1 KB: ${size} B`)
  t.equal(item[BENCH_INDEX.shardAttribute]?.N, String(shardOf(id, BENCH_INDEX.shards)), 'shard as the plugin writes it')
  t.equal(item[BENCH_INDEX.attribute]?.N, String(bucketOf(expires, BENCH_INDEX.bucketSeconds)), 'bucket as the plugin writes it')
})

t.test('reaper cost: index entry changes and the index writes they cost', async (t) => {
  t.equal(entryChange(undefined, 5), 'created')
  t.equal(entryChange(5, 5), 'unchanged')
  t.equal(entryChange(5, 6), 'moved')
  t.equal(entryChange(5, undefined), 'deleted')
  t.equal(entryChange(undefined, undefined), 'unchanged')
  t.equal(indexWrites({ created: 3, moved: 2, unchanged: 7, deleted: 1 }), 3 + 4 + 1, '1 per creation and deletion, 2 per move, 0 otherwise')
  t.equal(modelWritesPerRefresh(60, 300), 0.4)
  t.equal(modelWritesPerRefresh(60, 20), 2, 'a refresh cannot cost more than one move')
  t.equal(percentile([5, 1, 4, 2, 3], 50), 3)
  t.equal(percentile([5, 1, 4, 2, 3], 100), 5)
  t.equal(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99), 99, 'nearest rank')
  t.equal(percentile([], 99), 0)
})

function costCase (rows: number, expiredFraction: number, strategy: 'scan' | 'index', readUnits: number, seconds: number): CostCase {
  const expiredRows = Math.round(rows * expiredFraction)
  return {
    rows,
    expiredFraction,
    expiredRows,
    strategy,
    rowBytes: 1000,
    scanned: strategy === 'scan' ? rows : expiredRows,
    deleted: expiredRows,
    conflicts: 0,
    seconds,
    rowsDeletedPerSecond: expiredRows / seconds,
    readUnits,
    writeUnits: expiredRows + 2,
    dynamoCalls: {}
  }
}

function costResult (kind: 'normal' | 'large', cases: CostCase[], extra: Partial<ReaperCostResult> = {}): ReaperCostResult {
  return {
    schemaVersion: COST_SCHEMA_VERSION,
    kind,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:10:00.000Z',
    machine: { cpuModel: 'cpu', cores: 2, node: 'v20', platform: 'linux', arch: 'x64', totalMemoryMiB: 1, loadAverage1m: 0 },
    cases,
    amplification: [],
    lag: [],
    ...extra
  }
}

const lagRun = (p99: number, left: number): LagRun => ({
  label: 'steady',
  seconds: 300,
  rowsPerSecond: 5,
  bucketSeconds: 10,
  periodSeconds: 5,
  graceSeconds: 2,
  maxWriteUnitsPerSecond: 100,
  expired: 1500,
  deleted: 1500 - left,
  left,
  lagSeconds: { p50: 9, p99, max: p99 + 1 },
  modelBoundSeconds: 17
})

const amplification = (bucketSeconds: number, perRefresh: number): Amplification => ({
  bucketSeconds,
  touchAfterSeconds: 60,
  refreshSeconds: 60,
  sessions: 10,
  refreshes: 100,
  changes: { created: 0, moved: perRefresh * 50, unchanged: 100 - perRefresh * 50, deleted: 0 },
  indexWritesPerCreate: 1,
  indexWritesPerRefresh: perRefresh,
  indexWritesPerDelete: 1,
  modelPerRefresh: modelWritesPerRefresh(60, bucketSeconds)
})

t.test('reaper cost: the targets are checked on the results at hand', async (t) => {
  const large = costResult('large', [
    costCase(100_000, 0.01, 'index', 40, 2.0),
    costCase(1_000_000, 0.001, 'index', 10, 2.9),
    costCase(1_000_000, 0.01, 'scan', 122_000, 90),
    costCase(1_000_000, 0.01, 'index', 1220, 20)
  ])
  const normal = costResult('normal', [], { lag: [lagRun(16.5, 0)], amplification: [amplification(300, 0.4)] })
  t.strictSame(checkTargets([normal, large], 300).map((x) => x.met), [true, true, true, true, null])
  const worse = costResult('large', [
    costCase(100_000, 0.01, 'index', 40, 2.0),
    costCase(1_000_000, 0.001, 'index', 10, 3.1),
    costCase(1_000_000, 0.01, 'scan', 122_000, 90),
    costCase(1_000_000, 0.01, 'index', 1221, 20)
  ])
  const late = costResult('normal', [], { lag: [lagRun(17.5, 0)], amplification: [amplification(300, 0.52)] })
  t.strictSame(checkTargets([late, worse], 300).map((x) => x.met), [false, false, false, false, null])
  const leftBehind = costResult('normal', [], { lag: [lagRun(16, 3)] })
  t.equal(checkTargets([leftBehind], 300)[2]?.met, false, 'rows the reaper never deleted fail the lag target')
  t.strictSame(checkTargets([costResult('normal', [])], 300).map((x) => x.met), [null, null, null, null, null], 'nothing measured, nothing claimed')
})

t.test('reaper cost: the census target (±2% of the truth at 1M rows, each ≤ 5% of a full scan)', async (t) => {
  const run = (actives: number[], readUnits = 3900): CensusRun => ({
    rows: 1_000_000,
    trueActive: 1_000_000,
    estimates: actives.map((active) => ({ active, relativeError: 0.0056, readUnits, share: 1 / 32 })),
    fullScanReadUnits: 125_000
  })
  const census = (r: CensusRun): boolean | null => checkTargets([costResult('large', [], { census: [r] })], 300)[4]!.met
  t.strictSame(censusFigures(run([1_010_000, 990_000])), { maxError: 0.01, maxCostShare: 3900 / 125_000 })
  t.equal(census(run([1_019_000, 985_000])), true)
  t.equal(census(run([1_019_000, 979_000])), false, 'one estimate 2.1% off')
  t.equal(census(run([1_000_000], 6300)), false, 'over 5% of a full scan')
  t.equal(census({ ...run([1_000_000]), rows: 100_000 }), null, 'measured at 1M rows only')
})

t.test('reaper cost: monthly cost from measured rates', async (t) => {
  const results = [
    costResult('normal', [
      costCase(100_000, 0.01, 'scan', 12_200, 9),
      costCase(100_000, 0.01, 'index', 20, 1),
      costCase(100_000, 0.1, 'scan', 12_200, 12),
      costCase(100_000, 0.1, 'index', 110, 4)
    ], { amplification: [amplification(300, 0.4)] })
  ]
  const rates = unitRates(results)
  if (rates === undefined) throw new Error('no rates')
  t.equal(rates.scanReadPerRow, 0.122)
  t.equal(rates.indexReadPerExpired, 90 / 9000)
  t.equal(rates.indexReadFixed, 20 - 1000 * 90 / 9000)
  t.equal(rates.writePerDeleted, 10_002 / 10_000)
  const w = { label: 'w', turnoverPerDay: 1, refreshesPerSession: 30 }
  const scan = monthlyCost(rates, 1_000_000, w, 'scan')
  t.equal(scan.readUnits, 1_000_000 * 0.122 * 30 * 288, 'a sweep every 5 minutes for 30 days')
  t.equal(scan.writeUnits, 30_000_000 * rates.writePerDeleted)
  t.equal(scan.storageGb, 0)
  const index = monthlyCost(rates, 1_000_000, w, 'index')
  t.equal(index.readUnits, 43_200 * rates.indexReadFixed + 30_000_000 * rates.indexReadPerExpired, 'a pass a minute, plus the expired rows')
  t.equal(index.writeUnits, 30_000_000 * rates.writePerDeleted + 30_000_000 * (2 + 30 * 0.4), 'deletes, then 1 + 1 index writes and the refreshes')
  t.equal(index.storageGb, 0.1, '100 B per entry')
  t.equal(index.dollars, index.readUnits / 1e6 * PRICES.readPerMillion + index.writeUnits / 1e6 * PRICES.writePerMillion + 0.1 * PRICES.storagePerGbMonth)
  t.equal(unitRates([costResult('normal', [costCase(10, 0.1, 'scan', 1, 1)])]), undefined, 'too little measured for rates')
})

t.test('reaper cost: a tiny run of both strategies and of the refresh amplification', async (t) => {
  const outDir = t.testdir()
  const result = await runCostBench({
    kind: 'normal',
    outDir,
    settings: { sizes: [{ rows: 300, fractions: [0.1] }], padBytes: ROW_PAD_1KB, amplification: { bucketSeconds: [60, 300], sessions: 5, rounds: 2 }, lag: [] },
    childExecArgv,
    childEnv,
    log: () => {}
  })
  t.strictSame(readCostResults(outDir), [JSON.parse(JSON.stringify(result))], 'reaper-cost.json is the returned result')
  t.strictSame(result.cases.map((c) => [c.rows, c.expiredFraction, c.strategy]), [[300, 0.1, 'scan'], [300, 0.1, 'index']])
  const [scan, index] = result.cases
  t.equal(scan?.scanned, 300, 'the scan examines every row')
  t.equal(index?.scanned, 30, 'the index pass examines the expired rows only')
  for (const c of result.cases) {
    t.equal(c.deleted, 30, `${c.strategy}: every expired row deleted`)
    t.equal(c.dynamoCalls.DeleteItem, 30, `${c.strategy}: one DeleteItem per expired row`)
  }
  t.equal(index?.dynamoCalls.Query, BENCH_INDEX.shards, 'one Query per shard')
  // The census's and the backfill's Scans run beside the pass, their units reported apart: the pass's own units are its
  // Queries', at most half a unit each for so few entries.
  t.ok((index?.readUnits ?? Infinity) <= BENCH_INDEX.shards * 0.5, `the index pass reads its Queries only (${index?.readUnits} RU)`)
  t.ok((index?.readUnits ?? Infinity) < (scan?.readUnits ?? 0), 'the index pass reads less')
  const [a60, a300] = result.amplification
  // Sessions spread evenly over a bucket, the expiry moved by 60 s per refresh: every refresh crosses a 60 s bucket,
  // and exactly one in five crosses a 300 s one.
  t.equal(a60?.indexWritesPerRefresh, 2)
  t.strictSame(a300?.changes, { created: 0, moved: 2, unchanged: 8, deleted: 0 })
  t.equal(a300?.indexWritesPerRefresh, 0.4)
  t.equal(a300?.indexWritesPerCreate, 1, 'a login creates the entry')
  t.equal(a300?.indexWritesPerDelete, 1, 'a logout deletes it')
})

t.test('docs/reaper.md holds the cost section bench/results/reaper-cost*.json render to, never edited by hand', async (t) => {
  const root = join(import.meta.dirname, '..')
  const results = readCostResults(join(root, 'bench', 'results'))
  t.strictSame(results.map((r) => r.kind), ['normal', 'large'], 'both runs committed')
  const docs = readFileSync(join(root, 'docs', 'reaper.md'), 'utf8')
  t.equal(replaceBetween(docs, renderCostMarkdown(results), COST_START, COST_END), docs, 'rendering the results changes nothing')
  t.match(docs, 'per million read request units', 'the price is stated')
})

t.test('regression: the amplification run logs each session out at its own time, so none has expired by then', async (t) => {
  // Sessions spread over a 900 s bucket outlive a 300 s ttl only if each logout runs at its session's own clock.
  const result = await runCostBench({
    kind: 'normal',
    outDir: t.testdir(),
    settings: { sizes: [], padBytes: 0, amplification: { bucketSeconds: [900], sessions: 5, rounds: 2 }, lag: [] },
    childExecArgv,
    childEnv,
    log: () => {}
  })
  t.equal(result.amplification[0]?.indexWritesPerDelete, 1, 'every logout deletes its entry')
  t.equal(result.amplification[0]?.indexWritesPerCreate, 1)
})
