import t from 'tap'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import { MAX_COOKIE_HEADER_BYTES, SessionCookie } from '../src/cookie.js'
import { resolveOptions, type SessionCookieOptions } from '../src/options.js'
import { newSessionId } from '../src/store/item.js'

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

function cookieFor (cookie: SessionCookieOptions = {}, secret: string | string[] = SECRET): SessionCookie {
  const o = resolveOptions({ secret, cookie })
  return new SessionCookie(o.cookie, o.secrets)
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
  t.equal(c.name, 'sessionId')
  for (let i = 0; i < 20; i++) {
    const id = newSessionId()
    t.same(c.read(pair(c.serialize(id, 300, false))), { kind: 'valid', id, renew: false })
  }
})

t.test('a percent-encoded signed value reads the same as the raw one', async (t) => {
  const c = cookieFor()
  // Signatures are base64 and may hold '+' and '/': some serializers percent-encode them.
  let id = newSessionId()
  while (!/[+/]/.test(fastifyCookie.sign(id, SECRET))) id = newSessionId()
  const raw = fastifyCookie.sign(id, SECRET)
  t.not(encodeURIComponent(raw), raw)
  t.same(c.read(`sessionId=${raw}`), { kind: 'valid', id, renew: false })
  t.same(c.read(`sessionId=${encodeURIComponent(raw)}`), { kind: 'valid', id, renew: false })
})

t.test('rotation: a cookie signed with an older secret is valid and asks for renewal', async (t) => {
  const id = newSessionId()
  const old = cookieFor({}, OLD_SECRET)
  const rotated = cookieFor({}, [SECRET, OLD_SECRET])
  const header = pair(old.serialize(id, 300, false))
  t.same(rotated.read(header), { kind: 'valid', id, renew: true })
  // The current secret signs; it needs no renewal.
  const fresh = pair(rotated.serialize(id, 300, false))
  t.same(rotated.read(fresh), { kind: 'valid', id, renew: false })
  t.same(old.read(fresh), { kind: 'invalid' }, 'a retired secret no longer verifies the new signature')
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
    t.same(result, { kind: 'invalid' }, name)
  }
  // Longest accepted id (other software's ids may be longer than ours).
  const longest = 'a'.repeat(128)
  t.same(c.read(`sessionId=${signed(longest)}`), { kind: 'valid', id: longest, renew: false })
  const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e'
  t.same(c.read(`sessionId=${signed(uuid)}`), { kind: 'valid', id: uuid, renew: false })
})

t.test('an oversized Cookie header is invalid, even with a valid session cookie in it', async (t) => {
  const c = cookieFor()
  const id = newSessionId()
  const filler = `other=${'x'.repeat(MAX_COOKIE_HEADER_BYTES)}`
  t.same(c.read(`sessionId=${signed(id)}; ${filler}`), { kind: 'invalid' })
  const fits = `other=${'x'.repeat(MAX_COOKIE_HEADER_BYTES - 200)}`
  t.same(c.read(`${fits}; sessionId=${signed(id)}`), { kind: 'valid', id, renew: false })
})

t.test('no session cookie: none', async (t) => {
  const c = cookieFor()
  t.same(c.read(undefined), { kind: 'none' })
  t.same(c.read(''), { kind: 'none' })
  t.same(c.read([]), { kind: 'none' })
  t.same(c.read('theme=dark; lang=en'), { kind: 'none' })
  // Names that merely start with ours, or contain it, are other cookies.
  t.same(c.read(`sessionIdOld=${signed(newSessionId())}; xsessionId=${signed(newSessionId())}`), { kind: 'none' })
  t.same(c.read(`SESSIONID=${signed(newSessionId())}`), { kind: 'none' }, 'names are case-sensitive')
})

t.test('several cookies of the same name: the first validly signed one wins', async (t) => {
  const c = cookieFor()
  const a = newSessionId()
  const b = newSessionId()
  t.same(c.read(`sessionId=${signed(a, STRANGER)}; sessionId=${signed(b)}`), { kind: 'valid', id: b, renew: false })
  t.same(c.read(`sessionId=garbage; theme=dark; sessionId=${signed(b)}; sessionId=${signed(a)}`), { kind: 'valid', id: b, renew: false })
  t.same(c.read(`sessionId=${signed(a)}; sessionId=${signed(b)}`), { kind: 'valid', id: a, renew: false })
  t.same(c.read(`sessionId=${signed('reaper#lease')}; sessionId=${signed(a)}`), { kind: 'valid', id: a, renew: false })
  t.same(c.read(`sessionId=x; sessionId=${signed(a, STRANGER)}`), { kind: 'invalid' })
  // Several Cookie header lines.
  t.same(c.read(['theme=dark', `sessionId=${signed(a)}`]), { kind: 'valid', id: a, renew: false })
  // Whitespace around pairs, as some clients send it.
  t.same(c.read(`theme=dark;sessionId=${signed(a)} ;x=1`), { kind: 'valid', id: a, renew: false })
})

t.test('a custom and a __Host- cookie name are read by that name only', async (t) => {
  const id = newSessionId()
  const host = cookieFor({ name: '__Host-sid' })
  t.same(host.read(`__Host-sid=${signed(id)}`), { kind: 'valid', id, renew: false })
  t.same(host.read(`sessionId=${signed(id)}`), { kind: 'none' })
  t.same(host.read(`sid=${signed(id)}`), { kind: 'none' })
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
  t.same(cookieFor().read(pair(cleared)), { kind: 'invalid' }, 'a cleared cookie reads as invalid, not as a session')
})
