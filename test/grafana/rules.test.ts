import t from 'tap'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import {
  DASHBOARD_DIR, OPERATIONS_DOC, RULES_FILE, RULES_TEST_FILE, RUNBOOK_BASE, SCRAPE_EXAMPLE,
  loadRuleGroups, promtool, rulesWithFor, type Rule
} from '../helpers/prometheus.js'
import { githubSlug, headingAnchors } from '../helpers/markdown.js'

const SEVERITIES = ['critical', 'warning', 'info']

interface AlertCase { alertname: string, exp_alerts?: unknown[] }
interface TestGroup { alert_rule_test?: AlertCase[] }

const groups = await loadRuleGroups()
const alerts = groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => r.alert !== undefined)
const recordings = groups.flatMap((g) => g.rules).filter((r): r is Rule & { record: string } => r.record !== undefined)

t.test('promtool check rules accepts the shipped rules', async (t) => {
  const out = await promtool(['check', 'rules', RULES_FILE])
  t.equal(out.code, 0, 'promtool check rules exits 0', { output: out.stderr + out.stdout })
  t.match(out.stdout, `SUCCESS: ${alerts.length + recordings.length} rules found`)
})

t.test('promtool test rules passes the shipped unit tests', async (t) => {
  const out = await promtool(['test', 'rules', RULES_TEST_FILE])
  t.equal(out.code, 0, 'promtool test rules exits 0', { output: out.stderr + out.stdout })
  t.match(out.stdout, 'SUCCESS')
})

t.test('promtool check config accepts the scrape example, which loads the rules', async (t) => {
  const out = await promtool(['check', 'config', SCRAPE_EXAMPLE])
  t.equal(out.code, 0, 'promtool check config exits 0', { output: out.stderr + out.stdout })
  const config = parseYaml(await readFile(SCRAPE_EXAMPLE, 'utf8')) as { rule_files: string[], scrape_configs: Array<{ metrics_path: string }> }
  t.strictSame(config.rule_files, ['dynamo-session.rules.yml'])
  t.equal(config.scrape_configs[0]?.metrics_path, '/metrics')
})

t.test('there is an alert for each failure the library documents', async (t) => {
  t.strictSame(alerts.map((a) => a.alert).sort(), [
    'DynamoSessionClockSkew',
    'DynamoSessionExpiredPendingGrowing',
    'DynamoSessionMetricsAbsent',
    'DynamoSessionReaperBudgetBound',
    'DynamoSessionReaperFailing',
    'DynamoSessionReaperStalled',
    'DynamoSessionStoreErrors',
    'DynamoSessionTtlLagHigh'
  ])
})

t.test('every alert has severity, summary, description and a runbook in docs/operations.md', async (t) => {
  const anchors = headingAnchors(await readFile(OPERATIONS_DOC, 'utf8'))
  for (const alert of alerts) {
    t.ok(SEVERITIES.includes(alert.labels?.severity ?? ''), `${alert.alert} severity is one of ${SEVERITIES.join(', ')}`)
    t.ok((alert.annotations?.summary ?? '').length > 10, `${alert.alert} has a summary`)
    t.ok((alert.annotations?.description ?? '').length > 20, `${alert.alert} has a description`)
    t.ok(alert.for !== undefined, `${alert.alert} has a for: duration`)
    const anchor = githubSlug(alert.alert)
    t.equal(alert.annotations?.runbook_url, `${RUNBOOK_BASE}#${anchor}`, `${alert.alert} runbook_url uses the one base`)
    t.ok(anchors.has(anchor), `docs/operations.md has a runbook heading for #${anchor}`)
  }
})

t.test('every alert has a promtool case that fires and one that does not', async (t) => {
  const tests = (parseYaml(await readFile(RULES_TEST_FILE, 'utf8')) as { tests: TestGroup[] }).tests
  const cases = tests.flatMap((g) => g.alert_rule_test ?? [])
  for (const alert of alerts) {
    const mine = cases.filter((c) => c.alertname === alert.alert)
    t.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${alert.alert} has a firing case`)
    t.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert.alert} has a non-firing case`)
  }
})

t.test('recording rules follow level:metric:operations and are all used', async (t) => {
  const dashboard = await readFile(join(DASHBOARD_DIR, 'dynamo-session.json'), 'utf8')
  const exprs = groups.flatMap((g) => g.rules).map((r) => r.expr).join('\n')
  for (const rule of recordings) {
    t.match(rule.record, /^[a-z_]+:dynamo_session_[a-z_]+:[a-z0-9_]+$/, `${rule.record} is level:metric:operations`)
    const used = dashboard.includes(rule.record) || exprs.split(rule.record).length > 1
    t.ok(used, `${rule.record} is used by the dashboard or another rule`)
  }
})

t.test('the end-to-end copy of the rules differs from the shipped file only in for:', async (t) => {
  const short = parseYaml(await rulesWithFor('1s')) as { groups: Array<{ rules: Rule[] }> }
  const shipped = groups
  t.equal(short.groups.length, shipped.length)
  short.groups.forEach((g, i) => {
    const original = shipped[i]?.rules ?? []
    t.equal(g.rules.length, original.length)
    g.rules.forEach((rule, j) => {
      const { for: shortFor, ...rest } = rule
      const { for: _originalFor, ...originalRest } = original[j] as Rule
      t.strictSame(rest, originalRest, `rule ${rule.alert ?? rule.record} unchanged apart from for:`)
      if (rule.alert !== undefined) t.equal(shortFor, '1s')
      else t.equal(shortFor, undefined)
    })
  })
})

// Each mutation breaks what an alert is meant to tell apart; the unit tests must notice every one of them.
const MUTATIONS: Array<[string, string, string]> = [
  ['stalled: min instead of max over instances', 'max by (job) (dynamo_session_reaper_last_success_timestamp_seconds > 0)', 'min by (job) (dynamo_session_reaper_last_success_timestamp_seconds > 0)'],
  ['stalled: without the unscheduled guard', 'max by (job) (dynamo_session_reaper_interval_seconds > 0)', 'max by (job) (dynamo_session_reaper_interval_seconds)'],
  ['stalled: 2 intervals instead of 3', '> 3 * max by (job) (dynamo_session_reaper_interval_seconds > 0)', '> 2 * max by (job) (dynamo_session_reaper_interval_seconds > 0)'],
  ['failing: any failure', '[15m])) > 2', '[15m])) > 0'],
  ['ttl lag: no floor', ', 900)', ', 0)'],
  ['expired backlog: no floor', 'expired_backlog_sessions) > 100', 'expired_backlog_sessions) > 0'],
  ['expired backlog: the rows found instead of those left', 'max by (job) (dynamo_session_expired_backlog_sessions) > 100', 'max by (job) (dynamo_session_expired_found_sessions) > 100'],
  ['expired backlog: flat counts as growing', '[30m])) > 0', '[30m])) >= 0'],
  ['expired backlog: growth of the rows found', 'deriv(dynamo_session_expired_backlog_sessions[30m])', 'deriv(dynamo_session_expired_found_sessions[30m])'],
  ['budget bound: any real use of the budget', '>= 0.9 * max by (job, instance)', '>= 0.4 * max by (job, instance)'],
  ['budget bound: the read budget', 'budget_units_per_second{kind="write"}', 'budget_units_per_second{kind="read"}'],
  ['budget bound: the application\'s writes counted', 'total{component="reaper", operation=~"DeleteItem|UpdateItem"}', 'total{operation=~"DeleteItem|UpdateItem"}'],
  ['budget bound: an unreported budget (0) counts', 'budget_units_per_second{kind="write"} > 0)', 'budget_units_per_second{kind="write"})'],
  ['store errors: threshold too high', 'ratio_rate5m > 0.05', 'ratio_rate5m > 0.2'],
  ['store errors: conflicts counted as errors', 'count{result="error"}', 'count{result!="success"}'],
  ['metrics absent: wrong metric', 'absent(dynamo_session_loads_total)', 'absent(up)'],
  ['clock skew: a fast clock (negative skew) goes unnoticed', 'abs(dynamo_session_clock_skew_seconds) > 5', 'dynamo_session_clock_skew_seconds > 5'],
  ['clock skew: threshold within the noise', 'abs(dynamo_session_clock_skew_seconds) > 5', 'abs(dynamo_session_clock_skew_seconds) > 2']
]

t.test('the promtool unit tests fail when an alert is weakened', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dynamo-session-rules-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const shipped = await readFile(RULES_FILE, 'utf8')
  await copyFile(RULES_TEST_FILE, join(dir, 'dynamo-session.rules.test.yml'))
  for (const [name, from, to] of MUTATIONS) {
    t.ok(shipped.includes(from), `${name}: the shipped rules contain the mutated text`)
    await writeFile(join(dir, 'dynamo-session.rules.yml'), shipped.replace(from, to))
    const out = await promtool(['test', 'rules', 'dynamo-session.rules.test.yml'], dir)
    t.not(out.code, 0, `${name}: promtool test rules fails`)
  }
})
