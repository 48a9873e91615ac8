import t from 'tap'
import { Registry } from 'prom-client'
import {
  resolveOptions, resolveReaperOptions, resolveTableShape,
  DEFAULT_REAPER_SCHEDULE, DEFAULT_REAPER_SEGMENTS, DEFAULT_REAPER_GRACE_SECONDS, DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND,
  DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND, DEFAULT_REAPER_LEASE_SECONDS, DEFAULT_METRICS_ROUTE, DEFAULT_METRICS_HOST
} from '../../src/options.js'
import { SECRET } from '../helpers/app.js'

const resolve = (extra: Record<string, unknown>): ReturnType<typeof resolveOptions> => resolveOptions({ secret: SECRET, ...extra })

t.test('defaults', async (t) => {
  const o = resolve({})
  t.same(o.reaper, {
    schedule: DEFAULT_REAPER_SCHEDULE,
    segments: DEFAULT_REAPER_SEGMENTS,
    graceSeconds: DEFAULT_REAPER_GRACE_SECONDS,
    maxReadUnitsPerSecond: DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND,
    maxWriteUnitsPerSecond: DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND,
    leaseSeconds: DEFAULT_REAPER_LEASE_SECONDS,
    maxPassSeconds: undefined
  })
  t.same([DEFAULT_REAPER_SCHEDULE, DEFAULT_REAPER_SEGMENTS, DEFAULT_REAPER_GRACE_SECONDS, DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND,
    DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND, DEFAULT_REAPER_LEASE_SECONDS], ['* * * * *', 1, 60, 20, 10, 30], 'the documented values')
  t.strictSame(o.metrics, { registry: undefined, route: DEFAULT_METRICS_ROUTE, port: undefined, host: DEFAULT_METRICS_HOST })
  t.equal(DEFAULT_METRICS_ROUTE, '/metrics')
  t.equal(DEFAULT_METRICS_HOST, '127.0.0.1')
  t.ok(Object.isFrozen(o.reaper) && Object.isFrozen(o.metrics))
  t.same(resolve({ reaper: undefined, metrics: undefined }).reaper, o.reaper)
})

t.test('explicit values are kept, including false and 0', async (t) => {
  const registry = new Registry()
  const o = resolve({
    reaper: { schedule: '*/10 * * * * *', segments: 8, graceSeconds: 0, maxReadUnitsPerSecond: 0.5, maxWriteUnitsPerSecond: 2.5, leaseSeconds: 5, maxPassSeconds: 7 },
    metrics: { registry, route: false }
  })
  t.same(o.reaper, { schedule: '*/10 * * * * *', segments: 8, graceSeconds: 0, maxReadUnitsPerSecond: 0.5, maxWriteUnitsPerSecond: 2.5, leaseSeconds: 5, maxPassSeconds: 7 })
  t.equal(o.metrics !== false && o.metrics.registry, registry)
  t.equal(o.metrics !== false && o.metrics.route, false)
  t.equal(resolve({ reaper: { schedule: false } }).reaper !== false && (resolve({ reaper: { schedule: false } }).reaper as { schedule: unknown }).schedule, false)
  t.equal(resolve({ reaper: false }).reaper, false)
  t.equal(resolve({ metrics: false }).metrics, false)
  t.strictSame(resolve({ metrics: { route: '/internal/metrics' } }).metrics, { registry: undefined, route: '/internal/metrics', port: undefined, host: '127.0.0.1' })
  t.strictSame(resolve({ metrics: { port: 0 } }).metrics, { registry: undefined, route: '/metrics', port: 0, host: '127.0.0.1' }, 'port 0 is kept')
  t.strictSame(resolve({ metrics: { port: 65_535, host: '::', route: '/m' } }).metrics, { registry: undefined, route: '/m', port: 65_535, host: '::' })
})

t.test('a registry from another copy of prom-client is accepted', async (t) => {
  const foreign = { registerMetric () {}, metrics: async () => '', getSingleMetric: () => undefined }
  const o = resolve({ metrics: { registry: foreign } })
  t.equal(o.metrics !== false && o.metrics.registry, foreign)
})

t.test('wrong values: coded errors naming the option and what was received', async (t) => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ reaper: true }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper: expected an object or false, got true/],
    [{ reaper: [] }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper: expected an object or false, got an array/],
    [{ metrics: 'yes' }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics: expected an object or false, got 'yes'/],
    [{ reaper: { schedule: 'every minute' } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.schedule: expected a cron expression/],
    [{ reaper: { schedule: '61 * * * *' } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /got '61 \* \* \* \*'/],
    [{ reaper: { schedule: true } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.schedule/],
    [{ reaper: { segments: 0 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.segments: expected a positive integer, got 0/],
    [{ reaper: { segments: 1001 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.segments: expected an integer from 1 to 1000, got 1001/],
    [{ reaper: { segments: 1.5 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.segments/],
    [{ reaper: { graceSeconds: -1 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.graceSeconds: expected a non-negative integer, got -1/],
    [{ reaper: { maxReadUnitsPerSecond: 0 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.maxReadUnitsPerSecond: expected a positive number, got 0/],
    [{ reaper: { maxWriteUnitsPerSecond: Number.POSITIVE_INFINITY } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.maxWriteUnitsPerSecond/],
    [{ reaper: { maxWriteUnitsPerSecond: '5' } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /got '5'/],
    [{ reaper: { leaseSeconds: 0 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.leaseSeconds/],
    [{ reaper: { maxPassSeconds: 0 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.maxPassSeconds/],
    [{ metrics: { registry: {} } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.registry: expected a prom-client Registry, got a object/],
    [{ metrics: { registry: null } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.registry/],
    [{ metrics: { route: 'metrics' } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.route: expected a path starting with '\/' or false, got 'metrics'/],
    [{ metrics: { route: true } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.route/],
    [{ reaper: { schedual: '* * * * *' } }, 'FST_DYNAMO_SESSION_UNKNOWN_OPTION', /reaper\.schedual/],
    [{ metrics: { port: -1 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.port: expected a non-negative integer, got -1/],
    [{ metrics: { port: 65_536 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.port: expected an integer from 0 to 65535, got 65536/],
    [{ metrics: { port: 9464.5 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.port/],
    [{ metrics: { port: '9464' } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.port: expected a non-negative integer, got '9464'/],
    [{ metrics: { port: 9464, host: '' } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.host: expected a non-empty string, got ''/],
    [{ metrics: { port: 9464, host: 127 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.host/],
    [{ metrics: { host: '127.0.0.1' } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.host: expected metrics\.port to be set as well/],
    [{ metrics: { port: 9464, route: false } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /metrics\.route: expected a path when metrics\.port is set, got false/],
    [{ metrics: { path: '/m' } }, 'FST_DYNAMO_SESSION_UNKNOWN_OPTION', /metrics\.path \(known options: registry, route, port, host\)/]
  ]
  for (const [options, code, message] of cases) {
    t.throws(() => resolve(options), { code, message }, JSON.stringify(options))
  }
})

t.test('regression: the table shape and the reaper options resolve on their own, without a secret (the CLI uses them)', async (t) => {
  const full = resolve({ tableName: 'sessions_x', idAttribute: 'pk', reaper: { segments: 4 } })
  const { tableName, idAttribute, expiresAttribute, dataAttribute, createdAttribute, touchedAttribute } = full
  t.same(resolveTableShape({ tableName: 'sessions_x', idAttribute: 'pk' }), { tableName, idAttribute, expiresAttribute, dataAttribute, createdAttribute, touchedAttribute })
  t.ok(Object.isFrozen(resolveTableShape({})))
  t.same(resolveReaperOptions({ segments: 4 }), full.reaper)
  t.equal(resolveReaperOptions(false), false)
  t.throws(() => resolveTableShape({ tableName: 'ab' }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION', message: /tableName/ })
  t.throws(() => resolveTableShape({ idAttribute: 'k', expiresAttribute: 'k' }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION', message: /expiresAttribute/ })
  t.throws(() => resolveReaperOptions({ segments: 0 }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION', message: /reaper\.segments/ })
  t.throws(() => resolveReaperOptions({ schedual: '* * * * *' }), { code: 'FST_DYNAMO_SESSION_UNKNOWN_OPTION' })
})
