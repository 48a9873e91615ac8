// npm run soak [-- --duration 300] [--sessions 100000] [--concurrency 32] [--interval 10] [--ttl 60] [--json file]
// npm run soak -- --stall [--trials 3]
//
// Soak: mixed traffic over a pool of distinct sessions, with the reaper running, for a bounded time; reports the app's
// memory and event-loop delay over time and whether memory levelled off instead of growing with the sessions seen.
// Not a test: nothing is asserted, the figures are printed. dynalite, the app and this driver are three processes, so
// the app's memory is its own.
//
// --stall: how long a request waits when DynamoDB stalls or throttles, with the plugin's default client (docs/aws.md's
// "Timeouts and retries" figures).
import { writeFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks'
import Fastify, { type FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { dynamoSession, ensureSessionTable, METRIC_NAMES } from '../src/index.js'
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_REQUEST_TIMEOUT_MS } from '../src/options.js'
import { UsageError, columns, flagRows, parseFlags, type FlagSpecs } from '../src/cli/flags.js'
import { startFaultProxy, type Fault, type FaultProxy } from '../test/helpers/fault-proxy.js'
import { benchFile, killAllChildren, serveChild, startChild, type Child } from './children.js'
import type { DynamoInfo } from './dynamo-server.js'

const TABLE = 'SoakSessions'
const SECRET = 'soak-secret-that-is-long-enough-0123456789'
const APP_ROLE = '--soak-app'

const FLAGS: FlagSpecs = {
  duration: { type: 'string', arg: 's', description: 'how long to drive traffic', default: '300' },
  sessions: { type: 'string', arg: 'n', description: 'distinct sessions in the pool', default: '100000' },
  concurrency: { type: 'string', arg: 'n', description: 'requests in flight', default: '32' },
  interval: { type: 'string', arg: 's', description: 'seconds between samples', default: '10' },
  ttl: { type: 'string', arg: 's', description: 'session lifetime, so sessions expire and get reaped during the run', default: '60' },
  json: { type: 'string', arg: 'file', description: 'also write the samples and the verdict as JSON' },
  stall: { type: 'boolean', description: 'instead: measure how long a request waits when DynamoDB stalls or throttles' },
  trials: { type: 'string', arg: 'n', description: 'with --stall: trials per case', default: '3' },
  help: { type: 'boolean', description: 'show this help' }
}

const USAGE = `usage: npm run soak [-- options]\n${columns(flagRows(FLAGS))}`

// ---------------------------------------------------------------------------------------------------------------
// The app (child process).

interface AppInfo { port: number, pid: number }

/** One sample of the app process. */
interface AppSample {
  rss: number
  heapUsed: number
  /** heapUsed right after a forced full GC: what the app really retains. */
  heapAfterGc: number
  gcMs: number
  /** Event-loop delay since the previous sample, in milliseconds. */
  delay: { mean: number, p50: number, p99: number, max: number }
  reaper: { success: number, failure: number, skipped: number, reaped: number, active: number, expiredBacklog: number }
  cpuMs: number
}

function serveApp (): void {
  serveChild<AppInfo>(async () => {
    const ttlSeconds = Number(process.env.SOAK_TTL ?? 60)
    const client = new DynamoDBClient({
      endpoint: process.env.SOAK_DYNAMO,
      region: 'us-east-1',
      credentials: { accessKeyId: 'soak', secretAccessKey: 'soak' },
      requestHandler: { requestTimeout: 2000, connectionTimeout: 500, socketTimeout: 2000, throwOnRequestTimeout: true }
    })
    await ensureSessionTable(client, { tableName: TABLE })
    const registry = new Registry()
    const app = await buildSoakApp(client, registry, ttlSeconds)
    await app.listen({ host: '127.0.0.1', port: 0 })
    return {
      info: { port: (app.server.address() as AddressInfo).port, pid: process.pid },
      handlers: { sample: sampler(registry) },
      close: async () => { await app.close(); client.destroy() }
    }
  })
}

/** The soaked app: the plugin with metrics and a reaper every 10 s, and routes that read, change, log in and log out. */
async function buildSoakApp (client: DynamoDBClient, registry: Registry, ttlSeconds: number): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(dynamoSession, {
    secret: SECRET,
    client,
    tableName: TABLE,
    ttlSeconds,
    touchAfterSeconds: Math.floor(ttlSeconds / 5),
    metrics: { registry, route: false },
    // Every 10 s, with a budget that lets a pass keep up with the churn.
    reaper: { schedule: '*/10 * * * * *', maxReadUnitsPerSecond: 400, maxWriteUnitsPerSecond: 400, segments: 2 }
  })
  app.get('/read', async (request) => ({ visits: request.session.get('visits') ?? 0 }))
  app.post('/visit', async (request) => {
    const visits = (request.session.get('visits') as number | undefined) ?? 0
    request.session.set('visits', visits + 1)
    request.session.set('cart', { items: [visits, visits + 1, visits + 2], note: 'x'.repeat(100) })
    return { visits: visits + 1 }
  })
  app.post('/login', async (request) => {
    request.session.set('user', `user-${Math.floor(Math.random() * 1e6)}`)
    await request.session.regenerate()
    return { ok: true }
  })
  app.post('/logout', async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
  return app
}

/** The app's `sample` handler: memory (retained heap after a forced GC), event-loop delay, reaper metrics, CPU. */
function sampler (registry: Registry): () => Promise<AppSample> {
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const gc = (globalThis as { gc?: () => void }).gc
  const value = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const metric = registry.getSingleMetric(name)
    if (metric === undefined) return 0
    const { values } = await metric.get()
    return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((s, v) => s + v.value, 0)
  }
  return async (): Promise<AppSample> => {
    const ms = (ns: number): number => Math.round(ns / 1e4) / 100
    const d = { mean: ms(delay.mean), p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) }
    const before = process.memoryUsage()
    const started = performance.now()
    gc?.()
    const gcMs = performance.now() - started
    const after = process.memoryUsage()
    // The forced GC's pause is not the app's: leave it out of the next interval.
    delay.reset()
    const cpu = process.cpuUsage()
    return {
      rss: after.rss,
      heapUsed: before.heapUsed,
      heapAfterGc: after.heapUsed,
      gcMs,
      delay: d,
      reaper: {
        success: await value(METRIC_NAMES.reaperRunsTotal, { result: 'success' }),
        failure: await value(METRIC_NAMES.reaperRunsTotal, { result: 'failure' }),
        skipped: await value(METRIC_NAMES.reaperRunsTotal, { result: 'skipped' }),
        reaped: await value(METRIC_NAMES.reapedTotal),
        active: await value(METRIC_NAMES.activeSessions),
        expiredBacklog: await value(METRIC_NAMES.expiredBacklogSessions)
      },
      cpuMs: (cpu.user + cpu.system) / 1000
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The driver (parent process).

interface Totals {
  requests: number
  ok: number
  clientErrors: number
  serverErrors: number
  failures: number
  created: number
  regenerated: number
  expiredSeen: number
}

interface Row {
  t: number
  rps: number
  latencyP99Ms: number
  serverErrors: number
  distinctSessions: number
  app: AppSample
}

const MB = 1024 * 1024
const mb = (bytes: number): string => (bytes / MB).toFixed(1)

function setCookieOf (headers: Record<string, string | string[] | undefined>): string | undefined {
  const raw = headers['set-cookie']
  const first = Array.isArray(raw) ? raw[0] : raw
  return first?.split(';')[0]
}

type Send = (method: 'GET' | 'POST', path: string, cookie: string | undefined) => Promise<{ status: number, setCookie: string | undefined }>

/** One request over `agent`, its latency recorded in microseconds. */
function requester (port: number, agent: Agent, latency: ReturnType<typeof createHistogram>): Send {
  return async (method, path, cookie) => await new Promise((resolve, reject) => {
    const started = performance.now()
    const headers = cookie === undefined ? {} : { cookie }
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      res.resume()
      res.on('end', () => {
        latency.record(Math.max(1, Math.round((performance.now() - started) * 1000)))
        resolve({ status: res.statusCode ?? 0, setCookie: setCookieOf(res.headers) })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** The next request of a slot: a visit without a cookie; with one, mostly reads and visits, some logins and logouts. */
function pickRequest (cookie: string | undefined): readonly ['GET' | 'POST', string] {
  const roll = Math.random()
  if (cookie === undefined) return ['POST', '/visit']
  return roll < 0.5 ? ['GET', '/read'] : roll < 0.8 ? ['POST', '/visit'] : roll < 0.9 ? ['POST', '/login'] : ['POST', '/logout']
}

/** Counts one response and keeps the slot's cookie as the response left it. */
function countResponse (
  totals: Totals,
  slots: Array<string | undefined>,
  call: { slot: number, path: string, cookie: string | undefined },
  res: { status: number, setCookie: string | undefined }
): void {
  const { slot, path, cookie } = call
  totals.requests++
  if (res.status >= 500) totals.serverErrors++
  else if (res.status >= 400) totals.clientErrors++
  else totals.ok++
  if (res.setCookie === undefined) return
  const cleared = res.setCookie.endsWith('=')
  if (cleared) {
    if (path !== '/logout') totals.expiredSeen++
    slots[slot] = undefined
  } else {
    if (res.setCookie !== cookie) {
      if (path === '/login') totals.regenerated++
      else totals.created++
    }
    slots[slot] = res.setCookie
  }
}

async function drive (
  port: number,
  options: { sessions: number, concurrency: number, deadline: number },
  totals: Totals,
  latency: ReturnType<typeof createHistogram>
): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency })
  const slots: Array<string | undefined> = new Array(options.sessions)
  const send = requester(port, agent, latency)
  const worker = async (): Promise<void> => {
    while (Date.now() < options.deadline) {
      const slot = Math.floor(Math.random() * options.sessions)
      const cookie = slots[slot]
      const [method, path] = pickRequest(cookie)
      try {
        const res = await send(method, path, cookie)
        countResponse(totals, slots, { slot, path, cookie }, res)
      } catch {
        totals.failures++
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  agent.destroy()
}

/** Levelled off: after the warm-up, the retained heap and the RSS of the second half are within bounds of the first's. */
interface Verdict { levelled: boolean, text: string, heapGrowthBytes: number, rssGrowthBytes: number, heapBytesPerThousandSessions: number }

function verdict (rows: readonly Row[]): Verdict {
  const settled = rows.slice(Math.min(2, Math.max(0, rows.length - 4)))
  const half = Math.floor(settled.length / 2)
  if (half < 1) {
    const text = 'too few samples to say (run longer or sample more often)'
    return { levelled: false, text, heapGrowthBytes: 0, rssGrowthBytes: 0, heapBytesPerThousandSessions: 0 }
  }
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
  const first = settled.slice(0, half)
  const second = settled.slice(settled.length - half)
  const heapGrowth = mean(second.map((r) => r.app.heapAfterGc)) - mean(first.map((r) => r.app.heapAfterGc))
  const rssGrowth = mean(second.map((r) => r.app.rss)) - mean(first.map((r) => r.app.rss))
  const sessionsBetween = mean(second.map((r) => r.distinctSessions)) - mean(first.map((r) => r.distinctSessions))
  const perThousand = sessionsBetween > 0 ? heapGrowth / sessionsBetween * 1000 : 0
  const heapBase = mean(first.map((r) => r.app.heapAfterGc))
  const rssBase = mean(first.map((r) => r.app.rss))
  // Bounds: what a few KB per thousand sessions would add up to would show here long before it hurt.
  const heapOk = heapGrowth < Math.max(2 * MB, heapBase * 0.05)
  const rssOk = rssGrowth < Math.max(16 * MB, rssBase * 0.1)
  const levelled = heapOk && rssOk
  const text = `${levelled ? 'memory levelled off' : 'memory did NOT level off'}: ` +
    `retained heap ${heapGrowth >= 0 ? '+' : ''}${mb(heapGrowth)} MB ` +
    `(${(perThousand / 1024).toFixed(2)} KB per 1000 new sessions) and RSS ${rssGrowth >= 0 ? '+' : ''}${mb(rssGrowth)} MB ` +
    'between the first and ' +
    `second half of the run after warm-up, while ${Math.round(sessionsBetween)} more distinct sessions were seen`
  return { levelled, text, heapGrowthBytes: heapGrowth, rssGrowthBytes: rssGrowth, heapBytesPerThousandSessions: perThousand }
}

/** One sample as a line of the table `soak` prints. */
function rowLine (row: Row): string {
  const s = row.app
  return [
    String(row.t).padStart(5), String(row.rps).padStart(6), row.latencyP99Ms.toFixed(1).padStart(7), String(row.serverErrors).padStart(4),
    String(row.distinctSessions).padStart(9), mb(s.rss).padStart(8), mb(s.heapUsed).padStart(8), mb(s.heapAfterGc).padStart(12),
    s.delay.p99.toFixed(1).padStart(11), s.delay.max.toFixed(1).padStart(11), `${s.reaper.success}/${s.reaper.failure}`.padStart(15),
    String(s.reaper.reaped).padStart(7), String(s.reaper.active).padStart(10)
  ].join(' ')
}

/** The request totals and the event-loop delay over the whole run. */
function printSummary (totals: Totals, rows: readonly Row[]): void {
  console.log(`\nrequests: ${totals.requests} (${totals.ok} ok, ${totals.clientErrors} 4xx, ${totals.serverErrors} 5xx, ` +
    `${totals.failures} failed to connect); ` +
    `distinct sessions: ${totals.created} created + ${totals.regenerated} regenerated; ${totals.expiredSeen} expired cookies cleared`)
  const worst = rows.reduce((m, r) => Math.max(m, r.app.delay.max), 0)
  const p99s = rows.map((r) => r.app.delay.p99).sort((a, b) => a - b)
  const longestGc = rows.map((r) => r.app.gcMs).reduce((a, b) => Math.max(a, b), 0)
  const medianP99 = p99s[Math.floor(p99s.length / 2)]
  console.log(`event-loop delay: median of per-interval p99 ${medianP99?.toFixed(1)} ms, worst max ${worst.toFixed(1)} ms ` +
    `(forced GC for the retained-heap figure: ${longestGc.toFixed(1)} ms at most, outside the delay figures)`)
}

interface SoakArgs { duration: number, sessions: number, concurrency: number, interval: number, ttl: number, json: string | undefined }

/** Stops the whole run, children included, when it is still going 120 s past its duration. */
function armHardStop (durationSeconds: number): NodeJS.Timeout {
  const hardStop = setTimeout(() => {
    console.error('soak: still running 120 s past its duration; stopping')
    killAllChildren()
    process.exit(2)
  }, (durationSeconds + 120) * 1000)
  hardStop.unref()
  return hardStop
}

/** dynalite, then the app (with `--expose-gc`, for the retained-heap figure) on it, each in its own process. */
async function startSoakChildren (ttlSeconds: number): Promise<{ dynamo: Child<DynamoInfo>, app: Child<AppInfo> }> {
  const dynamo = await startChild<DynamoInfo>(benchFile('dynamo-server'))
  const app = await startChild<AppInfo>(benchFile('soak'), {
    args: [APP_ROLE],
    env: { ...process.env, SOAK_DYNAMO: dynamo.info.direct, SOAK_TTL: String(ttlSeconds) },
    execArgv: [...process.execArgv, '--expose-gc']
  })
  return { dynamo, app }
}

async function soak (args: SoakArgs): Promise<void> {
  const hardStop = armHardStop(args.duration)
  const { dynamo, app } = await startSoakChildren(args.ttl)
  console.log(`soak: ${args.duration} s, ${args.sessions} session slots, ${args.concurrency} in flight, ttl ${args.ttl} s, ` +
    `reaper every 10 s; app pid ${app.pid}, dynalite pid ${dynamo.info.pid}`)
  console.log('    t  req/s  p99 ms  5xx  distinct   RSS MB  heap MB  retained MB  ' +
    'ELD p99 ms  ELD max ms  reaper ok/fail  reaped  live rows')

  const totals: Totals = {
    requests: 0, ok: 0, clientErrors: 0, serverErrors: 0, failures: 0, created: 0, regenerated: 0, expiredSeen: 0
  }
  const latency = createHistogram()
  const started = Date.now()
  const deadline = started + args.duration * 1000
  const rows: Row[] = []
  let last = { t: started, requests: 0 }
  const sample = async (): Promise<void> => {
    const s = await app.call<AppSample>('sample')
    const now = Date.now()
    const row: Row = {
      t: Math.round((now - started) / 1000),
      rps: Math.round((totals.requests - last.requests) / ((now - last.t) / 1000)),
      latencyP99Ms: Math.round(latency.percentile(99) / 10) / 100,
      serverErrors: totals.serverErrors,
      distinctSessions: totals.created + totals.regenerated,
      app: s
    }
    latency.reset()
    last = { t: now, requests: totals.requests }
    rows.push(row)
    console.log(rowLine(row))
  }
  const timer = setInterval(
    () => { void sample().catch((err: Error) => console.error(`sample failed: ${err.message}`)) },
    args.interval * 1000
  )
  try {
    await drive(app.info.port, { sessions: args.sessions, concurrency: args.concurrency, deadline }, totals, latency)
  } finally {
    clearInterval(timer)
  }
  await sample()
  await app.stop()
  await dynamo.stop()
  clearTimeout(hardStop)

  const v = verdict(rows)
  printSummary(totals, rows)
  console.log(v.text)
  if (args.json !== undefined) writeFileSync(args.json, JSON.stringify({ args, totals, rows, verdict: v }, null, 2))
}

// ---------------------------------------------------------------------------------------------------------------
// --stall: the wait of one request when DynamoDB stalls or throttles, default client.

interface StallCase { name: string, fault: Fault, operations: string[], method: 'GET' | 'POST', url: string, cookie?: string }

/** The faults `--stall` measures; `cookie` names an existing session. */
function stallCases (cookie: string): StallCase[] {
  const read = { method: 'GET', url: '/read', cookie } as const
  const visit = { method: 'POST', url: '/visit' } as const
  return [
    { name: 'stalled read (GetItem never answers)', fault: { kind: 'stall' }, operations: ['GetItem'], ...read },
    { name: 'read answered, write stalls (UpdateItem)', fault: { kind: 'stall' }, operations: ['UpdateItem'], ...visit, cookie },
    { name: 'new session, write stalls (PutItem)', fault: { kind: 'stall' }, operations: ['PutItem'], ...visit },
    { name: 'headers sent, body stalls (GetItem)', fault: { kind: 'stallBody' }, operations: ['GetItem'], ...read },
    { name: 'every attempt throttled (GetItem)', fault: { kind: 'throttle' }, operations: ['GetItem'], ...read },
    { name: 'every attempt a 500 (GetItem)', fault: { kind: 'error5xx' }, operations: ['GetItem'], ...read }
  ]
}

/** Runs one case `trials` times: the last status, the attempts it made, and the shortest and longest wait. */
async function measureStall (app: FastifyInstance, proxy: FaultProxy, c: StallCase, trials: number): Promise<string> {
  const waits: number[] = []
  let status = 0
  let attempts = 0
  for (let i = 0; i < trials; i++) {
    proxy.inject(c.fault, { operations: c.operations })
    const mark = proxy.seen.length
    const started = performance.now()
    const res = await app.inject({ method: c.method, url: c.url, headers: c.cookie === undefined ? {} : { cookie: c.cookie } })
    waits.push(performance.now() - started)
    proxy.heal()
    status = res.statusCode
    attempts = proxy.seen.slice(mark).filter((o) => c.operations.includes(o)).length
  }
  return `${c.name.padEnd(45)} ${String(status).padStart(6)} ${String(attempts).padStart(9)} ` +
    `${Math.min(...waits).toFixed(0).padStart(7)} ${Math.max(...waits).toFixed(0).padStart(7)}`
}

async function stall (trials: number): Promise<void> {
  const closers: Array<() => unknown> = []
  const dynamo = await startChild<DynamoInfo>(benchFile('dynamo-server'))
  const proxy = await startFaultProxy({ teardown: (fn) => closers.push(fn) }, dynamo.info.direct)
  for (const v of ['AWS_MAX_ATTEMPTS', 'AWS_RETRY_MODE', 'AWS_PROFILE', 'AWS_ENDPOINT_URL']) delete process.env[v]
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'soak',
    AWS_SECRET_ACCESS_KEY: 'soak',
    AWS_EC2_METADATA_DISABLED: 'true'
  })
  const admin = new DynamoDBClient({
    endpoint: dynamo.info.direct, region: 'us-east-1', credentials: { accessKeyId: 'soak', secretAccessKey: 'soak' }
  })
  await ensureSessionTable(admin, { tableName: TABLE })
  const app = Fastify({ logger: false })
  await app.register(dynamoSession, { secret: SECRET, tableName: TABLE, reaper: false, metrics: false })
  app.get('/read', async (request) => ({ visits: request.session.get('visits') ?? 0 }))
  app.post('/visit', async (request) => { request.session.set('visits', 1); return {} })
  await app.ready()
  const created = await app.inject({ method: 'POST', url: '/visit' })
  const cookie = String(created.headers['set-cookie']).split(';')[0]!

  console.log(`default client: requestTimeoutMs ${DEFAULT_REQUEST_TIMEOUT_MS} ms per attempt, ${DEFAULT_MAX_ATTEMPTS} attempts, ` +
    `standard retry mode; ${trials} trials per case`)
  console.log('case                                          status  attempts  min ms  max ms')
  for (const c of stallCases(cookie)) console.log(await measureStall(app, proxy, c, trials))
  await app.close()
  admin.destroy()
  for (const close of closers) await close()
  await dynamo.stop()
}

// ---------------------------------------------------------------------------------------------------------------

async function main (): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS)
  // Each flag's default is the one its help shows.
  const positive = (name: string): number => flags.number(name, { above: 0 }) ?? Number(FLAGS[name]!.default)
  if (flags.on('help')) {
    console.log(USAGE)
    return
  }
  if (flags.on('stall')) {
    await stall(Math.floor(positive('trials')))
    return
  }
  await soak({
    duration: positive('duration'),
    sessions: Math.floor(positive('sessions')),
    concurrency: Math.floor(positive('concurrency')),
    interval: positive('interval'),
    ttl: Math.floor(positive('ttl')),
    json: flags.text('json')
  })
}

if (process.argv.includes(APP_ROLE)) {
  serveApp()
} else {
  main().then(() => process.exit(0), (err: Error) => {
    if (err instanceof UsageError) {
      console.error(`soak: ${err.message}\n${USAGE}`)
      process.exit(2)
    }
    console.error(err.stack ?? err.message)
    killAllChildren()
    process.exit(1)
  })
}
