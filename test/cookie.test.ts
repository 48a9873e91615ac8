import t from 'tap'
import fc from 'fast-check'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import { MAX_COOKIE_HEADER_BYTES, MAX_SESSION_COOKIE_CANDIDATES, SessionCookie, type CookieSigner } from '../src/cookie.js'
import { resolveOptions, type SessionCookieOptions } from '../src/options.js'
import { newSessionId } from '../src/ids.js'

const SECRET = 'a-test-secret-that-is-long-enough-0123456789'
const OLD_SECRET = 'an-older-secret-that-is-also-long-enough-987'
const STRANGER = 'a-secret-nobody-here-uses-at-all-0000000000'

// @fastify/cookie loads its serializer when first registered; the plugin does that in a child context at startup.
t.before(async () => {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.ready()
  await app.close()
})

function cookieFor (cookie: SessionCookieOptions = {}, secret: string | string[] = SECRET, now?: () => number, signer?: CookieSigner): SessionCookie {
  const o = resolveOptions({ secret, cookie })
  return new SessionCookie(o.cookie, o.secrets, now, signer)
}

/** The `name=value` pair of a Set-Cookie value. */
function pair (setCookie: string): string {
  return setCookie.split(';')[0]!
}

function attributes (setCookie: string): string[] {
  return setCookie.split(';').slice(1).map((a) => a.trim())
}

/** A signed value as @fastify/cookie would produce it, URL-encoded as in a header. */
function signed (id: string, secret = SECRET): string {
  return encodeURIComponent(fastifyCookie.sign(id, secret))
}

t.test('serialize then read: the same id, no renewal', async (t) => {
  const c = cookieFor()
  t.equal(c.nameFor(false), 'sessionId')
  for (let i = 0; i < 20; i++) {
    const id = newSessionId()
    t.strictSame(c.read(pair(c.serialize(id, 300, false))), { kind: 'valid', id, renew: false })
  }
})

t.test('a percent-encoded signed value reads the same as the raw one', async (t) => {
  const c = cookieFor()
  // Signatures are base64 and may hold '+' and '/': some serializers percent-encode them.
  let id = newSessionId()
  while (!/[+/]/.test(fastifyCookie.sign(id, SECRET))) id = newSessionId()
  const raw = fastifyCookie.sign(id, SECRET)
  t.not(encodeURIComponent(raw), raw)
  t.strictSame(c.read(`sessionId=${raw}`), { kind: 'valid', id, renew: false })
  t.strictSame(c.read(`sessionId=${encodeURIComponent(raw)}`), { kind: 'valid', id, renew: false })
})

t.test('rotation: a cookie signed with an older secret is valid and asks for renewal', async (t) => {
  const id = newSessionId()
  const old = cookieFor({}, OLD_SECRET)
  const rotated = cookieFor({}, [SECRET, OLD_SECRET])
  const header = pair(old.serialize(id, 300, false))
  t.strictSame(rotated.read(header), { kind: 'valid', id, renew: true })
  // The current secret signs; it needs no renewal.
  const fresh = pair(rotated.serialize(id, 300, false))
  t.strictSame(rotated.read(fresh), { kind: 'valid', id, renew: false })
  t.strictSame(old.read(fresh), { kind: 'invalid' }, 'a retired secret no longer verifies the new signature')
})

t.test('invalid cookies: never throws, never valid', async (t) => {
  const c = cookieFor()
  const id = newSessionId()
  const good = signed(id)
  const tampered = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A')
  const cases: Array<[string, string]> = [
    ['signed with another secret', `sessionId=${signed(id, STRANGER)}`],
    ['one character of the signature changed', `sessionId=${tampered}`],
    ['id changed, signature kept', `sessionId=${newSessionId()}${good.slice(good.indexOf('.'))}`],
    ['no signature', `sessionId=${id}`],
    ['dot but empty signature', `sessionId=${id}.`],
    ['empty value', 'sessionId='],
    ['only spaces', 'sessionId=   '],
    ['malformed percent-encoding', `sessionId=${good}%E0%A4%A`],
    ['lone percent', 'sessionId=%'],
    ['oversized value', `sessionId=${good}${'A'.repeat(5000)}`],
    // Validly signed, but not something a session id can be: the reaper's lease row, a short id, other characters.
    ['internal row id with #', `sessionId=${signed('reaper#lease')}`],
    ['internal row id with # and long', `sessionId=${signed('__fastify_dynamo_session#reaper_lease')}`],
    ['too short an id', `sessionId=${signed('abc')}`],
    ['too long an id', `sessionId=${signed('a'.repeat(129))}`],
    ['id with a dot', `sessionId=${signed('aaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbb')}`],
    ['id with a space', `sessionId=${signed('aaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbb')}`],
    ['empty signed id', `sessionId=${signed('')}`]
  ]
  for (const [name, header] of cases) {
    let result
    t.doesNotThrow(() => { result = c.read(header) }, name)
    t.strictSame(result, { kind: 'invalid' }, name)
  }
  // Longest accepted id (other software's ids may be longer than ours).
  const longest = 'a'.repeat(128)
  t.strictSame(c.read(`sessionId=${signed(longest)}`), { kind: 'valid', id: longest, renew: false })
  const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e'
  t.strictSame(c.read(`sessionId=${signed(uuid)}`), { kind: 'valid', id: uuid, renew: false })
})

t.test('an oversized Cookie header is invalid, even with a valid session cookie in it', async (t) => {
  const c = cookieFor()
  const id = newSessionId()
  const filler = `other=${'x'.repeat(MAX_COOKIE_HEADER_BYTES)}`
  t.strictSame(c.read(`sessionId=${signed(id)}; ${filler}`), { kind: 'invalid' })
  const fits = `other=${'x'.repeat(MAX_COOKIE_HEADER_BYTES - 200)}`
  t.strictSame(c.read(`${fits}; sessionId=${signed(id)}`), { kind: 'valid', id, renew: false })
})

t.test('no session cookie: none', async (t) => {
  const c = cookieFor()
  t.strictSame(c.read(undefined), { kind: 'none' })
  t.strictSame(c.read(''), { kind: 'none' })
  t.strictSame(c.read([]), { kind: 'none' })
  t.strictSame(c.read('theme=dark; lang=en'), { kind: 'none' })
  // Names that merely start with ours, or contain it, are other cookies.
  t.strictSame(c.read(`sessionIdOld=${signed(newSessionId())}; xsessionId=${signed(newSessionId())}`), { kind: 'none' })
  t.strictSame(c.read(`SESSIONID=${signed(newSessionId())}`), { kind: 'none' }, 'names are case-sensitive')
})

t.test('several cookies of the same name: the first validly signed one wins', async (t) => {
  const c = cookieFor()
  const a = newSessionId()
  const b = newSessionId()
  t.strictSame(c.read(`sessionId=${signed(a, STRANGER)}; sessionId=${signed(b)}`), { kind: 'valid', id: b, renew: false })
  t.strictSame(c.read(`sessionId=garbage; theme=dark; sessionId=${signed(b)}; sessionId=${signed(a)}`), { kind: 'valid', id: b, renew: false })
  t.strictSame(c.read(`sessionId=${signed(a)}; sessionId=${signed(b)}`), { kind: 'valid', id: a, renew: false })
  t.strictSame(c.read(`sessionId=${signed('reaper#lease')}; sessionId=${signed(a)}`), { kind: 'valid', id: a, renew: false })
  t.strictSame(c.read(`sessionId=x; sessionId=${signed(a, STRANGER)}`), { kind: 'invalid' })
  // Several Cookie header lines.
  t.strictSame(c.read(['theme=dark', `sessionId=${signed(a)}`]), { kind: 'valid', id: a, renew: false })
  // Whitespace around pairs, as some clients send it.
  t.strictSame(c.read(`theme=dark;sessionId=${signed(a)} ;x=1`), { kind: 'valid', id: a, renew: false })
})

t.test('a custom and a __Host- cookie name are read by that name only', async (t) => {
  const id = newSessionId()
  const host = cookieFor({ name: '__Host-sid' })
  t.strictSame(host.read(`__Host-sid=${signed(id)}`), { kind: 'valid', id, renew: false })
  t.strictSame(host.read(`sessionId=${signed(id)}`), { kind: 'none' })
  t.strictSame(host.read(`sid=${signed(id)}`), { kind: 'none' })
})

t.test('serialize: attributes', async (t) => {
  const id = newSessionId()
  const plain = cookieFor().serialize(id, 300, false)
  t.match(pair(plain), /^sessionId=/)
  t.equal(decodeURIComponent(pair(plain).slice('sessionId='.length)), fastifyCookie.sign(id, SECRET))
  const attrs = attributes(plain)
  t.ok(attrs.includes('Max-Age=300'), 'Max-Age')
  t.ok(attrs.includes('Path=/'), 'Path')
  t.ok(attrs.includes('HttpOnly'), 'HttpOnly')
  t.ok(attrs.includes('SameSite=Lax'), 'SameSite=Lax')
  t.notOk(attrs.some((a) => a.startsWith('Domain')), 'no Domain by default')
  t.notOk(attrs.includes('Secure'), "no Secure over http under 'auto'")
  t.notOk(attrs.includes('Partitioned'))

  t.ok(attributes(cookieFor().serialize(id, 300, true)).includes('Secure'), "Secure over https under 'auto'")
  t.ok(attributes(cookieFor({ secure: true }).serialize(id, 300, false)).includes('Secure'), 'secure: true over http')
  t.notOk(attributes(cookieFor({ secure: false }).serialize(id, 300, true)).includes('Secure'), 'secure: false over https')

  const host = cookieFor({ name: '__Host-sid' }).serialize(id, 300, false)
  t.match(host, /^__Host-sid=/)
  t.ok(attributes(host).includes('Secure'), '__Host- is Secure even over http')
  t.ok(attributes(host).includes('Path=/'))
  t.ok(attributes(cookieFor({ name: '__Secure-sid' }).serialize(id, 300, false)).includes('Secure'), '__Secure- is Secure')

  const custom = attributes(cookieFor({ path: '/app', domain: 'example.com', httpOnly: false, sameSite: 'strict', partitioned: true, secure: true })
    .serialize(id, 60, true))
  t.ok(custom.includes('Path=/app'))
  t.ok(custom.includes('Domain=example.com'))
  t.notOk(custom.includes('HttpOnly'), 'httpOnly: false')
  t.ok(custom.includes('SameSite=Strict'))
  t.ok(custom.includes('Partitioned'))
  t.ok(custom.includes('Max-Age=60'))
  t.ok(attributes(cookieFor({ sameSite: 'none' }).serialize(id, 60, true)).includes('SameSite=None'))

  t.ok(attributes(cookieFor().serialize(id, -5, false)).includes('Max-Age=0'), 'a negative lifetime becomes 0')
})

t.test('serialize writes exactly what @fastify/cookie\'s serializer writes, over generated options, ids and lifetimes', async (t) => {
  const reference = fastifyCookie.fastifyCookie.serialize
  // A signer whose values may need encoding (the serializer's own path) or not (the template's).
  const signerOf = (suffix: string): CookieSigner => ({
    sign: (value) => `${value}.${suffix}`,
    unsign: () => ({ valid: false, renew: false, value: null })
  })
  const options = fc.record({
    name: fc.constantFrom('sessionId', 'sid', '__Host-sid', '__Secure-sid'),
    path: fc.constantFrom('/', '/app', '/a/b'),
    domain: fc.constantFrom(undefined, 'example.com', 'sub.example.org'),
    httpOnly: fc.boolean(),
    sameSite: fc.constantFrom('lax', 'strict', 'none'),
    secure: fc.constantFrom('auto', true, false),
    partitioned: fc.boolean()
  }, { requiredKeys: ['name'] })
  fc.assert(fc.property(
    options,
    fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/),
    fc.oneof(fc.integer({ min: -100, max: 10 ** 9 }), fc.double({ min: -10, max: 1e6, noNaN: true })),
    fc.boolean(),
    fc.constantFrom('sig+/AZaz09', 'with space', 'semi;colon', 'per%cent', 'q"uote', 'é'),
    (cookie, id, maxAge, https, suffix) => {
      let resolved
      try {
        resolved = resolveOptions({ secret: SECRET, cookie })
      } catch {
        return true // a combination the options refuse (e.g. __Host- with a domain)
      }
      const c = new SessionCookie(resolved.cookie, resolved.secrets, Date.now, signerOf(suffix))
      const o = resolved.cookie
      const attributes = {
        path: o.path,
        domain: o.domain,
        httpOnly: o.httpOnly,
        sameSite: o.sameSite,
        secure: o.secure === 'auto' ? https : o.secure,
        partitioned: o.partitioned,
        maxAge: Math.max(0, maxAge)
      }
      let expected: string
      try {
        expected = reference(c.nameFor(https), `${id}.${suffix}`, attributes)
      } catch (err) {
        t.throws(() => c.serialize(id, maxAge, https), { message: (err as Error).message })
        return true
      }
      t.equal(c.serialize(id, maxAge, https), expected)
      return true
    }
  ), { numRuns: 300 })
})

t.test('clear: empty value, Max-Age=0 and an Expires in 1970, same scope attributes', async (t) => {
  const cleared = cookieFor({ path: '/app', domain: 'example.com' }).clear(true)
  t.equal(pair(cleared), 'sessionId=')
  const attrs = attributes(cleared)
  t.ok(attrs.includes('Max-Age=0'))
  t.ok(attrs.includes('Expires=Thu, 01 Jan 1970 00:00:00 GMT'))
  t.ok(attrs.includes('Path=/app'), 'same path, or the browser keeps the cookie')
  t.ok(attrs.includes('Domain=example.com'), 'same domain, or the browser keeps the cookie')
  t.ok(attrs.includes('Secure'))
  t.ok(attrs.includes('HttpOnly'))
  t.ok(attributes(cookieFor({ name: '__Host-sid' }).clear(false)).includes('Secure'), 'a __Host- cookie is cleared with Secure')
  t.strictSame(cookieFor().read(pair(cleared)), { kind: 'invalid' }, 'a cleared cookie reads as invalid, not as a session')
})

t.test('the default name: __Host-sessionId over https, sessionId over http and wherever __Host- cannot apply', async (t) => {
  const id = newSessionId()
  const c = cookieFor()
  t.equal(c.nameFor(true), '__Host-sessionId')
  t.equal(c.nameFor(false), 'sessionId')
  t.match(c.serialize(id, 300, true), /^__Host-sessionId=/)
  t.equal(pair(c.clear(true)), '__Host-sessionId=')
  t.strictSame(c.read(`__Host-sessionId=${signed(id)}`, true), { kind: 'valid', id, renew: false })
  t.strictSame(c.read(`__Host-sessionId=${signed(id)}`, false), { kind: 'none' }, 'http reads the unprefixed name only')
  for (const cookie of [{ domain: 'example.com' }, { path: '/app' }, { secure: false }, { name: 'sessionId' }, { name: 'sid' }]) {
    const other = cookieFor(cookie)
    const expected = cookie.name ?? 'sessionId'
    t.equal(other.nameFor(true), expected, `${JSON.stringify(cookie)}: ${expected} over https`)
    t.equal(other.nameFor(false), expected, `${JSON.stringify(cookie)}: ${expected} over http`)
  }
})

t.test('regression: a planted unprefixed cookie is ignored over https by default (cookie tossing)', async (t) => {
  const c = cookieFor()
  const victim = newSessionId()
  const attacker = newSessionId()
  // A sibling subdomain can set `sessionId` for the parent domain, never `__Host-sessionId`.
  t.strictSame(c.read(`sessionId=${signed(attacker)}; __Host-sessionId=${signed(victim)}`, true), { kind: 'valid', id: victim, renew: false })
  t.strictSame(c.read(`sessionId=${signed(attacker)}`, true), { kind: 'none' })
})

t.test('legacyName: read only before its end, only without a current cookie, and marked for re-issue', async (t) => {
  let ms = Date.parse('2027-06-29T12:00:00Z')
  const c = cookieFor({ legacyName: { name: 'sessionId', until: '2027-06-30' } }, SECRET, () => ms)
  const old = newSessionId()
  const current = newSessionId()
  t.strictSame(c.read(`sessionId=${signed(old)}`, true), { kind: 'valid', id: old, renew: true, legacy: true })
  t.strictSame(c.read(`sessionId=${signed(old)}; __Host-sessionId=${signed(current)}`, true), { kind: 'valid', id: current, renew: false },
    'a __Host- cookie wins')
  t.strictSame(c.read(`sessionId=${signed(old)}; __Host-sessionId=forged`, true), { kind: 'invalid' },
    'an invalid __Host- cookie does not fall back to the legacy name')
  t.strictSame(c.read(`sessionId=forged`, true), { kind: 'invalid' })
  t.strictSame(c.read(`sessionId=${signed(old)}`, false), { kind: 'valid', id: old, renew: false }, 'over http sessionId is the current name')
  t.equal(pair(c.clearLegacy(true)), 'sessionId=')
  t.ok(attributes(c.clearLegacy(true)).includes('Max-Age=0'))
  ms = Date.parse('2027-06-30T00:00:00Z')
  t.strictSame(c.read(`sessionId=${signed(old)}`, true), { kind: 'none' }, 'ignored from its end on')

  const renamed = cookieFor({ name: 'sid', legacyName: { name: 'sessionId', until: new Date(ms + 1000) } }, SECRET, () => ms)
  t.strictSame(renamed.read(`sessionId=${signed(old)}`, false), { kind: 'valid', id: old, renew: true, legacy: true }, 'a renamed cookie migrates over http too')
})

function countingSigner (secrets: string[]): { signer: CookieSigner, readonly verified: number } {
  const inner = new fastifyCookie.Signer(secrets)
  let verified = 0
  return {
    signer: { sign: (value) => inner.sign(value), unsign: (value) => { verified++; return inner.unsign(value) } },
    get verified () { return verified }
  }
}

t.test('regression: a header of many forged same-name cookies verifies at most MAX_SESSION_COOKIE_CANDIDATES of them', async (t) => {
  const secrets = [SECRET, OLD_SECRET, STRANGER.replace('nobody', 'someone')]
  const counter = countingSigner(secrets)
  const c = cookieFor({}, secrets, undefined, counter.signer)
  const forged = Array.from({ length: 180 }, () => `sessionId=${newSessionId()}.${'A'.repeat(43)}`)
  const header = forged.join('; ')
  t.ok(header.length <= MAX_COOKIE_HEADER_BYTES, 'the header is within the accepted size')
  t.strictSame(c.read(header, false), { kind: 'invalid' })
  t.equal(counter.verified, MAX_SESSION_COOKIE_CANDIDATES)

  const id = newSessionId()
  const before = counter.verified
  t.strictSame(c.read([...forged.slice(0, MAX_SESSION_COOKIE_CANDIDATES - 1), `sessionId=${signed(id)}`].join('; '), false), { kind: 'valid', id, renew: false },
    'a valid cookie among the first candidates is found')
  t.equal(counter.verified - before, MAX_SESSION_COOKIE_CANDIDATES)
  t.strictSame(c.read([...forged.slice(0, MAX_SESSION_COOKIE_CANDIDATES), `sessionId=${signed(id)}`].join('; '), false), { kind: 'invalid' },
    'one past the candidates is not verified')
})
