import t from 'tap'
import {
  RecentSessions, baselineOf, canonical, changesSince, cookieExpiry, expiryNeedsWrite, sessionExpiry, sessionObject, sessionRecord
} from '../../src/adapter/snapshot.js'
import { MAX_ITEM_BYTES, entrySize, itemOverhead } from '../../src/store/marshal.js'
import { resolveTableShape } from '../../src/options.js'

const NOW = 1_800_000_000

t.test('canonical: key order ignored, the cookie compared without its expiry', async (t) => {
  t.equal(canonical('a', { x: 1, y: { b: 2, a: [{ d: 1, c: 2 }] } }), canonical('a', { y: { a: [{ c: 2, d: 1 }], b: 2 }, x: 1 }))
  t.equal(canonical('cookie', { path: '/', expires: 'then' }), canonical('cookie', { path: '/', expires: 'now', originalExpires: 'x' }))
  t.not(canonical('other', { expires: 'then' }), canonical('other', { expires: 'now' }), 'only the cookie\'s expiry is left out')
  t.not(canonical('cookie', { path: '/' }), canonical('cookie', { path: '/a' }))
})

t.test('changesSince: set, changed and removed keys', async (t) => {
  const baseline = baselineOf({ cookie: { expires: 'a' }, user: 'ana', cart: [1] }, NOW + 60)
  t.strictSame([...changesSince(baseline, { cookie: { expires: 'b' }, user: 'ana', role: 'x' })], [['role', 'x'], ['cart', undefined]])
})

t.test('cookieExpiry: the cookie\'s expiry rounded up, else ttlSeconds', async (t) => {
  t.equal(cookieExpiry({ cookie: { expires: new Date((NOW + 10) * 1000 + 1).toISOString() } }, NOW, 99), NOW + 11)
  t.equal(cookieExpiry({ cookie: { expires: null } }, NOW, 99), NOW + 99)
  t.equal(cookieExpiry({ cookie: { expires: 'not a date' } }, NOW, 99), NOW + 99)
  t.equal(cookieExpiry({}, NOW, 99), NOW + 99)
})

t.test('sessionExpiry reads the cookie of a session object, Dates included', async (t) => {
  t.equal(sessionExpiry({ cookie: { expires: new Date((NOW + 10) * 1000) }, big: 'x' }, NOW, 99), NOW + 10)
  t.equal(sessionExpiry({ cookie: { toJSON: () => ({ expires: new Date((NOW + 7) * 1000) }) } }, NOW, 99), NOW + 7, 'its toJSON()')
  t.equal(sessionExpiry({}, NOW, 99), NOW + 99)
  t.equal(sessionExpiry(null, NOW, 99), NOW + 99)
})

t.test('expiryNeedsWrite: backwards, or forward by touchAfterSeconds or a fifth of the lifetime', async (t) => {
  t.equal(expiryNeedsWrite(NOW + 3600, NOW + 3659, NOW, 60), false)
  t.equal(expiryNeedsWrite(NOW + 3600, NOW + 3660, NOW, 60), true)
  t.equal(expiryNeedsWrite(NOW + 3600, NOW + 3599, NOW, 60), true, 'an earlier expiry is written')
  t.equal(expiryNeedsWrite(NOW + 50, NOW + 59, NOW, 60), false, 'a 59 s session: at most 11 s of lag')
  t.equal(expiryNeedsWrite(NOW + 48, NOW + 60, NOW, 60), true)
})

t.test('sessionObject: a set cookie expiry comes from the row', async (t) => {
  const iso = new Date((NOW + 5) * 1000).toISOString()
  t.strictSame(sessionObject({ cookie: { expires: 'old', originalExpires: 'old' }, a: 1 }, NOW + 5), { cookie: { expires: iso, originalExpires: iso }, a: 1 })
  t.strictSame(sessionObject({ cookie: { expires: null } }, NOW + 5), { cookie: { expires: null } }, 'a session cookie stays one')
  t.strictSame(sessionObject({ a: 1 }, NOW + 5), { a: 1 })
})

t.test('RecentSessions drops the least recently used', async (t) => {
  const recent = new RecentSessions(2)
  const b = baselineOf({}, NOW)
  recent.set('a', b)
  recent.set('b', b)
  recent.get('a')
  recent.set('c', b)
  t.equal(recent.size, 2)
  t.equal(recent.get('b'), undefined)
  t.equal(recent.get('a'), b)
  recent.delete('a')
  t.equal(recent.get('a'), undefined)
})

t.test('regression: the size check counts the owner ownerOf adds (FST_DYNAMO_SESSION_TOO_LARGE, not a DynamoDB error)', async (t) => {
  const shape = resolveTableShape({})
  const id = 'a'.repeat(32)
  const fill = 'x'.repeat(MAX_ITEM_BYTES - itemOverhead(shape, id) - entrySize('k', '') - 100)
  t.equal(entrySize('k', fill), entrySize('k', '') + fill.length, 'the filler counts one byte a character')
  t.doesNotThrow(() => sessionRecord(shape, id, { k: fill }), '100 bytes under the limit without an owner')
  t.throws(() => sessionRecord(shape, id, { k: fill }, 'o'.repeat(256)), { code: 'FST_DYNAMO_SESSION_TOO_LARGE' })
})
