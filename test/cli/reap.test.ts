import t from 'tap'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../src/cli/command.js'
import { MAX_REAPER_SEGMENTS } from '../../src/options.js'
import { LEASE_ID } from '../../src/reaper/lease.js'
import { startDynalite, makeClient, createTable } from '../helpers/dynamo.js'
import { seedRows, sessionId, tableIds } from '../helpers/reaper.js'
import { capture, run } from '../helpers/cli.js'
import { main } from '../../src/cli/main.js'
import { checkMetrics } from '../helpers/prometheus.js'
import { METRIC_NAMES } from '../../src/metrics.js'

t.test('usage errors name the flag and send nothing', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['reap', '--once', '--segments', '0'], /--segments must be an integer from 1 to 1000, got '0'/],
    [['reap', '--once', '--max-read-units', 'lots'], /--max-read-units must be a number above 0, got 'lots'/],
    [['reap', '--schedule', 'every minute'], /--schedule: .*reaper\.schedule: expected a cron expression/],
    [['reap', '--once', '--schedule', '*/5 * * * *'], /--schedule applies only without --once/],
    [['reap', '--once', '--metrics-port', '0'], /--metrics-port applies only without --once/],
    [['reap', '--metrics-port', '65536'], /--metrics-port must be an integer from 0 to 65535, got '65536'/],
    [['reap', '--metrics-host', '0.0.0.0'], /--metrics-host applies only with --metrics-port/]
  ]
  for (const [argv, message] of cases) {
    const r = await run([...argv, '--endpoint', 'http://127.0.0.1:9'])
    t.equal(r.code, EXIT_USAGE, argv.join(' '))
    t.match(r.stderr, message)
  }
})

t.test('regression: reap --once --schedule is rejected even when the schedule is the default one', async (t) => {
  for (const argv of [['--once', '--schedule', '* * * * *'], ['--schedule=* * * * *', '--once']]) {
    const r = await run(['reap', ...argv, '--endpoint', 'http://127.0.0.1:9'])
    t.equal(r.code, EXIT_USAGE, argv.join(' '))
    t.equal(r.stdout, '')
    t.match(r.stderr, /^dynamo-session reap: --schedule applies only without --once\nRun 'dynamo-session help reap' for usage\.\n$/)
  }
})

t.test('against dynalite', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const now = Math.floor(Date.now() / 1000)
  const flags = (table: string): string[] => ['--endpoint', dynamo.endpoint, '--table', table]

  t.test('reap --once runs one pass and prints the report', async (t) => {
    const table = await createTable(client)
    // Past its expiry by more than the default grace.
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: now + 3600 }, { id: sessionId(2), expiresAt: now - 3600 }])
    const r = await run(['reap', '--once', ...flags(table)])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.match(r.stdout, /^result: +success$/m)
    t.match(r.stdout, /^deleted: +1$/m)
    t.strictSame(await tableIds(client, table), [LEASE_ID, sessionId(1)].sort())
    const again = await run(['reap', '--once', '--json', ...flags(table)])
    t.match(JSON.parse(again.stdout), { result: 'success', strategy: 'index', scanned: 0, deleted: 0 }, 'auto: the table has the expiry index; the live row is in no due bucket')
    const scanned = await run(['reap', '--once', '--json', '--strategy', 'scan', ...flags(table)])
    t.match(JSON.parse(scanned.stdout), { result: 'success', strategy: 'scan', scanned: 1, deleted: 0 }, '--strategy scan reads the whole table')
    const stats = await run(['stats', ...flags(table)])
    t.match(stats.stdout, /^lease: +free \(last holder .+\)$/m)
    t.match(stats.stdout, /^last pass: +success at /m)
  })

  t.test('regression: reap accepts the bounds the reaper options accept (no lease or pass maximum of its own)', async (t) => {
    const table = await createTable(client)
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: now - 3600 }])
    // The segments bound is checked without a pass: a thousand parallel Scans would only load dynalite.
    const r = await run(['reap', '--once', '--json', ...flags(table),
      '--lease-seconds', '86401', '--max-pass-seconds', '86401', '--max-read-units', '2000000', '--max-write-units', '2000000'])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.match(JSON.parse(r.stdout), { result: 'success', deleted: 1 })
    const over = await run(['reap', '--once', ...flags(table), '--segments', String(MAX_REAPER_SEGMENTS + 1)])
    t.equal(over.code, EXIT_USAGE)
    t.match(over.stderr, `--segments must be an integer from 1 to ${MAX_REAPER_SEGMENTS}`)
  })

  t.test('reap --leases takes each lease group in turn: one pass covers every group', async (t) => {
    const table = await createTable(client)
    await seedRows(client, table, Array.from({ length: 12 }, (_, i) => ({ id: sessionId(i), expiresAt: now - 3600 })))
    const r = await run(['reap', '--once', '--json', ...flags(table), '--leases', '3', '--segments', '3'])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.match(JSON.parse(r.stdout), { result: 'success', deleted: 12, conflicts: 0 })
    t.strictSame(await tableIds(client, table), [LEASE_ID, `${LEASE_ID}-1`, `${LEASE_ID}-2`].sort())
    const over = await run(['reap', '--once', ...flags(table), '--leases', '1001'])
    t.equal(over.code, EXIT_USAGE)
    t.match(over.stderr, '--leases must be an integer from 1 to 1000')
  })

  t.test('reap --once exits 1 when the pass fails', async (t) => {
    const r = await run(['reap', '--once', '--endpoint', dynamo.endpoint, '--table', 'no_such_table'])
    t.equal(r.code, EXIT_FAILURE)
    t.match(r.stdout, /^result: +failure$/m)
    t.match(r.stderr, /^error: reaper pass failed: could not take the lease \(ResourceNotFoundException: /m)
  })

  t.test('reap runs the schedule until stopped (one tick a second, bounded)', async (t) => {
    const table = await createTable(client)
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: now - 3600 }])
    const stop = new AbortController()
    // A bound, not a wait: the test stops the CLI at its first report; a loaded machine may need many seconds.
    const timer = setTimeout(() => stop.abort(), 120_000)
    t.teardown(() => clearTimeout(timer))
    // A tick that comes while the first pass still runs (a loaded machine) prints `skipped` first: wait for a pass.
    const ran = (stdout: string): Record<string, unknown> | undefined => stdout.split('\n').filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>).find((report) => report.result !== 'skipped')
    const r = await run(['reap', '--schedule', '* * * * * *', '--json', ...flags(table)], {}, {
      signal: stop.signal,
      onOutput: (stdout) => { if (stdout.endsWith('\n') && ran(stdout) !== undefined) stop.abort() }
    })
    t.equal(r.code, EXIT_OK)
    t.match(ran(r.stdout), { result: 'success', deleted: 1 })
    t.match(r.stderr, /Stopping \(abort\)/)
    t.strictSame(await tableIds(client, table), [LEASE_ID])
  })

  t.test('reap --metrics-port serves the plugin\'s metrics on the plugin\'s metrics server (loopback by default)', async (t) => {
    const table = await createTable(client)
    await seedRows(client, table, [{ id: sessionId(1), expiresAt: now - 3600 }, { id: sessionId(2), expiresAt: now + 3600 }])
    const stop = new AbortController()
    // A bound, not a wait: the test stops the CLI once it has scraped; a loaded machine may need many seconds.
    const timer = setTimeout(() => stop.abort(), 120_000)
    t.teardown(() => clearTimeout(timer))
    let firstPass: (stdout: string) => void = () => {}
    const passed = new Promise<string>((resolve) => { firstPass = resolve })
    const running = run(['reap', '--schedule', '* * * * * *', '--metrics-port', '0', ...flags(table)], {}, {
      signal: stop.signal,
      onOutput: (stdout) => { if (/^\S+ success: /m.test(stdout)) firstPass(stdout) }
    })
    const ended = async (): Promise<never> => {
      const r = await running
      throw new Error(`reap ended (${r.code}) before its first successful pass: ${r.stderr}`)
    }
    const stdout = await Promise.race([passed, ended()])
    const url = /^Metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(stdout)?.[1]
    t.ok(url !== undefined, `the bound address is printed: ${stdout}`)
    const response = await fetch(url!)
    const text = await response.text()
    stop.abort()
    const r = await running
    t.equal(r.code, EXIT_OK, r.stderr)
    t.equal(response.status, 200)
    t.match(text, new RegExp(`^${METRIC_NAMES.reapedTotal} 1$`, 'm'), 'the pass\'s deletion is counted')
    t.match(text, new RegExp(`^${METRIC_NAMES.reaperRunsTotal}\\{result="success"\\} [1-9]`, 'm'))
    t.match(text, new RegExp(`^${METRIC_NAMES.activeSessions} 1$`, 'm'), 'the table figures of the lease item')
    t.match(text, new RegExp(`^${METRIC_NAMES.reaperIntervalSeconds} 1$`, 'm'), 'the schedule\'s period')
    for (const name of Object.values(METRIC_NAMES)) t.match(text, `# TYPE ${name} `, `${name} is exported, as by the plugin`)
    const check = await checkMetrics(text)
    t.equal(check.stdout + check.stderr, '', 'promtool has nothing to say')
    t.equal(check.code, 0, 'promtool check metrics passes')
    await t.rejects(fetch(url!), 'the server is closed with the reaper')
  })

  t.test('reap --json --metrics-port keeps stdout for the reports: the address goes to stderr', async (t) => {
    const table = await createTable(client)
    const stop = new AbortController()
    const timer = setTimeout(() => stop.abort(), 120_000)
    t.teardown(() => clearTimeout(timer))
    let firstLine: () => void = () => {}
    const lined = new Promise<void>((resolve) => { firstLine = resolve })
    const c = capture((stdout) => { if (stdout.includes('\n')) firstLine() })
    const running = main(['reap', '--schedule', '* * * * * *', '--json', '--metrics-port', '0', '--metrics-host', '127.0.0.1', ...flags(table)],
      { ...c.io, env: {}, signal: stop.signal })
    await Promise.race([lined, running.then((code) => { throw new Error(`reap ended (${code}) before its first pass: ${c.err()}`) })])
    const url = /^Metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(c.err())?.[1]
    const status = url === undefined ? 0 : (await fetch(url)).status
    stop.abort()
    t.equal(await running, EXIT_OK, c.err())
    t.ok(url !== undefined, `the address is on stderr: ${c.err()}`)
    t.equal(status, 200)
    // A tick during the first pass (a loaded machine) reports `skipped`: every line is a report all the same.
    const reports = c.out().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { result: string })
    t.ok(reports.length > 0 && reports.every((report) => ['success', 'skipped'].includes(report.result)), 'stdout holds pass reports only')
  })
})
