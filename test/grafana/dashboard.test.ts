import t from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify } from 'yaml'
import {
  GRAFANA_DIR, SCRAPE_EXAMPLE, allPanels, dashboardFiles, dashboardQueries, loadDashboard, loadRuleGroups, namesIn,
  promtool, queryPanels, substituteVariables, variableQuery
} from '../helpers/prometheus.js'

const DATASOURCE = '${datasource}'
// The rows the dashboard promises, in order.
const ROWS = ['Sessions', 'TTL lag', 'Reaper throughput', 'Reaper health', 'Capacity and throttling', 'Request path']

const files = await dashboardFiles()
const dashboards = await Promise.all(files.map(async (f) => ({ file: f, dashboard: await loadDashboard(f) })))

t.test('one dashboard ships', async (t) => {
  t.equal(dashboards.length, 1)
})

for (const { file, dashboard } of dashboards) {
  t.test(`${file.slice(GRAFANA_DIR.length + 1)}`, async (t) => {
    t.test('identity: stable uid, title, tags', async (t) => {
      // The uid is how re-imports replace the dashboard instead of duplicating it: never change it.
      t.equal(dashboard.uid, 'fastify-dynamo-session')
      t.ok(dashboard.title.length > 0)
      t.ok(dashboard.tags.includes('fastify-dynamo-session'))
      t.equal((dashboard as unknown as { id?: unknown }).id, undefined, 'no instance-specific numeric id')
    })

    t.test('a Prometheus datasource variable and job/instance filters that use it', async (t) => {
      const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]))
      const ds = vars.get('datasource')
      t.equal(ds?.type, 'datasource')
      t.equal(ds?.query, 'prometheus')
      for (const name of ['job', 'instance']) {
        const v = vars.get(name)
        t.equal(v?.type, 'query', `${name} is a query variable`)
        t.equal(v?.datasource?.uid, DATASOURCE, `${name} queries the chosen datasource`)
        t.equal(v?.allValue, '.*', `${name} "All" matches instances that appear later`)
        t.match(variableQuery(v!) ?? '', /^label_values\(dynamo_session_\w+/, `${name} lists values from a library metric`)
      }
      t.match(variableQuery(vars.get('instance')!) ?? '', 'job=~"$job"', 'instance choices follow the job filter')
    })

    t.test('rows as documented, each with panels', async (t) => {
      const rows = dashboard.panels.filter((p) => p.type === 'row')
      t.strictSame(rows.map((r) => r.title), ROWS)
      const order = dashboard.panels.map((p) => p.type === 'row' ? 'row' : 'panel')
      for (let i = 0; i < order.length; i++) {
        if (order[i] === 'row') t.equal(order[i + 1], 'panel', `row ${dashboard.panels[i]?.title} is not empty`)
      }
    })

    t.test('every panel: datasource variable, unit, a description of normal, queries', async (t) => {
      const panels = queryPanels(dashboard)
      t.ok(panels.length >= ROWS.length * 2)
      const ids = allPanels(dashboard).map((p) => p.id)
      t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
      for (const panel of panels) {
        t.equal(panel.datasource?.uid, DATASOURCE, `${panel.title}: panel datasource`)
        t.equal(panel.datasource?.type, 'prometheus', `${panel.title}: panel datasource type`)
        t.ok((panel.fieldConfig?.defaults?.unit ?? '').length > 0, `${panel.title}: has a unit`)
        t.match(panel.description ?? '', /Normal: /, `${panel.title}: description says what normal looks like`)
        t.ok((panel.targets ?? []).length > 0, `${panel.title}: has queries`)
        for (const target of panel.targets ?? []) {
          t.equal(target.datasource?.uid ?? DATASOURCE, DATASOURCE, `${panel.title} ${target.refId}: target datasource`)
          t.ok((target.legendFormat ?? '').includes('{{job}}'), `${panel.title} ${target.refId}: legend tells jobs apart`)
        }
      }
    })

    t.test('every series selector filters on job and instance', async (t) => {
      for (const panel of queryPanels(dashboard)) {
        for (const target of panel.targets ?? []) {
          const { metrics, recorded } = namesIn(target.expr)
          for (const name of [...metrics, ...recorded]) {
            const selectors = [...target.expr.matchAll(new RegExp(`(?<![\\w:])${name}(?![\\w:])(\\{[^}]*\\})?`, 'g'))]
            for (const s of selectors) {
              const matchers = s[1] ?? ''
              t.ok(matchers.includes('job=~"$job"') && matchers.includes('instance=~"$instance"'),
                `${panel.title} ${target.refId}: ${name}${matchers} filters on job and instance`)
            }
          }
        }
      }
    })

    t.test('rates over raw series use $__rate_interval; fixed windows only through recording rules', async (t) => {
      for (const panel of queryPanels(dashboard)) {
        for (const target of panel.targets ?? []) {
          for (const range of target.expr.matchAll(/\[([^\]]+)\]/g)) {
            t.equal(range[1], '$__rate_interval', `${panel.title} ${target.refId}: range [${range[1]}]`)
          }
        }
      }
    })

    t.test('every recording rule a panel reads is defined', async (t) => {
      const recorded = new Set((await loadRuleGroups()).flatMap((g) => g.rules).flatMap((r) => r.record ?? []))
      for (const panel of queryPanels(dashboard)) {
        for (const target of panel.targets ?? []) {
          for (const name of namesIn(target.expr).recorded) t.ok(recorded.has(name), `${panel.title}: ${name} is recorded`)
        }
      }
    })

    t.test('every query is valid PromQL once variables are substituted', async (t) => {
      // promtool has no expression checker without a server, but it parses rule expressions.
      const rules = dashboardQueries(dashboard).map((q, i) => ({ record: `panel_query_${i}`, expr: substituteVariables(q.expr) }))
      const dir = await mkdtemp(join(tmpdir(), 'dynamo-session-dashboard-'))
      t.teardown(() => rm(dir, { recursive: true, force: true }))
      await writeFile(join(dir, 'panels.yml'), stringify({ groups: [{ name: 'panels', rules }] }))
      const out = await promtool(['check', 'rules', join(dir, 'panels.yml')])
      t.equal(out.code, 0, 'promtool parses every query', { output: out.stderr + out.stdout })
      t.match(out.stdout, `SUCCESS: ${rules.length} rules found`)
    })
  })
}

t.test('provisioning: a Prometheus datasource and a file provider for the dashboard folder', async (t) => {
  const ds = parseYaml(await readFile(join(GRAFANA_DIR, 'provisioning', 'datasources', 'dynamo-session.yml'), 'utf8')) as {
    apiVersion: number, datasources: Array<{ type: string, url: string, access: string, jsonData?: { timeInterval?: string } }>
  }
  t.equal(ds.apiVersion, 1)
  t.equal(ds.datasources.length, 1)
  t.equal(ds.datasources[0]?.type, 'prometheus')
  t.equal(ds.datasources[0]?.access, 'proxy')
  t.match(ds.datasources[0]?.url, /^https?:\/\//)
  const scrape = parseYaml(await readFile(SCRAPE_EXAMPLE, 'utf8')) as { global: { scrape_interval: string } }
  t.equal(ds.datasources[0]?.jsonData?.timeInterval, scrape.global.scrape_interval, '$__rate_interval is computed from the real scrape interval')

  const dash = parseYaml(await readFile(join(GRAFANA_DIR, 'provisioning', 'dashboards', 'dynamo-session.yml'), 'utf8')) as {
    apiVersion: number, providers: Array<{ type: string, options: { path: string } }>
  }
  t.equal(dash.apiVersion, 1)
  t.equal(dash.providers[0]?.type, 'file')
  t.match(dash.providers[0]?.options.path, /^\//)
})
