import { readFileSync } from 'node:fs'
import t from 'tap'
import * as errors from '../src/errors.js'
import * as publicApi from '../src/index.js'

type Coded = Error & { code: string, statusCode: number }
type Ctor = new (...args: unknown[]) => Coded

const catalogue = Object.entries(errors) as Array<[string, Ctor]>

function readmeTable (): Map<string, number> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('<!-- SECTION: errors -->')
  t.ok(start >= 0, 'README has the errors section')
  const next = readme.indexOf('<!-- SECTION:', start + 10)
  const section = readme.slice(start, next < 0 ? undefined : next)
  const rows = new Map<string, number>()
  for (const m of section.matchAll(/^\| `(FST_[A-Z_]+)` \| (\d{3}) \|/gm)) rows.set(m[1]!, Number(m[2]))
  return rows
}

t.test('every export of the catalogue is a coded error class', async (t) => {
  t.ok(catalogue.length >= 13)
  const codes = new Set<string>()
  for (const [name, Err] of catalogue) {
    t.match(name, /Error$/, `${name} is named ...Error`)
    t.type(Err, 'function', name)
    const err = new Err('one', 'two', 'three')
    t.ok(err instanceof Error, `${name} is an Error`)
    t.match(err.code, /^FST_DYNAMO_SESSION_[A-Z_]+$/, `${name} code ${err.code}`)
    t.notOk(codes.has(err.code), `${err.code} is unique`)
    codes.add(err.code)
    t.type(err.statusCode, 'number', `${name} has a status code`)
    t.notMatch(err.message, /%s/, `${name} formats its arguments`)
  }
})

t.test('the public entry point exports the whole catalogue', async (t) => {
  for (const [name, Err] of catalogue) t.equal((publicApi as Record<string, unknown>)[name], Err, name)
})

t.test('status codes: configuration 500, store unavailable 503, session gone 409', async (t) => {
  const status = (Err: Ctor): number => new Err('x', 'y', 'z').statusCode
  t.equal(status(errors.InvalidOptionError as unknown as Ctor), 500)
  t.equal(status(errors.UnknownOptionError as unknown as Ctor), 500)
  t.equal(status(errors.InvalidSecretError as unknown as Ctor), 500)
  t.equal(status(errors.StoreUnavailableError as unknown as Ctor), 503)
  t.equal(status(errors.SaveFailedError as unknown as Ctor), 503)
  t.equal(status(errors.SessionGoneError as unknown as Ctor), 409)
  t.equal(status(errors.SessionTooLargeError as unknown as Ctor), 500)
  t.equal(status(errors.TableSetupError as unknown as Ctor), 500)
})

t.test('option errors are TypeErrors and the size error a RangeError', async (t) => {
  t.ok(new errors.InvalidOptionError('a', 'b', 'c') instanceof TypeError)
  t.ok(new errors.UnknownOptionError('a', 'b') instanceof TypeError)
  t.ok(new errors.InvalidSecretError('a') instanceof TypeError)
  t.ok(new errors.NotSerializableError('a', 'b') instanceof TypeError)
  t.ok(new errors.InvalidKeyError(255, 'number') instanceof TypeError)
  t.ok(new errors.SessionTooLargeError(500000, 409600) instanceof RangeError)
})

t.test('the README error table lists every code with its status, and nothing else', async (t) => {
  const table = readmeTable()
  const actual = new Map(catalogue.map(([, Err]) => {
    const err = new Err('x', 'y', 'z')
    return [err.code, err.statusCode] as const
  }))
  for (const [code, statusCode] of actual) t.equal(table.get(code), statusCode, `${code} is listed with ${statusCode}`)
  for (const code of table.keys()) t.ok(actual.has(code), `${code} in the README exists`)
})
