import t from 'tap'
import { SESSION_ID_PATTERN, isSessionId, newSessionId } from '../src/ids.js'

t.test('session ids: 32 URL-safe characters, 192 random bits, distinct', async (t) => {
  const ids = new Set<string>()
  for (let i = 0; i < 2000; i++) {
    const id = newSessionId()
    t.equal(id.length, 32)
    t.match(id, /^[A-Za-z0-9_-]{32}$/)
    t.equal(Buffer.from(id, 'base64url').length, 24)
    t.ok(isSessionId(id))
    ids.add(id)
  }
  t.equal(ids.size, 2000)
  t.notOk(isSessionId('reaper#lease'), 'internal rows are not session ids')
  t.notOk(isSessionId('short'))
  t.notOk(isSessionId('a'.repeat(129)))
  t.ok(isSessionId('0f8fad5b-d9cb-469f-a165-70867728950e'), "other software's UUIDs are")
  t.ok(SESSION_ID_PATTERN.test('a'.repeat(16)))
})
