import t from 'tap'
import { readFile } from 'node:fs/promises'
import { Registry } from 'prom-client'
import { METRIC_NAMES, createMetrics } from '../../src/metrics.js'
import {
  OPERATIONS_DOC, README, dashboardFiles, dashboardQueries, loadDashboard, loadRuleGroups, namesIn, type DashboardQuery
} from '../helpers/prometheus.js'

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count']

// Every query in the shipped dashboards and rules, with where it comes from.
const queries: DashboardQuery[] = []
for (const file of await dashboardFiles()) queries.push(...dashboardQueries(await loadDashboard(file)))
const rules = (await loadRuleGroups()).flatMap((g) => g.rules)
for (const rule of rules) queries.push({ where: `rule ${rule.alert ?? rule.record}`, expr: rule.expr })
const recorded = new Set(rules.flatMap((r) => r.record ?? []))

// Types straight from the library's registry, so a gauge can never be read through a histogram suffix.
const registry = new Registry()
createMetrics(registry)
const types = new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]))
const exported = new Set<string>(Object.values(METRIC_NAMES))

/** The exported metric a series name belongs to, or undefined when the library exports no such series. */
function exportedMetricOf (series: string): string | undefined {
  if (exported.has(series)) return series
  const suffix = HISTOGRAM_SUFFIXES.find((s) => series.endsWith(s))
  if (suffix === undefined) return undefined
  const base = series.slice(0, -suffix.length)
  return exported.has(base) && types.get(base) === 'histogram' ? base : undefined
}

t.test('METRIC_NAMES and the registry agree', async (t) => {
  t.strictSame([...types.keys()].sort(), [...exported].sort())
})

t.test('the dashboards and rules query something', async (t) => {
  t.ok(queries.length > 20)
  t.ok(recorded.size > 0)
})

t.test('every metric a dashboard or rule reads is one the library exports', async (t) => {
  for (const { where, expr } of queries) {
    const { metrics, recorded: used } = namesIn(expr)
    for (const name of metrics) t.ok(exportedMetricOf(name) !== undefined, `${where}: ${name} is exported`)
    for (const name of used) t.ok(recorded.has(name), `${where}: ${name} is a recording rule`)
  }
})

t.test('every exported metric is charted or alerted on, or documented as not charted', async (t) => {
  const used = new Set(queries.flatMap((q) => namesIn(q.expr).metrics).flatMap((n) => exportedMetricOf(n) ?? []))
  const operations = await readFile(OPERATIONS_DOC, 'utf8')
  const notCharted = operations.match(/^Not charted: (.+)$/m)?.[1] ?? ''
  for (const name of exported) {
    t.ok(used.has(name) || notCharted.includes(`\`${name}\``), `${name} is used or listed as not charted`)
  }
})

/** The rows of a Markdown table whose first cell is a metric name: name → the remaining cells. */
function metricRows (markdown: string): Map<string, string[]> {
  const rows = new Map<string, string[]>()
  for (const m of markdown.matchAll(/^\| `(dynamo_session_[a-z_]+)` \|(.*)\|$/gm)) {
    rows.set(m[1] as string, (m[2] as string).split(/(?<!\\)\|/).map((cell) => cell.trim()))
  }
  return rows
}

t.test('the README metrics table lists every metric with its type, and nothing else', async (t) => {
  const readme = await readFile(README, 'utf8')
  const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('\n## ', readme.indexOf('## Metrics') + 1))
  const rows = metricRows(section)
  t.strictSame([...rows.keys()].sort(), [...exported].sort())
  for (const [name, cells] of rows) t.equal(cells[0], types.get(name), `${name} is a ${String(types.get(name))}`)
})

t.test('docs/operations.md explains every metric, and nothing else', async (t) => {
  const rows = metricRows(await readFile(OPERATIONS_DOC, 'utf8'))
  t.strictSame([...rows.keys()].sort(), [...exported].sort())
})
