import t from 'tap'
import fc from 'fast-check'
import { connect } from 'node:net'
import fastifyCookie from '@fastify/cookie'
import type { AddressInfo } from 'node:net'
import { startDynalite, makeClient, createTable, countCalls, getRow } from './helpers/dynamo.js'
import { buildApp, cookieFrom, fakeClock, isClearingCookie, signedCookie, SECRET, OLD_SECRET } from './helpers/app.js'
import { watchUnexpected } from './helpers/reliability.js'
import { MAX_COOKIE_HEADER_BYTES, MAX_SESSION_COOKIE_CANDIDATES } from '../src/cookie.js'
import { cloneJson } from '../src/store/json.js'
import { MAX_ITEM_BYTES, fromAttributeMap, toAttributeMap } from '../src/store/marshal.js'
import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import { assertProperty } from './helpers/property.js'

// Hostile input, generated: Cookie headers (random bytes, huge values, many cookies, forged and stale signatures,
// unicode, injection attempts in the id) and session values (anything a route might try to store). The server never
// answers 5xx, never spends a DynamoDB call on a cookie it did not sign, never adopts an id it did not issue, and
// never stores part of a value it refuses.

const unexpected = watchUnexpected(t)
const RUNS = 300
const ID = /^[A-Za-z0-9_-]{16,128}$/
const sign = (value: string, secret = SECRET): string => fastifyCookie.sign(value, secret)

/** Ids a request might try to name: internal rows, injection attempts, paths, key expressions, unicode. */
const NASTY_IDS = [
  '#reaper-lease', "' OR '1'='1", '"; DROP TABLE ManejoSesion; --', '../../etc/passwd', '{"S":"x"}', '{"N":"1"}',
  'a'.repeat(200), 'a'.repeat(15), '\u0000'.repeat(20), 'id; Path=/; Domain=evil.example', 'sessionId=abcdefghijklmnop',
  '%00%00%00%00%00%00%00%00', 'ñandú-ñandú-ñandú-ñandú', '🍪'.repeat(16), '__proto__', 'constructor', ' '.repeat(20),
  'aaaaaaaaaaaaaaaa\r\nSet-Cookie: x=y', 'AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
]

type Part =
  | { kind: 'noise', text: string }
  | { kind: 'forged', text: string, id: string }
  | { kind: 'valid', text: string, id: string }

const wellFormedId = fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/)
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'binary-ascii', maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary-ascii', minLength: 4000, maxLength: 20_000 })
)

function partArb (existing: string): fc.Arbitrary<Part> {
  return fc.oneof(
    // Other cookies, and session cookies with anything as a value.
    fc.record({ name: fc.oneof(fc.constant('sessionId'), fc.string({ minLength: 1, maxLength: 12 })), value: anyText })
      .map(({ name, value }): Part => ({ kind: 'noise', text: `${name}=${value}` })),
    anyText.map((text): Part => ({ kind: 'noise', text })),
    // A client-chosen id, unsigned, signed with a secret the server does not have (an old one among them),
    // with a tampered signature, or signed but not a session id (injection attempts).
    wellFormedId.map((id): Part => ({ kind: 'forged', text: `sessionId=${id}`, id })),
    fc.tuple(wellFormedId, fc.oneof(fc.constant(OLD_SECRET), fc.string({ minLength: 32, maxLength: 64 })))
      .filter(([, secret]) => secret !== SECRET)
      .map(([id, secret]): Part => ({ kind: 'forged', text: `sessionId=${sign(id, secret)}`, id })),
    fc.tuple(wellFormedId, fc.nat({ max: 42 }), fc.constantFrom('A', 'B', '_', '-'))
      .map(([id, at, c]): Part => {
        const signed = sign(id)
        const i = id.length + 1 + at
        const tampered = signed.slice(0, i) + (signed[i] === c ? 'C' : c) + signed.slice(i + 1)
        return { kind: 'forged', text: `sessionId=${tampered}`, id }
      }),
    fc.constantFrom(...NASTY_IDS).map((id): Part => ({ kind: 'forged', text: `sessionId=${sign(id)}`, id })),
    fc.constantFrom(...NASTY_IDS).map((id): Part => ({ kind: 'forged', text: `sessionId=${encodeURIComponent(sign(id))}`, id })),
    // Validly signed: the live session, or an id with no row.
    fc.constant<Part>({ kind: 'valid', text: signedCookie(existing), id: existing }),
    wellFormedId.map((id): Part => ({ kind: 'valid', text: signedCookie(id), id }))
  )
}

function headerArb (existing: string): fc.Arbitrary<{ parts: Part[], header: string }> {
  return fc.tuple(
    fc.oneof(fc.array(partArb(existing), { minLength: 1, maxLength: 8 }), fc.array(partArb(existing), { minLength: 50, maxLength: 300 })),
    fc.constantFrom('; ', ';', ' ;  ')
  ).map(([parts, separator]) => ({ parts, header: parts.map((p) => p.text).join(separator) }))
}

t.test('hostile input', async (t) => {
  const dynamo = await startDynalite(t)
  const client = makeClient(t, dynamo.endpoint)
  const counter = countCalls(client)
  const table = await createTable(client)
  const clock = fakeClock(Date.now())
  let nextValue: unknown
  const app = await buildApp(t, client, table, { now: clock.now }, {
    routes: (app) => {
      app.post('/set-value', async (request) => {
        request.session.set('v', nextValue as never)
        return { ok: true }
      })
      app.post<{ Querystring: { key: string } }>('/set-key', async (request) => {
        request.session.set(request.query.key, 'x')
        return { ok: true }
      })
      app.get<{ Querystring: { key: string } }>('/get-key', async (request) => ({ value: request.session.get(request.query.key) ?? null }))
      app.post('/inject-proto', async (request) => {
        request.session.set('__proto__', { role: 'admin' })
        return { role: request.session.get('role') ?? null }
      })
      app.post('/login', async (request) => {
        request.session.set('user', 'victim')
        await request.session.regenerate()
        return { id: request.session.id }
      })
    }
  })
  const live = await app.inject({ method: 'POST', url: '/set', payload: { user: 'alice' } })
  const existing: string = live.json().id

  t.test(`Cookie headers (${RUNS} generated): never a 5xx, never a DynamoDB call for a cookie the server did not sign, never an adopted id`, async (t) => {
    await assertProperty(fc.asyncProperty(headerArb(existing), async ({ parts, header }) => {
      counter.reset()
      const res = await app.inject({ method: 'GET', url: '/get', headers: { cookie: header } })
      const body = res.json()
      // Only the first few cookies named sessionId are verified: the first validly signed one among them wins.
      const candidates = header.split(';').map((s) => s.trim()).filter((s) => s.startsWith('sessionId=')).slice(0, MAX_SESSION_COOKIE_CANDIDATES)
      const valid = new Map(parts.filter((p) => p.kind === 'valid').map((p) => [p.text, p]))
      const firstValid = header.length > MAX_COOKIE_HEADER_BYTES ? undefined : candidates.map((c) => valid.get(c)).find((p) => p !== undefined)
      const failures: string[] = []
      if (res.statusCode !== 200) failures.push(`status ${res.statusCode}`)
      if (firstValid === undefined) {
        if (counter.calls.length > 0) failures.push(`calls ${counter.calls.join(',')} for a cookie the server did not sign`)
        if (res.headers['set-cookie'] !== undefined) failures.push('a Set-Cookie for no session')
        if (body.isNew !== true) failures.push('a session without a valid cookie')
      } else if (firstValid.id === existing) {
        if (body.id !== existing || body.isNew !== false) failures.push('the signed live session was not found')
        if (counter.calls.join(',') !== 'GetItem') failures.push(`calls ${counter.calls.join(',')}`)
      } else {
        if (body.isNew !== true || body.id === firstValid.id) failures.push('an id without a row was adopted')
        if (!isClearingCookie(res.headers['set-cookie'])) failures.push('a stale signed cookie was not cleared')
        if (counter.calls.some((c) => c !== 'GetItem') || counter.calls.length > 2) failures.push(`calls ${counter.calls.join(',')}`)
      }
      if (body.id !== existing && parts.some((p) => p.kind !== 'noise' && p.id === body.id)) failures.push('a client-chosen id was adopted')
      if (failures.length > 0) throw new Error(`${failures.join('; ')} (header of ${header.length} chars)`)
    }), { numRuns: RUNS })
    t.pass(`${RUNS} headers`)
  })

  t.test('random bytes in the Cookie header over a real socket: the server answers, never 5xx, spends no call', async (t) => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const send = async (cookie: Buffer): Promise<string> => await new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1')
      const chunks: Buffer[] = []
      socket.on('data', (c) => chunks.push(c))
      socket.on('error', reject)
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
      socket.end(Buffer.concat([Buffer.from('GET /get HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: '), cookie, Buffer.from('\r\n\r\n')]))
    })
    const statuses = new Map<string, number>()
    await assertProperty(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 3000 }), async (bytes) => {
      counter.reset()
      const answer = await send(Buffer.from(bytes))
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'none'
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      if (!['200', '400', '431'].includes(status)) throw new Error(`status ${status}`)
      if (counter.calls.length > 0) throw new Error(`calls ${counter.calls.join(',')}`)
    }), { numRuns: 100 })
    t.pass(`statuses seen: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(', ')}`)
  })

  t.test('session fixation', async (t) => {
    t.test('an id the server did not issue is never adopted, however it comes (generated)', async (t) => {
      await assertProperty(fc.asyncProperty(wellFormedId, fc.constantFrom('unsigned', 'foreign secret', 'old secret', 'signed, no row'), async (chosen, how) => {
        const cookie = how === 'unsigned'
          ? `sessionId=${chosen}`
          : how === 'foreign secret'
            ? signedCookie(chosen, 'f'.repeat(40))
            : how === 'old secret' ? signedCookie(chosen, OLD_SECRET) : signedCookie(chosen)
        const res = await app.inject({ method: 'POST', url: '/set', headers: { cookie }, payload: { user: 'victim' } })
        const issued: string = res.json().id
        if (res.statusCode !== 200 || issued === chosen || !ID.test(issued)) throw new Error(`${how}: issued ${issued}`)
        if (await getRow(client, table, chosen) !== undefined) throw new Error(`${how}: a row was written under the chosen id`)
        if (cookieFrom(res.headers['set-cookie']) !== signedCookie(issued)) throw new Error(`${how}: the cookie does not carry the issued id`)
      }), { numRuns: 60 })
      t.pass()
    })

    t.test('a planted session: regenerate() at login gives the victim a new id and kills the planted one', async (t) => {
      const planted = await app.inject({ method: 'POST', url: '/set', payload: { theme: 'dark' } })
      const attackerCookie = cookieFrom(planted.headers['set-cookie'])!
      const plantedId: string = planted.json().id
      const login = await app.inject({ method: 'POST', url: '/login', headers: { cookie: attackerCookie } })
      const victimId: string = login.json().id
      t.not(victimId, plantedId, 'a new id at login')
      t.equal(cookieFrom(login.headers['set-cookie']), signedCookie(victimId))
      t.equal((await getRow(client, table, plantedId))?.Data, undefined, 'the planted row holds no session any more (a tombstone)')
      const attacker = await app.inject({ method: 'GET', url: '/get', headers: { cookie: attackerCookie } })
      t.match(attacker.json(), { isNew: true, value: {} }, 'the attacker\'s cookie sees nothing of the victim')
      t.not(attacker.json().id, victimId)
      t.equal(attacker.headers['set-cookie'], undefined, 'and its answer sets no cookie, which could only overwrite the victim\'s')
      const victim = await app.inject({ method: 'GET', url: '/get', headers: { cookie: cookieFrom(login.headers['set-cookie'])! } })
      t.strictSame(victim.json().value, { theme: 'dark', user: 'victim' })
    })
  })

  t.test('session values that cannot be stored: a coded error, and the stored session unchanged (generated)', async (t) => {
    const s = await app.inject({ method: 'POST', url: '/set', payload: { v: 'original', other: [1, 2] } })
    const cookie = cookieFrom(s.headers['set-cookie'])!
    const id: string = s.json().id
    const before = await getRow(client, table, id)
    const cyclic = (): unknown => { const o: Record<string, unknown> = { a: 1 }; o.self = o; return o }
    const deep = (): unknown => { let v: unknown = 1; for (let i = 0; i < 40; i++) v = { v }; return v }
    const poisons: Array<[string, () => unknown]> = [
      ['a function', () => () => 1], ['a symbol', () => Symbol('s')], ['a BigInt', () => 10n], ['undefined', () => undefined],
      ['NaN', () => Number.NaN], ['Infinity', () => Number.POSITIVE_INFINITY], ['-Infinity', () => -Infinity],
      ['1e200', () => 1e200], ['1e-200', () => 1e-200], ['a Date', () => new Date(0)], ['a Map', () => new Map([[1, 2]])],
      ['a Set', () => new Set([1])], ['a class instance', () => new (class Account { balance = 1 })()],
      ['a Buffer', () => Buffer.from('x')], ['a RegExp', () => /re/], ['a cyclic object', cyclic], ['40 levels of nesting', deep],
      ['a lone surrogate', () => 'lone \ud800 surrogate'], ['an empty key', () => ({ '': 'empty key' })],
      ['a symbol key', () => ({ [Symbol('k')]: 1 })], ['400 KB', () => 'x'.repeat(MAX_ITEM_BYTES)]
    ]
    // The poison sits somewhere inside otherwise fine JSON (undefined at the top deletes the key, by design).
    const wrapped = fc.tuple(fc.constantFrom(...poisons), fc.array(fc.constantFrom('array', 'object'), { maxLength: 4 }), fc.string({ minLength: 1, maxLength: 8 }))
      .filter(([[name], path]) => !(name === 'undefined' && path.length === 0))
      .map(([[name, make], path, key]) => ({
        name: `${name} at depth ${path.length}`,
        make: () => path.reduce<unknown>((inner, kind) => kind === 'array' ? [1, inner, 'x'] : { fine: true, [key]: inner }, make()),
        toString: () => `${name} at depth ${path.length}`
      }))
    await assertProperty(fc.asyncProperty(wrapped, async ({ name, make }) => {
      nextValue = make()
      counter.reset()
      const res = await app.inject({ method: 'POST', url: '/set-value', headers: { cookie } })
      const code = res.json().code
      if (res.statusCode !== 500 || !['FST_DYNAMO_SESSION_NOT_SERIALIZABLE', 'FST_DYNAMO_SESSION_TOO_LARGE'].includes(code)) {
        throw new Error(`${name}: got ${res.statusCode} ${code}`)
      }
      if (counter.calls.join(',') !== 'GetItem') throw new Error(`${name}: calls ${counter.calls.join(',')}: something was written`)
    }), { numRuns: 200 })
    t.strictSame(await getRow(client, table, id), before, 'the row is byte for byte what it was')
  })

  t.test('JSON values round-trip through DynamoDB exactly, or are refused whole (generated)', async (t) => {
    // '__proto__' inside a value is left out here: dynalite itself refuses it (the SDK sends it correctly); the pure
    // round trip is checked in the regression test below.
    const awkwardKey = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }).filter((k) => k !== '__proto__'),
      fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'valueOf', 'a.b', '#k0', ':v0', 'Data'))
    const { json } = fc.letrec<{ json: unknown }>((tie) => ({
      json: fc.oneof({ depthSize: 'small', withCrossShrink: true },
        fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.string({ unit: 'binary', maxLength: 20 }),
        fc.array(tie('json'), { maxLength: 4 }),
        fc.array(fc.tuple(awkwardKey, tie('json')), { maxLength: 4 }).map((entries) => Object.fromEntries(entries)))
    }))
    const s = await app.inject({ method: 'POST', url: '/set', payload: { seed: 1 } })
    const cookie = cookieFrom(s.headers['set-cookie'])!
    const storable = (v: unknown): boolean => {
      if (typeof v === 'number') return Number.isFinite(v) && (v === 0 || (Math.abs(v) < 1e126 && Math.abs(v) >= 1e-130))
      if (Array.isArray(v)) return v.every(storable)
      if (typeof v === 'object' && v !== null) return Object.entries(v).every(([k, x]) => k !== '' && storable(x))
      return true
    }
    await assertProperty(fc.asyncProperty(json, async (value) => {
      // What JSON itself would keep, with -0 as 0 (DynamoDB numbers have no sign of zero).
      const expected: unknown = JSON.parse(JSON.stringify(value, (_k, v) => Object.is(v, -0) ? 0 : v))
      nextValue = value
      const res = await app.inject({ method: 'POST', url: '/set-value', headers: { cookie } })
      if (!storable(value)) {
        if (res.json().code !== 'FST_DYNAMO_SESSION_NOT_SERIALIZABLE') throw new Error(`accepted an unstorable value: ${res.statusCode} ${res.body}`)
        return
      }
      if (res.statusCode !== 200) throw new Error(`refused a storable value: ${res.statusCode} ${res.body}`)
      const read = await app.inject({ method: 'GET', url: '/get?key=v', headers: { cookie } })
      const got: unknown = read.json().value
      if (!isSameJson(got, expected)) throw new Error(`stored ${JSON.stringify(expected)}, read ${JSON.stringify(got)}`)
    }), { numRuns: 300 })
    t.pass()
  })

  t.test('regression: keys naming Object.prototype members read as set; \'__proto__\' injected other keys', async (t) => {
    const s = await app.inject({ method: 'POST', url: '/set', payload: { seed: 1 } })
    const cookie = cookieFrom(s.headers['set-cookie'])!
    for (const key of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__']) {
      const unset = await app.inject({ method: 'GET', url: `/get-key?key=${key}`, headers: { cookie } })
      t.strictSame(unset.json(), { value: null }, `${key}: absent until set (get() returned Object.prototype's member)`)
      const set = await app.inject({ method: 'POST', url: `/set-key?key=${key}`, headers: { cookie } })
      t.equal(set.statusCode, 200, `${key}: set`)
      const read = await app.inject({ method: 'GET', url: `/get-key?key=${key}`, headers: { cookie } })
      t.strictSame(read.json(), { value: 'x' }, `${key}: read back`)
    }
    // An app that stores user-chosen keys: a '__proto__' entry used to become the data's prototype, so its members
    // answered get() for keys never set, in the same request and after every reload.
    const injected = await app.inject({ method: 'POST', url: '/inject-proto', headers: { cookie } })
    t.strictSame(injected.json(), { role: null })
    const reloaded = await app.inject({ method: 'GET', url: '/get-key?key=role', headers: { cookie } })
    t.strictSame(reloaded.json(), { value: null })
    const all = await app.inject({ method: 'GET', url: '/get', headers: { cookie } })
    t.strictSame(all.json().value.__proto__, { role: 'admin' }, 'stored as an ordinary key')
  })

  t.test('regression: a \'__proto__\' key inside a value was dropped on its way to and from DynamoDB', async (t) => {
    const value = JSON.parse('{"__proto__": {"role": "admin"}, "a": [{"__proto__": 1}]}') as unknown
    const copy = cloneJson('v', value)
    t.strictSame(Object.keys(copy as object), ['__proto__', 'a'])
    // As on the wire: JSON text, parsed again.
    const wire = JSON.parse(JSON.stringify(toAttributeMap({ v: copy }))) as Record<string, AttributeValue>
    t.equal(JSON.stringify(wire), '{"v":{"M":{"__proto__":{"M":{"role":{"S":"admin"}}},"a":{"L":[{"M":{"__proto__":{"N":"1"}}}]}}}}')
    const back = fromAttributeMap(wire)
    t.equal(JSON.stringify(back), JSON.stringify({ v: value }))
    t.equal((back.v as Record<string, unknown>).role, undefined, 'no key appears through a prototype')
  })

  t.test('no unhandled rejection, no uncaught exception', async (t) => {
    t.strictSame(unexpected.events, [])
  })
})

/** Deep equality of parsed JSON, own keys only, whatever the objects' prototypes. */
function isSameJson (a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => isSameJson(x, b[i]))
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ka = Object.keys(a).sort()
    const kb = Object.keys(b).sort()
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && isSameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  }
  return Object.is(a, b)
}
