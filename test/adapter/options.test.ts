import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  DEFAULT_STORE_MAX_CACHED_SESSIONS, DEFAULT_STORE_TOUCH_AFTER_SECONDS, DEFAULT_STORE_TTL_SECONDS, STORE_OPTION_KEYS, resolveStoreOptions
} from '../../src/adapter/options.js'

const migration = readFileSync(new URL('../../docs/migration.md', import.meta.url), 'utf8')

t.test('docs/migration.md tables exactly the store\'s options, with their defaults', async (t) => {
  const start = migration.indexOf('### Store options')
  const section = migration.slice(start, migration.indexOf('\n### ', start + 10))
  const rows = [...section.matchAll(/^\| `(\w+)` \| [^|]+ \| ([^|]+) \|/gm)].map((m) => [m[1]!, m[2]!.trim()] as const)
  t.strictSame(rows.map(([name]) => name).sort(), [...STORE_OPTION_KEYS].sort())
  const defaults = new Map(rows)
  t.equal(defaults.get('ttlSeconds'), `\`${DEFAULT_STORE_TTL_SECONDS}\``)
  t.equal(defaults.get('touchAfterSeconds'), `\`${DEFAULT_STORE_TOUCH_AFTER_SECONDS}\``)
  t.equal(defaults.get('maxCachedSessions'), `\`${DEFAULT_STORE_MAX_CACHED_SESSIONS}\``)
})

t.test('the store\'s options: validated, then defaulted', async (t) => {
  const resolved = resolveStoreOptions(undefined)
  t.equal(resolved.shape.tableName, 'ManejoSesion')
  t.equal(resolved.ttlSeconds, DEFAULT_STORE_TTL_SECONDS)
  t.equal(resolveStoreOptions({ touchAfterSeconds: 0 }).touchAfterSeconds, 0, 'an explicit 0 is kept')
  t.equal(resolveStoreOptions({ expiryIndex: false }).shape.expiryIndex, false)
  t.throws(() => resolveStoreOptions('x'), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
  t.throws(() => resolveStoreOptions({ maxCachedSessions: 0 }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
  t.throws(() => resolveStoreOptions({ ttlSeconds: 1.5 }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
  t.throws(() => resolveStoreOptions({ now: 5 }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
  t.throws(() => resolveStoreOptions({ tableName: 'x' }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' })
  t.throws(() => resolveStoreOptions({ ownerOf: 'userId' }), { code: 'FST_DYNAMO_SESSION_INVALID_OPTION' }, 'ownerOf is a function')
  t.equal(resolveStoreOptions({ ownerOf: (s: { u: string }) => s.u }).ownerOf?.({ u: 'a' }), 'a')
})
