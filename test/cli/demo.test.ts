import t from 'tap'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../src/cli/command.js'
import { main } from '../../src/cli/main.js'
import { CLI_JS, QUIET_SDK, capture, ensureBuilt, run } from '../helpers/cli.js'

t.test('demo command in-process: prints where to look, serves, stops on abort', async (t) => {
  for (const json of [true, false]) {
    const c = capture()
    const stop = new AbortController()
    const running = main(['demo', '--port', '0', '--metrics-port', '0', ...(json ? ['--json'] : [])], { ...c.io, env: {}, signal: stop.signal })
    const first = await Promise.race([c.firstLine, running.then((code) => { throw new Error(`demo exited with ${code}: ${c.err()}`) })])
    let url: string
    let metricsUrl: string
    if (json) {
      const info = JSON.parse(first) as { url: string, endpoint: string, tableName: string, embedded: boolean, randomSecret: boolean, metricsUrl: string }
      t.match(info, { tableName: 'ManejoSesion', embedded: true, randomSecret: true })
      url = info.url
      metricsUrl = info.metricsUrl
    } else {
      url = /(http:\/\/127\.0\.0\.1:\d+)\/$/.exec(first)?.[1] ?? ''
      metricsUrl = /^Metrics: +(http:\/\/127\.0\.0\.1:\d+\/metrics) \(loopback only/m.exec(c.out())?.[1] ?? ''
      t.match(c.out(), 'do not survive a restart', 'says the secret is random for this run')
      t.match(c.out(), 'ManejoSesion')
    }
    const response = await fetch(url + '/')
    t.equal(response.status, 200)
    t.match(await response.text(), 'id="visits">1<')
    t.not(new URL(metricsUrl).port, new URL(url).port, 'metrics on a port of their own')
    t.equal((await fetch(metricsUrl)).status, 200, 'served where it says')
    stop.abort()
    t.equal(await running, EXIT_OK)
    t.match(c.err(), 'Stopping')
    await t.rejects(fetch(url + '/'), 'the app is closed')
  }
})

t.test('demo usage errors', async (t) => {
  for (const args of [['--port', '70000'], ['--port', 'http'], ['--host', ''], ['--table', 'x'], ['--metrics-port', '-1'], ['--metrics-port', '65536']]) {
    const r = await run(['demo', ...args])
    t.equal(r.code, EXIT_USAGE, args.join(' '))
  }
  const r = await run(['demo', '--data-dir', tmpdir()], { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' })
  t.equal(r.code, EXIT_USAGE)
  t.match(r.stderr, 'AWS_ENDPOINT_URL_DYNAMODB')
  const weak = await run(['demo', '--port', '0'], { SESSION_SECRET: 'short' })
  t.equal(weak.code, EXIT_FAILURE)
  t.match(weak.stderr, 'FST_DYNAMO_SESSION_INVALID_SECRET')
  t.notMatch(weak.stderr, 'short', 'the secret is not echoed')
})

t.test('the built demo stops cleanly on SIGTERM', async (t) => {
  ensureBuilt()
  const child = spawn(process.execPath, [CLI_JS, 'demo', '--port', '0', '--metrics-port', '0', '--json'], {
    env: { ...process.env, ...QUIET_SDK, AWS_ENDPOINT_URL_DYNAMODB: '', SESSION_SECRET: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  // A bound for a hung demo, not a wait: the test ends as soon as the demo has exited.
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
  t.teardown(() => { clearTimeout(guard); if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n'))) })
    void exited.then((code) => reject(new Error(`demo exited early with ${code}`)))
  })
  const { url } = JSON.parse(line) as { url: string }
  t.equal((await fetch(url + '/')).status, 200)
  child.kill('SIGTERM')
  t.equal(await exited, EXIT_OK)
})
