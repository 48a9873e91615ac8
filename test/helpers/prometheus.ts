import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseDocument, parse as parseYaml } from 'yaml'

interface Teardown { teardown (fn: () => unknown): void }

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const GRAFANA_DIR = join(REPO_ROOT, 'grafana')
export const DASHBOARD_DIR = join(GRAFANA_DIR, 'dashboards')
export const PROMETHEUS_DIR = join(GRAFANA_DIR, 'prometheus')
export const RULES_FILE = join(PROMETHEUS_DIR, 'dynamo-session.rules.yml')
export const RULES_TEST_FILE = join(PROMETHEUS_DIR, 'dynamo-session.rules.test.yml')
export const SCRAPE_EXAMPLE = join(PROMETHEUS_DIR, 'prometheus.yml')
export const README = join(REPO_ROOT, 'README.md')
/** docs/operations.md: metrics detail, dashboards, alerts and their runbooks. */
export const OPERATIONS_DOC = join(REPO_ROOT, 'docs', 'operations.md')
/** The one base every alert's runbook_url starts with (the sed recipe in docs/operations.md replaces it). */
export const RUNBOOK_BASE = 'https://github.com/fastify-dynamo-session/fastify-dynamo-session/blob/main/docs/operations.md'

const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? 'prometheus'
const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? 'promtool'

export interface CommandResult { code: number, stdout: string, stderr: string }

/** Runs promtool with a time limit; never throws for a non-zero exit (the caller asserts on `code`). */
export async function promtool (args: string[], cwd = PROMETHEUS_DIR): Promise<CommandResult> {
  return await new Promise((resolve, reject) => {
    execFile(PROMTOOL_BIN, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(err)
        return
      }
      resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr })
    })
  })
}

/** `promtool check metrics` on an exposition text (given on stdin): exit code and what promtool had to say. */
export async function checkMetrics (text: string): Promise<CommandResult> {
  return await new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL_BIN, ['check', 'metrics'], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(err)
        return
      }
      resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr })
    })
    child.stdin?.end(text)
  })
}

// Dashboards

export interface Target { refId: string, expr: string, legendFormat?: string, datasource?: { type?: string, uid?: string } }
export interface Panel {
  id: number
  type: string
  title: string
  description?: string
  datasource?: { type?: string, uid?: string }
  fieldConfig?: { defaults?: { unit?: string } }
  targets?: Target[]
  panels?: Panel[]
}
export interface TemplateVariable { name: string, type: string, query?: unknown, datasource?: { type?: string, uid?: string }, allValue?: string }
export interface Dashboard {
  uid: string
  title: string
  tags: string[]
  templating: { list: TemplateVariable[] }
  panels: Panel[]
}

export async function dashboardFiles (): Promise<string[]> {
  return (await readdir(DASHBOARD_DIR)).filter((f) => f.endsWith('.json')).sort().map((f) => join(DASHBOARD_DIR, f))
}

export async function loadDashboard (file: string): Promise<Dashboard> {
  return JSON.parse(await readFile(file, 'utf8')) as Dashboard
}

/** Every panel, rows included, with the panels of collapsed rows flattened in. */
export function allPanels (dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])
}

/** Panels that query something (not rows or text). */
export function queryPanels (dashboard: Dashboard): Panel[] {
  return allPanels(dashboard).filter((p) => p.type !== 'row')
}

/** The PromQL of a template variable, whichever of Grafana's two shapes it is stored in. */
export function variableQuery (v: TemplateVariable): string | undefined {
  if (typeof v.query === 'string') return v.query
  if (typeof v.query === 'object' && v.query !== null && typeof (v.query as { query?: unknown }).query === 'string') {
    return (v.query as { query: string }).query
  }
  return undefined
}

export interface DashboardQuery { where: string, expr: string }

/**
 * Every PromQL expression of a dashboard: panel targets, and the series selectors inside the template variables'
 * `label_values(selector, label)` queries.
 */
export function dashboardQueries (dashboard: Dashboard): DashboardQuery[] {
  const variables = dashboard.templating.list.flatMap((v) => {
    const selector = v.type === 'query' ? variableQuery(v)?.match(/^label_values\((.+),\s*\w+\)$/)?.[1] : undefined
    return selector === undefined ? [] : [{ where: `${dashboard.uid} variable ${v.name}`, expr: selector }]
  })
  const panels = queryPanels(dashboard).flatMap((p) => (p.targets ?? []).map((target) => ({
    where: `${dashboard.uid} "${p.title}" ${target.refId}`,
    expr: target.expr
  })))
  return [...variables, ...panels]
}

/**
 * A panel expression as Prometheus itself would receive it from Grafana with "All" selected: job and instance
 * match anything, $__rate_interval becomes a fixed window.
 */
export function substituteVariables (expr: string, rateInterval = '15s'): string {
  return expr
    .replace(/\$\{?__rate_interval\}?/g, rateInterval)
    .replace(/\$\{?__interval\}?/g, rateInterval)
    .replace(/\$\{?(job|instance)\}?/g, '.*')
}

// Rules

export interface Rule {
  record?: string
  alert?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
export interface RuleGroup { name: string, interval?: string, rules: Rule[] }

export async function loadRuleGroups (file = RULES_FILE): Promise<RuleGroup[]> {
  return (parseYaml(await readFile(file, 'utf8')) as { groups: RuleGroup[] }).groups
}

/** The shipped rules file with every alert's `for:` set to `forDuration`, everything else untouched. */
export async function rulesWithFor (forDuration: string, file = RULES_FILE): Promise<string> {
  const doc = parseDocument(await readFile(file, 'utf8'))
  const groups = doc.get('groups') as { items: Array<{ get (k: string): { items: Array<{ has (k: string): boolean, set (k: string, v: string): void }> } }> }
  for (const group of groups.items) {
    for (const rule of group.get('rules').items) {
      if (rule.has('alert')) rule.set('for', forDuration)
    }
  }
  return doc.toString()
}

const IDENTIFIER = /(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*/g

/**
 * Names an expression reads: `metrics` are plain metric names of the library (prefix dynamo_session_, histogram
 * suffixes kept), `recorded` are recording-rule names (they contain a colon). Label values in quotes are ignored.
 */
export function namesIn (expr: string): { metrics: string[], recorded: string[] } {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/#.*$/gm, '')
  const tokens = code.match(IDENTIFIER) ?? []
  return {
    metrics: [...new Set(tokens.filter((t) => !t.includes(':') && t.startsWith('dynamo_')))],
    recorded: [...new Set(tokens.filter((t) => t.includes(':')))]
  }
}

// A Prometheus server

export interface PromSample { metric: Record<string, string>, value: [number, string] }
export interface PromAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  state: 'pending' | 'firing' | 'inactive'
  value: string
}

export interface PrometheusOptions {
  /** Scrape targets, host:port. */
  targets: string[]
  metricsPath?: string
  jobName?: string
  /** Rule files to load: file name -> content. */
  rules?: Record<string, string>
  /** Scrape and rule evaluation interval. Defaults to '1s'. */
  interval?: string
  /** How long to wait for /-/ready. Defaults to 30 s. */
  readyTimeoutMs?: number
}

export interface PrometheusServer {
  readonly url: string
  readonly pid: number
  /** An instant query now; rejects with Prometheus's errorType/error when the query is invalid. */
  query (expr: string): Promise<PromSample[]>
  /** Active alerts (pending and firing). */
  alerts (): Promise<PromAlert[]>
  /** The last lines Prometheus logged, for failure messages. */
  log (): string
  /** Stops the process by its PID (SIGTERM, SIGKILL after 10 s) and removes its directory. Idempotent. */
  stop (): Promise<void>
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `probe` every `everyMs` until it returns something other than undefined; rejects after `timeoutMs` with
 * `what` and the last probe error in the message.
 */
export async function waitFor<T> (what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`)
    }
    await sleep(everyMs)
  }
}

async function waitUntilReady (url: string, proc: ChildProcess, spawnError: () => Error | undefined, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (spawnError() !== undefined || proc.exitCode !== null || proc.signalCode !== null) return 'exited'
    const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined)
    if (res?.status === 200) return 'ready'
    await sleep(200)
  }
  return 'timeout'
}

/** SIGTERM to the child's PID, SIGKILL when it has not exited 10 s later. */
async function terminate (proc: ChildProcess | undefined, exited: Promise<void>): Promise<void> {
  if (proc?.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return
  proc.kill('SIGTERM')
  const gone = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)])
  if (!gone) {
    proc.kill('SIGKILL')
    await exited
  }
}

async function api<T> (url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  const body = await res.json() as { status: string, data: T, errorType?: string, error?: string }
  if (body.status !== 'success') throw new Error(`${body.errorType ?? res.status}: ${body.error ?? 'no detail'}`)
  return body.data
}

/**
 * Starts Debian's prometheus as a child process on 127.0.0.1 with its own config and storage in a temporary
 * directory, scraping `targets` and evaluating `rules` every `interval`. Stopped (by PID) at teardown.
 */
export async function startPrometheus (t: Teardown, options: PrometheusOptions): Promise<PrometheusServer> {
  const interval = options.interval ?? '1s'
  const dir = await mkdtemp(join(tmpdir(), 'dynamo-session-prometheus-'))
  const ruleFiles: string[] = []
  for (const [name, content] of Object.entries(options.rules ?? {})) {
    await writeFile(join(dir, name), content)
    ruleFiles.push(name)
  }
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: ruleFiles,
    scrape_configs: [{
      job_name: options.jobName ?? 'dynamo-session',
      metrics_path: options.metricsPath ?? '/metrics',
      static_configs: [{ targets: options.targets }]
    }]
  }
  const configFile = join(dir, 'prometheus.yml')
  await writeFile(configFile, JSON.stringify(config, null, 2))

  let logTail = ''
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let url = ''
  let stopped: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopped ??= (async () => {
      await terminate(child, exited)
      await rm(dir, { recursive: true, force: true })
    })()
    await stopped
  }
  t.teardown(stop)

  // The port comes from a socket closed just before Prometheus binds it: on the rare collision, try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    url = `http://127.0.0.1:${port}`
    logTail = ''
    const proc = spawn(PROMETHEUS_BIN, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    proc.stderr.on('data', (chunk: Buffer) => { logTail = (logTail + chunk.toString()).slice(-8192) })
    exited = new Promise((resolve) => proc.once('close', () => resolve()))
    let spawnError: Error | undefined
    proc.once('error', (err) => { spawnError = err })
    const ready = await waitUntilReady(url, proc, () => spawnError, options.readyTimeoutMs ?? 30_000)
    if (ready === 'ready') break
    await terminate(proc, exited)
    if (spawnError !== undefined) {
      await stop()
      throw new Error(`cannot run ${PROMETHEUS_BIN} (${spawnError.message}): run scripts/ensure-test-tools.sh`)
    }
    if (ready === 'exited' && /address already in use/.test(logTail) && attempt < 3) continue
    await stop()
    throw new Error(`prometheus did not become ready (${ready}): ${logTail}`)
  }

  return {
    url,
    pid: child?.pid as number,
    query: async (expr) => {
      const data = await api<{ resultType: string, result: PromSample[] }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)
      if (data.resultType !== 'vector') throw new Error(`expected a vector from ${expr}, got ${data.resultType}`)
      return data.result
    },
    alerts: async () => (await api<{ alerts: PromAlert[] }>(`${url}/api/v1/alerts`)).alerts,
    log: () => logTail,
    stop
  }
}
