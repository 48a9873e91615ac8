import t from 'tap'
import type { AddressInfo } from 'node:net'
import { Reaper } from '../../src/reaper/reaper.js'
import { buildApp, cookieFrom } from '../helpers/app.js'
import { createTable, makeClient, putRow, startDynalite } from '../helpers/dynamo.js'
import {
  dashboardFiles, dashboardQueries, loadDashboard, rulesWithFor, startPrometheus, substituteVariables, waitFor,
  type PromAlert, type PromSample, type PrometheusServer
} from '../helpers/prometheus.js'

// Every 3 s: the stalled alert's threshold is 3 intervals, 9 s, well above the ~4 s a running reaper's
// last success can be old when Prometheus (scrape and evaluation every 1 s) looks at it.
const SCHEDULE = '*/3 * * * * *'
const JOB = 'dynamo-session'
const EXPIRED_ROWS = 5
const STALLED = 'DynamoSessionReaperStalled'
// The bound of each wait below: waits end as soon as Prometheus shows the series, so only a failure (or a very
// loaded machine) waits this long.
const WINDOW_MS = 90_000

async function firstSeries (prometheus: PrometheusServer, expr: string, deadline: number): Promise<PromSample[]> {
  let last: PromSample[] = []
  await waitFor(`series for ${expr}`, async () => {
    last = await prometheus.query(expr)
    return last.length > 0 ? true : undefined
  }, Math.max(0, deadline - Date.now())).catch(() => undefined)
  return last
}

function active (alerts: PromAlert[], name: string): PromAlert[] {
  return alerts.filter((a) => a.labels.alertname === name)
}

t.test('dashboard queries and the stalled-reaper alert against a real Prometheus scraping the plugin', { timeout: 600_000 }, async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const table = await createTable(client)
  // Scraped as the README recommends: on the metrics server's own loopback port, not on the app's.
  const app = await buildApp(t, client, table, { reaper: { schedule: SCHEDULE }, metrics: { port: 0 } })
  const { port } = app.sessionMetricsAddress as AddressInfo
  const reaper = app.sessionReaper
  if (!(reaper instanceof Reaper)) throw new Error('the plugin did not register a reaper')
  t.equal(reaper.intervalSeconds, 3, 'the schedule runs a pass every 3 s')

  // The shipped rules, with every `for:` at 1 s so that the alert fires within the test.
  const prometheus = await startPrometheus(t, {
    targets: [`127.0.0.1:${port}`],
    jobName: JOB,
    rules: { 'dynamo-session.rules.yml': await rulesWithFor('1s') }
  })
  await waitFor('the first scrape of the app', async () => (await prometheus.query(`up{job="${JOB}"} == 1`)).length > 0 ? true : undefined, WINDOW_MS)

  // Request-path traffic: sessions created and loaded, one destroyed, one invalid cookie.
  const cookies: string[] = []
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ method: 'POST', url: '/set', payload: { user: `u${i}` } })
    t.equal(res.statusCode, 200)
    cookies.push(cookieFrom(res.headers['set-cookie']) as string)
  }
  for (const cookie of cookies) t.equal((await app.inject({ url: '/get?key=user', headers: { cookie } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: cookies[0] as string } })).statusCode, 200)
  await app.inject({ url: '/get', headers: { cookie: 'sessionId=not-a-signed-id' } })

  // Rows past their expiry that DynamoDB's TTL has not removed yet, and one whose expiry is not a number.
  const nowSeconds = Math.floor(Date.now() / 1000)
  for (let i = 0; i < EXPIRED_ROWS; i++) {
    await putRow(client, table, { Sesion_Id: { S: `expired-row-${i}` }, Expire_Session: { N: String(nowSeconds - 600 - 60 * i) }, Data: { M: {} } })
  }
  await putRow(client, table, { Sesion_Id: { S: 'row-with-invalid-expiry' }, Expire_Session: { S: 'tomorrow' }, Data: { M: {} } })

  // Scheduled passes delete them; wait until Prometheus has scraped that.
  const reaped = await firstSeries(prometheus, `dynamo_session_reaped_total{job="${JOB}"} >= ${EXPIRED_ROWS}`, Date.now() + WINDOW_MS)
  t.equal(reaped.length, 1, 'Prometheus scraped the deletes of the scheduled passes')
  const lag = await firstSeries(prometheus, `dynamo_session_ttl_lag_seconds_sum{job="${JOB}"} >= ${EXPIRED_ROWS * 600}`, Date.now() + WINDOW_MS)
  t.equal(lag.length, 1, 'each deleted row was observed about 10 minutes or more past its expiry')
  const invalid = await firstSeries(prometheus, `dynamo_session_invalid_expiry_sessions{job="${JOB}"} == 1`, Date.now() + WINDOW_MS)
  t.equal(invalid.length, 1, 'the invalid row is counted and left alone')

  // Every panel query and variable selector, variables substituted as Grafana would with "All", returns a series.
  const deadline = Date.now() + WINDOW_MS
  let queries = 0
  for (const file of await dashboardFiles()) {
    for (const { where, expr } of dashboardQueries(await loadDashboard(file))) {
      const substituted = substituteVariables(expr)
      const series = await firstSeries(prometheus, substituted, deadline)
      t.ok(series.length > 0, `${where} returns a series`, { expr: substituted })
      queries++
    }
  }
  t.ok(queries >= 20, `${queries} queries evaluated`)

  const running = await prometheus.alerts()
  t.strictSame(active(running, STALLED), [], 'no stalled alert while the reaper runs')
  // dynalite shares our clock: what remains is the Date header's 1-second resolution, far below the alert.
  const skew = await firstSeries(prometheus, `abs(dynamo_session_clock_skew_seconds{job="${JOB}"}) < 5`, Date.now() + 10_000)
  t.equal(skew.length, 1, 'the clock skew is scraped, and small')
  t.strictSame(active(running, 'DynamoSessionClockSkew'), [], 'no clock-skew alert')

  // Stop the reaper (what fastify.close() does first); the app keeps serving its metrics.
  await reaper.close()
  let alerts: PromAlert[] = []
  await waitFor(`${STALLED} to fire`, async () => {
    alerts = await prometheus.alerts()
    return active(alerts, STALLED).some((a) => a.state === 'firing') ? true : undefined
  }, WINDOW_MS).catch(() => undefined)
  const stalled = active(alerts, STALLED).filter((a) => a.state === 'firing')
  t.equal(stalled.length, 1, `${STALLED} fires once the reaper has stopped`, { log: stalled.length === 0 ? prometheus.log() : undefined })
  t.equal(stalled[0]?.labels.job, JOB)
  t.equal(stalled[0]?.labels.severity, 'warning')
  t.match(stalled[0]?.annotations.runbook_url, /#dynamosessionreaperstalled$/)
  t.ok(Number(stalled[0]?.value) > 9, 'the last success is more than 3 intervals old')
  t.strictSame(active(alerts, 'DynamoSessionReaperFailing'), [], 'a stopped reaper is not reported as failing')
  t.strictSame(active(alerts, 'DynamoSessionMetricsAbsent'), [], 'the metrics are still scraped')

  await prometheus.stop()
  await app.close()
})
