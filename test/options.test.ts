import { readFileSync } from 'node:fs'
import t from 'tap'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { Registry } from 'prom-client'
import {
  DEFAULT_CONSISTENT_READ, DEFAULT_COOKIE_NAME, DEFAULT_COOKIE_PATH, DEFAULT_HTTPS_COOKIE_NAME, DEFAULT_CREATED_ATTRIBUTE, DEFAULT_DATA_ATTRIBUTE,
  DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_ID_ATTRIBUTE, DEFAULT_ON_STORE_ERROR, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SAME_SITE,
  DEFAULT_TABLE_NAME, DEFAULT_TOMBSTONE_SECONDS, DEFAULT_TOUCH_FRACTION, DEFAULT_TOUCHED_ATTRIBUTE, DEFAULT_TTL_SECONDS, MIN_SECRET_LENGTH,
  resolveOptions
} from '../src/options.js'
import {
  DEFAULT_METRICS_HOST, DEFAULT_METRICS_ROUTE, DEFAULT_REAPER_GRACE_SECONDS, DEFAULT_REAPER_LEASE_SECONDS, DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND,
  DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND, DEFAULT_REAPER_SCHEDULE, DEFAULT_REAPER_SEGMENTS, resolveReaperOptions, resolveTableShape
} from '../src/options.js'
import { DEFAULT_REAPER_UNSCHEDULED_PASS_SECONDS, defaultMaxPassSeconds } from '../src/options.js'
import { DEFAULT_BUCKET_ATTRIBUTE, DEFAULT_BUCKET_SECONDS, DEFAULT_EXPIRY_INDEX_NAME, DEFAULT_EXPIRY_INDEX_SHARDS, DEFAULT_SHARD_ATTRIBUTE } from '../src/options.js'

const SECRET = 'a-test-secret-that-is-long-enough-0123456789'
const OTHER = 'another-secret-that-is-long-enough-abcdefgh'
const INVALID = 'FST_DYNAMO_SESSION_INVALID_OPTION'
const UNKNOWN = 'FST_DYNAMO_SESSION_UNKNOWN_OPTION'
const BAD_SECRET = 'FST_DYNAMO_SESSION_INVALID_SECRET'

function errorOf (fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a throw')
}

t.test('defaults, each from its named constant', async (t) => {
  const o = resolveOptions({ secret: SECRET })
  t.strictSame(o.secrets, [SECRET])
  t.equal(o.client, undefined)
  t.equal(o.tableName, DEFAULT_TABLE_NAME)
  t.equal(o.idAttribute, DEFAULT_ID_ATTRIBUTE)
  t.equal(o.expiresAttribute, DEFAULT_EXPIRES_ATTRIBUTE)
  t.equal(o.dataAttribute, DEFAULT_DATA_ATTRIBUTE)
  t.equal(o.createdAttribute, DEFAULT_CREATED_ATTRIBUTE)
  t.equal(o.touchedAttribute, DEFAULT_TOUCHED_ATTRIBUTE)
  t.equal(o.ttlSeconds, DEFAULT_TTL_SECONDS)
  t.equal(o.touchAfterSeconds, Math.floor(DEFAULT_TTL_SECONDS / DEFAULT_TOUCH_FRACTION))
  t.equal(o.absoluteTimeoutSeconds, undefined)
  t.equal(o.consistentRead, DEFAULT_CONSISTENT_READ)
  t.equal(o.onStoreError, DEFAULT_ON_STORE_ERROR)
  t.equal(o.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS)
  t.equal(o.createTable, 'auto')
  t.equal(o.now, Date.now)
  t.strictSame(o.cookie, {
    name: DEFAULT_COOKIE_NAME,
    httpsName: DEFAULT_HTTPS_COOKIE_NAME,
    legacyName: undefined,
    path: DEFAULT_COOKIE_PATH,
    domain: undefined,
    httpOnly: true,
    sameSite: DEFAULT_SAME_SITE,
    secure: 'auto',
    partitioned: false
  })
  // The data model of the original tutorial.
  t.strictSame(
    [DEFAULT_TABLE_NAME, DEFAULT_ID_ATTRIBUTE, DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_DATA_ATTRIBUTE, DEFAULT_TTL_SECONDS],
    ['ManejoSesion', 'Sesion_Id', 'Expire_Session', 'Data', 300]
  )
  t.equal(DEFAULT_COOKIE_NAME, 'sessionId')
  t.equal(DEFAULT_HTTPS_COOKIE_NAME, '__Host-sessionId')
  t.equal(DEFAULT_SAME_SITE, 'lax')
  t.equal(DEFAULT_CONSISTENT_READ, 'on-miss')
  t.equal(DEFAULT_ON_STORE_ERROR, 'fail')
  t.equal(MIN_SECRET_LENGTH, 32)
})

t.test('touchAfterSeconds defaults to a fifth of ttlSeconds, rounded down', async (t) => {
  t.equal(resolveOptions({ secret: SECRET, ttlSeconds: 3600 }).touchAfterSeconds, 720)
  t.equal(resolveOptions({ secret: SECRET, ttlSeconds: 7 }).touchAfterSeconds, 1)
  t.equal(resolveOptions({ secret: SECRET, ttlSeconds: 4 }).touchAfterSeconds, 0)
  t.equal(resolveOptions({ secret: SECRET, ttlSeconds: 1 }).touchAfterSeconds, 0)
})

// Every "Defaults to `X`" in the JSDoc of the option interfaces names the value resolveOptions() really applies.
t.test('each JSDoc "Defaults to" matches the resolved default', async (t) => {
  const source = readFileSync(new URL('../src/options.ts', import.meta.url), 'utf8')
  const fieldsOf = (name: string): Array<{ field: string, doc: string }> => {
    const start = source.indexOf(`export interface ${name} {`)
    if (start < 0) return []
    const text = source.slice(start, source.indexOf('\n}\n', start))
    return [...text.matchAll(/\/\*\*([^]*?)\*\/\s*\n\s*(\w+)\??:/g)].map((m) => ({ field: m[2]!, doc: m[1]!.replace(/\s*\n\s*\*\s*/g, ' ') }))
  }
  const base = { secret: SECRET }
  const resolved = resolveOptions(base) as unknown as Record<string, unknown>
  const sections: Array<[string, string | undefined]> = [
    ['DynamoSessionOptions', undefined], ['SessionCookieOptions', 'cookie'], ['ReaperOptions', 'reaper'], ['MetricsOptions', 'metrics']
  ]
  // Defaults that are not a literal: checked by hand.
  const special: Record<string, (doc: string, actual: unknown) => void> = {
    client: (doc, actual) => { t.match(doc, /Defaults to one built from the environment/); t.equal(actual, undefined) },
    touchAfterSeconds: (doc) => t.match(doc, new RegExp(`Defaults to \`ttlSeconds / ${DEFAULT_TOUCH_FRACTION}\` rounded down`)),
    absoluteTimeoutSeconds: (doc, actual) => { t.match(doc, /Defaults to none\./); t.equal(actual, undefined) },
    'cookie.domain': (doc, actual) => { t.match(doc, /Defaults to none/); t.equal(actual, undefined) },
    'cookie.name': (doc, actual) => {
      t.match(doc, `Defaults to \`'${DEFAULT_HTTPS_COOKIE_NAME}'\` on https requests and \`'${DEFAULT_COOKIE_NAME}'\` on http`)
      t.equal(actual, DEFAULT_COOKIE_NAME)
      t.equal((resolved.cookie as Record<string, unknown>).httpsName, DEFAULT_HTTPS_COOKIE_NAME)
    },
    'cookie.legacyName': (doc, actual) => { t.match(doc, /Defaults to none\./); t.equal(actual, undefined) }
  }
  let checked = 0
  for (const [iface, parent] of sections) {
    const holder = (parent === undefined ? resolved : resolved[parent]) as Record<string, unknown>
    for (const { field, doc } of fieldsOf(iface)) {
      const name = parent === undefined ? field : `${parent}.${field}`
      const actual = holder[field]
      if (name === 'secret') { t.match(doc, /Required\./); continue }
      if (name === 'cookie') continue
      t.match(doc, /Defaults to /, `${name} documents its default`)
      const handler = special[name]
      if (handler !== undefined) { handler(doc, actual); checked++; continue }
      const m = /Defaults to `([^`]+)`/.exec(doc)
      if (m === null) continue
      const literal = m[1]!
      checked++
      if (literal === 'Date.now') { t.equal(actual, Date.now, `${name} defaults to Date.now`); continue }
      const expected: unknown = literal.startsWith("'") ? literal.slice(1, -1) : JSON.parse(literal)
      if (typeof expected === 'object' && expected !== null) {
        // `{}`: leaving the option out is the same as passing an empty object.
        t.strictSame(actual, (resolveOptions({ ...base, [field]: expected }) as unknown as Record<string, unknown>)[field], `${name} defaults to ${literal}`)
      } else {
        t.equal(actual, expected, `${name} defaults to ${literal}`)
      }
    }
  }
  t.ok(checked >= 22, `checked ${checked} documented defaults`)
})

t.test('explicit false and 0 are kept, not replaced by defaults', async (t) => {
  const o = resolveOptions({
    secret: SECRET,
    touchAfterSeconds: 0,
    createTable: false,
    cookie: { httpOnly: false, secure: false, partitioned: false }
  })
  t.equal(o.touchAfterSeconds, 0)
  t.equal(o.createTable, false)
  t.equal(o.cookie.httpOnly, false)
  t.equal(o.cookie.secure, false)
  t.equal(o.cookie.partitioned, false)
  const on = resolveOptions({ secret: SECRET, createTable: true, cookie: { secure: true, partitioned: true } })
  t.equal(on.createTable, true)
  t.equal(on.cookie.secure, true)
  t.equal(on.cookie.partitioned, true)
})

t.test('explicit values are used', async (t) => {
  const client = new DynamoDBClient({ region: 'us-east-1' })
  t.teardown(() => client.destroy())
  const now = (): number => 42
  const o = resolveOptions({
    secret: [SECRET, OTHER],
    client,
    tableName: 'my.table-1',
    idAttribute: 'pk',
    expiresAttribute: 'ttl',
    dataAttribute: 'd',
    createdAttribute: 'c',
    touchedAttribute: 't',
    ttlSeconds: 3600,
    touchAfterSeconds: 10,
    absoluteTimeoutSeconds: 86400,
    consistentRead: 'always',
    onStoreError: 'anonymous',
    requestTimeoutMs: 250,
    now,
    cookie: { name: 'sid', path: '/app', domain: 'example.com', sameSite: 'strict' }
  })
  t.strictSame(o.secrets, [SECRET, OTHER])
  t.equal(o.client, client)
  t.strictSame(
    [o.tableName, o.idAttribute, o.expiresAttribute, o.dataAttribute, o.createdAttribute, o.touchedAttribute],
    ['my.table-1', 'pk', 'ttl', 'd', 'c', 't']
  )
  t.strictSame([o.ttlSeconds, o.touchAfterSeconds, o.absoluteTimeoutSeconds, o.requestTimeoutMs], [3600, 10, 86400, 250])
  t.equal(o.consistentRead, 'always')
  t.equal(o.onStoreError, 'anonymous')
  t.equal(o.now, now)
  t.strictSame(o.cookie, { name: 'sid', httpsName: 'sid', legacyName: undefined, path: '/app', domain: 'example.com', httpOnly: true, sameSite: 'strict', secure: 'auto', partitioned: false })
  t.equal(resolveOptions({ secret: SECRET, consistentRead: 'never' }).consistentRead, 'never')
})

t.test('the result is frozen, and so are its parts', async (t) => {
  const input = { secret: [SECRET, OTHER], cookie: { name: 'sid' } }
  const o = resolveOptions(input)
  t.ok(Object.isFrozen(o))
  t.ok(Object.isFrozen(o.cookie))
  t.ok(Object.isFrozen(o.secrets))
  t.throws(() => { (o as { ttlSeconds: number }).ttlSeconds = 1 }, TypeError)
  // Later changes to the caller's objects do not leak in.
  input.secret.push('x')
  input.cookie.name = 'changed'
  t.strictSame(o.secrets, [SECRET, OTHER])
  t.equal(o.cookie.name, 'sid')
})

t.test('unknown keys are rejected with a coded error naming them', async (t) => {
  const top = errorOf(() => resolveOptions({ secret: SECRET, ttlSecond: 10 }))
  t.equal(top.code, UNKNOWN)
  t.match(top.message, /ttlSecond\b/)
  const nested = errorOf(() => resolveOptions({ secret: SECRET, cookie: { sameSite: 'lax', maxAge: 10 } }))
  t.equal(nested.code, UNKNOWN)
  t.match(nested.message, /cookie\.maxAge/)
  // Options Fastify itself hands to every plugin are not ours to reject.
  t.doesNotThrow(() => resolveOptions({ secret: SECRET, prefix: '/api', logLevel: 'warn', logSerializers: {} }))
  t.equal(errorOf(() => resolveOptions({ secret: SECRET, cookie: { prefix: '/x' } })).code, UNKNOWN)
})

t.test('wrong types and values are rejected with a message saying what was received', async (t) => {
  const client = new DynamoDBClient({ region: 'us-east-1' })
  t.teardown(() => client.destroy())
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['client', { client: {} }, /client: expected a DynamoDBClient, got a object/],
    ['now', { now: 123 }, /now: .*got 123/],
    ['tableName type', { tableName: 42 }, /tableName: .*got 42/],
    ['tableName too short', { tableName: 'ab' }, /tableName: .*got 'ab'/],
    ['tableName bad characters', { tableName: 'my table' }, /got 'my table'/],
    ['idAttribute empty', { idAttribute: '' }, /idAttribute: .*got ''/],
    ['expiresAttribute type', { expiresAttribute: 1 }, /expiresAttribute: .*got 1/],
    ['dataAttribute null', { dataAttribute: null }, /dataAttribute: .*got null/],
    ['createdAttribute type', { createdAttribute: true }, /createdAttribute: .*got true/],
    ['touchedAttribute array', { touchedAttribute: ['x'] }, /touchedAttribute: .*got an array/],
    ['ttlSeconds zero', { ttlSeconds: 0 }, /ttlSeconds: expected a positive integer, got 0/],
    ['ttlSeconds negative', { ttlSeconds: -5 }, /got -5/],
    ['ttlSeconds fraction', { ttlSeconds: 1.5 }, /got 1\.5/],
    ['ttlSeconds string', { ttlSeconds: '300' }, /ttlSeconds: .*got '300'/],
    ['ttlSeconds NaN', { ttlSeconds: Number.NaN }, /got NaN/],
    ['ttlSeconds Infinity', { ttlSeconds: Infinity }, /got Infinity/],
    ['ttlSeconds unsafe', { ttlSeconds: 2 ** 60 }, /ttlSeconds/],
    ['touchAfterSeconds negative', { touchAfterSeconds: -1 }, /touchAfterSeconds: expected a non-negative integer, got -1/],
    ['touchAfterSeconds == ttlSeconds', { ttlSeconds: 60, touchAfterSeconds: 60 }, /touchAfterSeconds: .*below ttlSeconds \(60\), got 60/],
    ['touchAfterSeconds > ttlSeconds', { ttlSeconds: 60, touchAfterSeconds: 61 }, /got 61/],
    ['absoluteTimeoutSeconds zero', { absoluteTimeoutSeconds: 0 }, /absoluteTimeoutSeconds: .*got 0/],
    ['absoluteTimeoutSeconds null', { absoluteTimeoutSeconds: null }, /absoluteTimeoutSeconds: .*got null/],
    ['consistentRead', { consistentRead: 'strong' }, /consistentRead: expected 'on-miss' or 'always' or 'never', got 'strong'/],
    ['consistentRead boolean', { consistentRead: true }, /consistentRead: .*got true/],
    ['onStoreError', { onStoreError: 'ignore' }, /onStoreError: .*got 'ignore'/],
    ['requestTimeoutMs zero', { requestTimeoutMs: 0 }, /requestTimeoutMs: .*got 0/],
    ['createTable string', { createTable: 'yes' }, /createTable: expected 'auto', true or false, got 'yes'/],
    ['cookie not an object', { cookie: 'sid' }, /cookie: expected an object, got 'sid'/],
    ['cookie null', { cookie: null }, /cookie: .*got null/],
    ['cookie array', { cookie: [] }, /cookie: .*got an array/],
    ['cookie.name with a space', { cookie: { name: 'my sid' } }, /cookie\.name: .*got 'my sid'/],
    ['cookie.name with =', { cookie: { name: 'a=b' } }, /got 'a=b'/],
    ['cookie.name empty', { cookie: { name: '' } }, /cookie\.name: .*got ''/],
    ['cookie.path relative', { cookie: { path: 'app' } }, /cookie\.path: .*got 'app'/],
    ['cookie.path with ;', { cookie: { path: '/a;b' } }, /got '\/a;b'/],
    ['cookie.domain with a space', { cookie: { domain: 'exa mple.com' } }, /cookie\.domain: .*got 'exa mple\.com'/],
    ['cookie.domain number', { cookie: { domain: 5 } }, /cookie\.domain: .*got 5/],
    ['cookie.httpOnly string', { cookie: { httpOnly: 'true' } }, /cookie\.httpOnly: expected a boolean, got 'true'/],
    ['cookie.sameSite capitalised', { cookie: { sameSite: 'Lax' } }, /cookie\.sameSite: .*got 'Lax'/],
    ['cookie.secure string', { cookie: { secure: 'yes' } }, /cookie\.secure: .*got 'yes'/],
    ['cookie.partitioned number', { cookie: { partitioned: 1 } }, /cookie\.partitioned: .*got 1/],
    ['sameSite none without secure', { cookie: { sameSite: 'none', secure: false } }, /cookie\.secure: .*sameSite 'none', got false/],
    ['partitioned without secure', { cookie: { partitioned: true, secure: false } }, /cookie\.secure: .*partitioned, got false/]
  ]
  for (const [name, extra, message] of cases) {
    const err = errorOf(() => resolveOptions({ secret: SECRET, ...extra }))
    t.equal(err.code, INVALID, name)
    t.match(err.message, message, name)
  }
  for (const input of [undefined, null, 'secret', [SECRET]]) {
    const err = errorOf(() => resolveOptions(input))
    t.equal(err.code, INVALID, `options ${String(input)}`)
    t.match(err.message, /options: expected an object, got (undefined|null|'secret'|an array)/)
  }
  // A long received string is shortened in the message.
  const long = errorOf(() => resolveOptions({ secret: SECRET, tableName: 'x'.repeat(300) }))
  t.equal(long.code, INVALID)
  t.ok(long.message.length < 200)
})

t.test('duplicate attribute names are rejected', async (t) => {
  const pairs: Array<Record<string, string>> = [
    { idAttribute: 'Data' },
    { expiresAttribute: 'Sesion_Id' },
    { createdAttribute: 'x', touchedAttribute: 'x' },
    { dataAttribute: 'Expire_Session' }
  ]
  for (const extra of pairs) {
    const err = errorOf(() => resolveOptions({ secret: SECRET, ...extra }))
    t.equal(err.code, INVALID, JSON.stringify(extra))
  }
})

t.test('secret: missing, short, empty array or non-string entries are rejected without echoing it', async (t) => {
  const short = 'short-secret-do-not-print'
  const cases: Array<[string, unknown]> = [
    ['missing', undefined],
    ['too short', short],
    ['one character short', 's'.repeat(MIN_SECRET_LENGTH - 1)],
    ['empty string', ''],
    ['empty array', []],
    ['short entry in an array', [SECRET, short]],
    ['non-string entry', [SECRET, 12345]],
    ['a number', 1e40],
    ['an object', { value: SECRET }],
    ['null', null]
  ]
  for (const [name, secret] of cases) {
    const err = errorOf(() => resolveOptions(secret === undefined ? {} : { secret }))
    t.equal(err.code, BAD_SECRET, name)
    t.notMatch(err.message, short, `${name}: message does not contain the secret`)
    t.notMatch(err.message, SECRET, `${name}: message does not contain the other secret`)
    t.notMatch(err.message, 'sssssss', `${name}: message does not contain the secret`)
  }
  t.strictSame(resolveOptions({ secret: 's'.repeat(MIN_SECRET_LENGTH) }).secrets, ['s'.repeat(MIN_SECRET_LENGTH)])
})

t.test('cookie prefixes: __Host- and __Secure-', async (t) => {
  const host = resolveOptions({ secret: SECRET, cookie: { name: '__Host-sid' } })
  t.equal(host.cookie.secure, true, '__Host- forces Secure even under auto')
  t.equal(host.cookie.path, '/')
  t.equal(host.cookie.domain, undefined)
  t.equal(resolveOptions({ secret: SECRET, cookie: { name: '__Host-sid', secure: true, path: '/' } }).cookie.secure, true)

  const hostDomain = errorOf(() => resolveOptions({ secret: SECRET, cookie: { name: '__Host-sid', domain: 'example.com' } }))
  t.equal(hostDomain.code, INVALID)
  t.match(hostDomain.message, /cookie\.domain.*got 'example\.com'/)
  const hostPath = errorOf(() => resolveOptions({ secret: SECRET, cookie: { name: '__Host-sid', path: '/app' } }))
  t.equal(hostPath.code, INVALID)
  t.match(hostPath.message, /cookie\.path.*got '\/app'/)
  const hostInsecure = errorOf(() => resolveOptions({ secret: SECRET, cookie: { name: '__Host-sid', secure: false } }))
  t.equal(hostInsecure.code, INVALID)
  t.match(hostInsecure.message, /cookie\.secure.*got false/)

  const sec = resolveOptions({ secret: SECRET, cookie: { name: '__Secure-sid', path: '/app', domain: 'example.com' } })
  t.equal(sec.cookie.secure, true, '__Secure- forces Secure, and allows path and domain')
  t.equal(sec.cookie.path, '/app')
  t.equal(sec.cookie.domain, 'example.com')
  t.equal(errorOf(() => resolveOptions({ secret: SECRET, cookie: { name: '__Secure-sid', secure: false } })).code, INVALID)

  // sameSite 'none' needs Secure, which 'auto' and true give.
  t.equal(resolveOptions({ secret: SECRET, cookie: { sameSite: 'none' } }).cookie.secure, 'auto')
  t.equal(resolveOptions({ secret: SECRET, cookie: { sameSite: 'none', secure: true } }).cookie.sameSite, 'none')
})

t.test('the https default name takes __Host- only where the browser accepts it', async (t) => {
  const names = (cookie: Record<string, unknown>): [string, string] => {
    const o = resolveOptions({ secret: SECRET, cookie })
    return [o.cookie.name, o.cookie.httpsName]
  }
  t.strictSame(names({}), ['sessionId', '__Host-sessionId'])
  t.strictSame(names({ secure: true }), ['sessionId', '__Host-sessionId'])
  t.strictSame(names({ path: '/' }), ['sessionId', '__Host-sessionId'])
  t.strictSame(names({ domain: 'example.com' }), ['sessionId', 'sessionId'], 'a domain: exposed to tossing, no prefix possible')
  t.strictSame(names({ path: '/app' }), ['sessionId', 'sessionId'], 'a path: no prefix possible')
  t.strictSame(names({ secure: false }), ['sessionId', 'sessionId'], 'never Secure: no prefix possible')
  t.strictSame(names({ name: 'sessionId' }), ['sessionId', 'sessionId'], 'an explicit name is used as given')
  t.strictSame(names({ name: '__Host-sid' }), ['__Host-sid', '__Host-sid'])
})

t.test('cookie.legacyName: validated at registration', async (t) => {
  const legacy = (legacyName: unknown, cookie: Record<string, unknown> = {}): unknown =>
    resolveOptions({ secret: SECRET, cookie: { ...cookie, legacyName } } as never).cookie.legacyName
  t.strictSame(legacy({ name: 'sessionId', until: '2027-06-30' }), { name: 'sessionId', until: Date.UTC(2027, 5, 30) })
  t.strictSame(legacy({ name: 'sessionId', until: '2027-06-30T12:30:00+02:00' }), { name: 'sessionId', until: Date.UTC(2027, 5, 30, 10, 30) })
  t.strictSame(legacy({ name: 'sid', until: new Date(Date.UTC(2027, 0, 1)) }, { name: '__Host-sid' }), { name: 'sid', until: Date.UTC(2027, 0, 1) })
  t.ok(Object.isFrozen(legacy({ name: 'sessionId', until: '2027-06-30' })))
  const cases: Array<[string, unknown, Record<string, unknown>, string]> = [
    ['a string', 'sessionId', {}, INVALID],
    ['no name', { until: '2027-06-30' }, {}, INVALID],
    ['a name that is no token', { name: 'a b', until: '2027-06-30' }, {}, INVALID],
    ["the cookie's own https name", { name: '__Host-sessionId', until: '2027-06-30' }, {}, INVALID],
    ["the cookie's own explicit name", { name: 'sid', until: '2027-06-30' }, { name: 'sid' }, INVALID],
    ['no until', { name: 'sessionId' }, {}, INVALID],
    ['a local time', { name: 'sessionId', until: '2027-06-30T12:00' }, {}, INVALID],
    ['not a date', { name: 'sessionId', until: 'next summer' }, {}, INVALID],
    ['an impossible date', { name: 'sessionId', until: '2027-13-40' }, {}, INVALID],
    ['a day the month does not have', { name: 'sessionId', until: '2027-02-30' }, {}, INVALID],
    ['an invalid Date', { name: 'sessionId', until: new Date(NaN) }, {}, INVALID],
    ['a number', { name: 'sessionId', until: 1_800_000_000_000 }, {}, INVALID],
    ['an unknown key', { name: 'sessionId', until: '2027-06-30', path: '/' }, {}, UNKNOWN]
  ]
  for (const [label, value, cookie, code] of cases) {
    t.equal(errorOf(() => legacy(value, cookie)).code, code, label)
  }
})

t.test('an explicit __Host- name with a domain, another path or secure: false is rejected at registration', async (t) => {
  for (const cookie of [{ domain: 'example.com' }, { path: '/app' }, { secure: false }]) {
    t.equal(errorOf(() => resolveOptions({ secret: SECRET, cookie: { name: '__Host-sessionId', ...cookie } })).code, INVALID, JSON.stringify(cookie))
  }
})

// The README's options table lists every option with its default.
t.test('README documents every option', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('<!-- SECTION: options -->')
  const section = readme.slice(start, readme.indexOf('<!-- SECTION:', start + 10))
  const source = readFileSync(new URL('../src/options.ts', import.meta.url), 'utf8')
  for (const iface of ['DynamoSessionOptions', 'SessionCookieOptions']) {
    const from = source.indexOf(`export interface ${iface} {`)
    const text = source.slice(from, source.indexOf('\n}\n', from))
    for (const m of text.matchAll(/^\s{2}(\w+)\??:/gm)) {
      const name = iface === 'SessionCookieOptions' ? `cookie.${m[1]!}` : m[1]!
      t.match(section, new RegExp('^\\| `' + name.replace('.', '\\.') + '` \\|', 'm'), `${name} has a row`)
    }
  }
})

// The reaper's and the metrics' own options are tabled on their doc pages, which the README's rows link to.
t.test('docs/reaper.md and docs/operations.md document every reaper and metrics option', async (t) => {
  const source = readFileSync(new URL('../src/options.ts', import.meta.url), 'utf8')
  for (const [iface, prefix, page] of [['ReaperOptions', 'reaper', 'reaper.md'], ['MetricsOptions', 'metrics', 'operations.md'], ['ExpiryIndexOptions', 'expiryIndex', 'reaper.md'], ['OwnerIndexOptions', 'ownerIndex', 'sessions-of-a-user.md']]) {
    const doc = readFileSync(new URL(`../docs/${page!}`, import.meta.url), 'utf8')
    const from = source.indexOf(`export interface ${iface!} {`)
    t.ok(from >= 0, `${iface!} is in options.ts`)
    const names = [...source.slice(from, source.indexOf('\n}\n', from)).matchAll(/^\s{2}(\w+)\??:/gm)].map((m) => m[1]!)
    t.ok(names.length >= 3, `${iface!} has options`)
    for (const name of names) t.match(doc, new RegExp(`^\\| \`${prefix!}\\.${name}\` \\|`, 'm'), `${prefix!}.${name} has a row in docs/${page!}`)
  }
})

t.test('tombstoneSeconds: a positive integer, 60 by default; the tombstone marker is a reserved attribute name', async (t) => {
  t.equal(DEFAULT_TOMBSTONE_SECONDS, 60)
  t.equal(resolveOptions({ secret: SECRET }).tombstoneSeconds, DEFAULT_TOMBSTONE_SECONDS)
  t.equal(resolveOptions({ secret: SECRET, tombstoneSeconds: 1 }).tombstoneSeconds, 1)
  for (const bad of [0, -1, 1.5, '60', null]) {
    t.equal(errorOf(() => resolveOptions({ secret: SECRET, tombstoneSeconds: bad })).code, INVALID, `rejects ${String(bad)}`)
  }
  for (const key of ['idAttribute', 'expiresAttribute', 'dataAttribute', 'createdAttribute', 'touchedAttribute']) {
    t.equal(errorOf(() => resolveOptions({ secret: SECRET, [key]: 'Superseded_At' })).code, INVALID, `${key} cannot be Superseded_At`)
  }
})

// The reaper and metrics sections, and the resolvers the CLI shares.

const resolveWithSecret = (extra: Record<string, unknown>): ReturnType<typeof resolveOptions> => resolveOptions({ secret: SECRET, ...extra })

t.test('reaper and metrics: defaults', async (t) => {
  const o = resolveWithSecret({})
  t.strictSame(o.reaper, {
    schedule: DEFAULT_REAPER_SCHEDULE,
    strategy: 'auto',
    segments: DEFAULT_REAPER_SEGMENTS,
    graceSeconds: DEFAULT_REAPER_GRACE_SECONDS,
    maxReadUnitsPerSecond: DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND,
    maxWriteUnitsPerSecond: DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND,
    leaseSeconds: DEFAULT_REAPER_LEASE_SECONDS,
    backfillReadUnitsPerSecond: 5,
    backfillIntervalSeconds: 86_400,
    leases: 1,
    maxPassSeconds: undefined
  })
  t.strictSame([DEFAULT_REAPER_SCHEDULE, DEFAULT_REAPER_SEGMENTS, DEFAULT_REAPER_GRACE_SECONDS, DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND,
    DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND, DEFAULT_REAPER_LEASE_SECONDS], ['* * * * *', 1, 60, 20, 10, 30], 'the documented values')
  t.strictSame(o.metrics, { registry: undefined, route: DEFAULT_METRICS_ROUTE, port: undefined, host: DEFAULT_METRICS_HOST })
  t.equal(DEFAULT_METRICS_ROUTE, '/metrics')
  t.equal(DEFAULT_METRICS_HOST, '127.0.0.1')
  t.ok(Object.isFrozen(o.reaper) && Object.isFrozen(o.metrics))
  t.strictSame(resolveWithSecret({ reaper: undefined, metrics: undefined }).reaper, o.reaper)
})

t.test('reaper and metrics: explicit values are kept, including false and 0', async (t) => {
  const registry = new Registry()
  const o = resolveWithSecret({
    reaper: { schedule: '*/10 * * * * *', segments: 8, graceSeconds: 0, maxReadUnitsPerSecond: 0.5, maxWriteUnitsPerSecond: 2.5, leaseSeconds: 5, backfillReadUnitsPerSecond: 0.25, backfillIntervalSeconds: 1, maxPassSeconds: 7 },
    metrics: { registry, route: false }
  })
  t.strictSame(o.reaper, { schedule: '*/10 * * * * *', strategy: 'auto', segments: 8, graceSeconds: 0, maxReadUnitsPerSecond: 0.5, maxWriteUnitsPerSecond: 2.5, leaseSeconds: 5, backfillReadUnitsPerSecond: 0.25, backfillIntervalSeconds: 1, leases: 1, maxPassSeconds: 7 })
  t.equal(o.metrics !== false && o.metrics.registry, registry)
  t.equal(o.metrics !== false && o.metrics.route, false)
  t.equal(resolveWithSecret({ reaper: { schedule: false } }).reaper !== false && (resolveWithSecret({ reaper: { schedule: false } }).reaper as { schedule: unknown }).schedule, false)
  t.equal(resolveWithSecret({ reaper: false }).reaper, false)
  t.equal(resolveWithSecret({ metrics: false }).metrics, false)
  t.strictSame(resolveWithSecret({ metrics: { route: '/internal/metrics' } }).metrics, { registry: undefined, route: '/internal/metrics', port: undefined, host: '127.0.0.1' })
  t.strictSame(resolveWithSecret({ metrics: { port: 0 } }).metrics, { registry: undefined, route: '/metrics', port: 0, host: '127.0.0.1' }, 'port 0 is kept')
  t.strictSame(resolveWithSecret({ metrics: { port: 65_535, host: '::', route: '/m' } }).metrics, { registry: undefined, route: '/m', port: 65_535, host: '::' })
})

t.test('reaper.leases: up to the streams of the strategy; auto takes any count up to the maximum', async (t) => {
  const reaper = (options: Record<string, unknown>): unknown => (resolveWithSecret({ reaper: options }).reaper as { leases: number }).leases
  t.equal(reaper({ leases: 3, segments: 3, strategy: 'scan' }), 3)
  t.equal(reaper({ leases: 16, strategy: 'index' }), 16)
  t.equal(reaper({ leases: 8 }), 8, 'auto: a finder with fewer streams uses one group per stream')
  t.equal(reaper({ leases: 1000 }), 1000)
})

t.test('a registry from another copy of prom-client is accepted', async (t) => {
  const foreign = { registerMetric () {}, metrics: async () => '', getSingleMetric: () => undefined }
  const o = resolveWithSecret({ metrics: { registry: foreign } })
  t.equal(o.metrics !== false && o.metrics.registry, foreign)
})

t.test('reaper and metrics: wrong values are coded errors naming the option and what was received', async (t) => {
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
    [{ reaper: { leases: 0 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.leases: expected a positive integer, got 0/],
    [{ reaper: { leases: 2.5 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.leases/],
    [{ reaper: { leases: 1001, segments: 1000 } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.leases: expected an integer from 1 to 1000, got 1001/],
    [{ reaper: { leases: 3, segments: 2, strategy: 'scan' } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.leases: expected at most reaper\.segments \(2\)/],
    [{ reaper: { leases: 17, strategy: 'index' } }, 'FST_DYNAMO_SESSION_INVALID_OPTION', /reaper\.leases: expected at most expiryIndex\.shards \(16\)/],
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
    t.throws(() => resolveWithSecret(options), { code, message }, JSON.stringify(options))
  }
})

t.test('regression: the table shape and the reaper options resolve on their own, without a secret (the CLI uses them)', async (t) => {
  const full = resolveWithSecret({ tableName: 'sessions_x', idAttribute: 'pk', reaper: { segments: 4 } })
  const { tableName, idAttribute, expiresAttribute, dataAttribute, createdAttribute, touchedAttribute, expiryIndex, ownerIndex } = full
  t.strictSame(resolveTableShape({ tableName: 'sessions_x', idAttribute: 'pk' }), {
    tableName, idAttribute, expiresAttribute, dataAttribute, createdAttribute, touchedAttribute, expiryIndex, ownerIndex
  })
  t.ok(Object.isFrozen(resolveTableShape({})))
  t.strictSame(resolveReaperOptions({ segments: 4 }), full.reaper)
  t.equal(resolveReaperOptions(false), false)
  t.throws(() => resolveTableShape({ tableName: 'ab' }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION', message: /tableName/ })
  t.throws(() => resolveTableShape({ idAttribute: 'k', expiresAttribute: 'k' }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION', message: /expiresAttribute/ })
  t.throws(() => resolveReaperOptions({ segments: 0 }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION', message: /reaper\.segments/ })
  t.throws(() => resolveReaperOptions({ schedual: '* * * * *' }), { code: 'FST_DYNAMO_SESSION_UNKNOWN_OPTION' })
})

t.test('reaper.maxPassSeconds defaults to 80% of the schedule\'s shortest period, or 60 without a schedule', async (t) => {
  t.equal(defaultMaxPassSeconds(60), 48, 'every minute: the 48 the JSDoc and the README quote')
  t.equal(defaultMaxPassSeconds(10), 8)
  t.equal(defaultMaxPassSeconds(1), 1, 'never below the option\'s minimum')
  t.equal(defaultMaxPassSeconds(0), DEFAULT_REAPER_UNSCHEDULED_PASS_SECONDS)
  t.equal(DEFAULT_REAPER_UNSCHEDULED_PASS_SECONDS, 60)
})

t.test('ownerIndex: defaults, explicit values, false, and its attribute names are reserved like the others', async (t) => {
  t.strictSame(resolveWithSecret({}).ownerIndex, { indexName: 'Owner_Index', attribute: 'Owner_Id', labelAttribute: 'Session_Label' })
  t.ok(Object.isFrozen(resolveWithSecret({}).ownerIndex))
  t.strictSame(resolveWithSecret({ ownerIndex: { indexName: 'by-owner', attribute: 'o', labelAttribute: 'l' } }).ownerIndex,
    { indexName: 'by-owner', attribute: 'o', labelAttribute: 'l' })
  t.equal(resolveWithSecret({ ownerIndex: false }).ownerIndex, false)
  for (const [extra, pattern] of [
    [{ ownerIndex: true }, /ownerIndex: expected an object or false/],
    [{ ownerIndex: { indexName: 'ab' } }, /ownerIndex\.indexName/],
    [{ ownerIndex: { indexName: 'Expire_Bucket_Index' } }, /ownerIndex\.indexName: expected an index name different from expiryIndex\.indexName/],
    [{ ownerIndex: { attribute: '' } }, /ownerIndex\.attribute/],
    [{ ownerIndex: { attribute: 'Data' } }, /ownerIndex\.attribute: expected an attribute name different from dataAttribute/],
    [{ ownerIndex: { labelAttribute: 'Owner_Id' } }, /ownerIndex\.labelAttribute: expected an attribute name different from ownerIndex\.attribute/],
    [{ ownerIndex: { attribute: 'Superseded_At' } }, /the tombstone marker/]
  ] as const) {
    t.throws(() => resolveWithSecret(extra), { code: INVALID, message: pattern }, JSON.stringify(extra))
  }
  t.throws(() => resolveWithSecret({ ownerIndex: { shards: 1 } }), { code: 'FST_DYNAMO_SESSION_UNKNOWN_OPTION' })
})

t.test('expiryIndex: defaults, explicit values, false, and its attribute names are reserved like the others', async (t) => {
  t.strictSame(resolveWithSecret({}).expiryIndex, {
    indexName: DEFAULT_EXPIRY_INDEX_NAME,
    attribute: DEFAULT_BUCKET_ATTRIBUTE,
    shardAttribute: DEFAULT_SHARD_ATTRIBUTE,
    shards: DEFAULT_EXPIRY_INDEX_SHARDS,
    bucketSeconds: DEFAULT_BUCKET_SECONDS
  })
  t.strictSame([DEFAULT_EXPIRY_INDEX_NAME, DEFAULT_BUCKET_ATTRIBUTE, DEFAULT_SHARD_ATTRIBUTE, DEFAULT_EXPIRY_INDEX_SHARDS, DEFAULT_BUCKET_SECONDS],
    ['Expire_Bucket_Index', 'Expire_Bucket', 'Expire_Shard', 16, 300], 'the documented values')
  t.ok(Object.isFrozen(resolveWithSecret({}).expiryIndex))
  t.strictSame(resolveWithSecret({ expiryIndex: { indexName: 'by-expiry', attribute: 'b', shardAttribute: 's', shards: 1, bucketSeconds: 1 } }).expiryIndex,
    { indexName: 'by-expiry', attribute: 'b', shardAttribute: 's', shards: 1, bucketSeconds: 1 })
  t.equal(resolveWithSecret({ expiryIndex: false }).expiryIndex, false)
  t.equal(resolveWithSecret({ expiryIndex: { shards: 1000 } }).expiryIndex !== false, true, '1000 shards is the upper bound')
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ expiryIndex: true }, INVALID, /expiryIndex: expected an object or false/],
    [{ expiryIndex: { shards: 0 } }, INVALID, /expiryIndex\.shards/],
    [{ expiryIndex: { shards: 1001 } }, INVALID, /expiryIndex\.shards: expected an integer from 1 to 1000/],
    [{ expiryIndex: { shards: 2.5 } }, INVALID, /expiryIndex\.shards/],
    [{ expiryIndex: { bucketSeconds: 0 } }, INVALID, /expiryIndex\.bucketSeconds/],
    [{ expiryIndex: { indexName: 'ab' } }, INVALID, /expiryIndex\.indexName/],
    [{ expiryIndex: { attribute: '' } }, INVALID, /expiryIndex\.attribute/],
    [{ expiryIndex: { attribute: 'Expire_Session' } }, INVALID, /expiryIndex\.attribute: expected an attribute name different from expiresAttribute/],
    [{ expiryIndex: { shardAttribute: 'Expire_Bucket' } }, INVALID, /expiryIndex\.shardAttribute: expected an attribute name different from expiryIndex\.attribute/],
    [{ expiryIndex: { attribute: 'Superseded_At' } }, INVALID, /the tombstone marker/],
    [{ dataAttribute: 'Expire_Shard' }, INVALID, /expiryIndex\.shardAttribute/],
    [{ expiryIndex: { bucket: 60 } }, UNKNOWN, /expiryIndex\.bucket \(known options: indexName, attribute, shardAttribute, shards, bucketSeconds\)/]
  ]
  for (const [options, code, message] of cases) t.throws(() => resolveWithSecret(options), { code, message }, JSON.stringify(options))
  t.equal(resolveWithSecret({ expiryIndex: false, dataAttribute: 'Expire_Shard' }).dataAttribute, 'Expire_Shard', 'without the index its names are free')
})

t.test('reaper.strategy: auto by default, index or scan; index needs the expiry index', async (t) => {
  for (const strategy of ['auto', 'index', 'scan'] as const) {
    t.equal((resolveWithSecret({ reaper: { strategy } }).reaper as { strategy: string }).strategy, strategy)
  }
  t.throws(() => resolveWithSecret({ reaper: { strategy: 'query' } }), { code: INVALID, message: /reaper\.strategy/ })
  t.throws(() => resolveWithSecret({ expiryIndex: false, reaper: { strategy: 'index' } }), { code: INVALID, message: /reaper\.strategy: expected 'auto' or 'scan' with expiryIndex: false/ })
  t.equal((resolveWithSecret({ expiryIndex: false, reaper: { strategy: 'auto' } }).reaper as { strategy: string }).strategy, 'auto', 'auto then always scans')
})
