import t from 'tap'
import { MAX_KEY_LENGTH, cloneJson, validateKey, type JsonValue } from '../../src/store/json.js'

const NOT_SERIALIZABLE = 'FST_DYNAMO_SESSION_NOT_SERIALIZABLE'

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code ?? `uncoded ${String(err)}`
  }
  return undefined
}

function nested (levels: number, leaf: JsonValue = 1): JsonValue {
  let v: JsonValue = leaf
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? { n: v } : [v]
  return v
}

t.test('cloneJson: JSON values are accepted and deep-copied', async (t) => {
  const values: JsonValue[] = [
    null, true, false, 0, -1, 1.5, 2 ** 60, 1e-130, -1e-130, 9.999999999999998e125, -9.999999999999998e125,
    '', 'text', 'emoji 😀 and ü', [], {}, [1, 'a', null, [true]], { a: { b: { c: [1, { d: 'e' }] } } }
  ]
  for (const v of values) t.strictSame(cloneJson('k', v), v, JSON.stringify(v))
  t.ok(Object.is(cloneJson('k', -0), 0), '-0 is stored as 0')

  const original = { list: [1, { x: 1 }], inner: { y: 'a' } }
  const copy = cloneJson('k', original) as { list: [number, { x: number }], inner: { y: string } }
  original.list.push(2)
  ;(original.list[1] as { x: number }).x = 99
  original.inner.y = 'changed'
  t.strictSame(copy, { list: [1, { x: 1 }], inner: { y: 'a' } }, 'later mutation of the input does not reach the copy')

  // A value shared twice (not a cycle) is fine, and copied twice.
  const shared = { s: 1 }
  const dag = cloneJson('k', { a: shared, b: [shared, shared] }) as { a: object, b: object[] }
  t.strictSame(dag, { a: { s: 1 }, b: [{ s: 1 }, { s: 1 }] })
  t.not(dag.a, shared)

  // Objects without a prototype are plain.
  const bare = Object.create(null) as Record<string, number>
  bare.z = 1
  t.strictSame(cloneJson('k', bare), { z: 1 })
})

t.test('cloneJson: anything that is not JSON is rejected with a coded error', async (t) => {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  const cyclicArray: unknown[] = [1]
  cyclicArray.push([cyclicArray])
  class Point { x = 1 }
  const withSymbolKey = { a: 1, [Symbol('s')]: 2 }
  // eslint-disable-next-line no-sparse-arrays
  const sparse = [1, , 3]
  const cases: Array<[string, unknown]> = [
    ['a function', () => 1],
    ['a nested function', { a: { f () { return 1 } } }],
    ['a symbol', Symbol('x')],
    ['a BigInt', 10n],
    ['a nested BigInt', [1, 2n]],
    ['undefined at the top', undefined],
    ['undefined nested in an object', { a: undefined }],
    ['undefined in an array', [1, undefined]],
    ['a hole in an array', sparse],
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
    ['-Infinity nested', { a: [-Infinity] }],
    ['a Date', new Date()],
    ['a Map', new Map([['a', 1]])],
    ['a Set', new Set([1])],
    ['a RegExp', /x/],
    ['a Buffer', Buffer.from('x')],
    ['a typed array', new Uint8Array(2)],
    ['a class instance', new Point()],
    ['a boxed string', Object('x')],
    ['a promise', Promise.resolve(1)],
    ['an Error', new Error('x')],
    ['a cyclic object', cyclic],
    ['a cyclic array', cyclicArray],
    ['a lone high surrogate', 'a\uD800b'],
    ['a lone low surrogate nested', { a: ['\uDC00'] }],
    ['a lone surrogate in a nested key', { '\uD800': 1 }],
    ['a number above DynamoDB\'s range', 1e126],
    ['9.999999999999999e125, which is 1e126 as a double', 9.999999999999999e125],
    ['a negative number beyond DynamoDB\'s range', -1e126],
    ['a number too close to zero', 1e-131],
    ['the largest double', Number.MAX_VALUE],
    ['the smallest double', Number.MIN_VALUE],
    ['nesting deeper than allowed', nested(32)],
    ['an empty nested key', { a: { '': 1 } }],
    ['an empty key', { '': 1 }],
    ['a symbol key', withSymbolKey]
  ]
  for (const [name, value] of cases) t.equal(codeOf(() => cloneJson('k', value)), NOT_SERIALIZABLE, name)
  t.equal(codeOf(() => cloneJson('k', nested(31))), undefined, '31 levels inside the data map: 32 in all, DynamoDB\'s limit')
  t.equal(codeOf(() => cloneJson('k', '\uD83D\uDE00')), undefined, 'a surrogate pair is fine')
})

t.test('cloneJson: the error names the path of the offending value', async (t) => {
  const messageOf = (value: unknown): string => {
    try {
      cloneJson('k', value)
    } catch (err) {
      return (err as Error).message
    }
    return 'accepted'
  }
  t.match(messageOf({ a: [1, { b: 2n }] }), 'value.a[1].b is a bigint')
  t.match(messageOf([[0, [undefined]]]), 'value[0][1][0] is a undefined')
  t.match(messageOf({ list: [1, 2], x: { y: Number.NaN } }), 'value.x.y is NaN', 'siblings already copied leave no trace in the path')
  const cyclic: Record<string, unknown> = { a: {} }
  ;(cyclic.a as Record<string, unknown>).back = cyclic
  t.match(messageOf(cyclic), 'value.a.back is a cyclic reference')
  t.match(messageOf(new Date(0)), 'value is a Date')
})

t.test('cloneJson: a "__proto__" key is copied as an own key, never as a prototype', async (t) => {
  const copy = cloneJson('k', JSON.parse('{"__proto__":{"polluted":true},"a":1}')) as Record<string, unknown>
  t.ok(Object.hasOwn(copy, '__proto__'))
  t.equal(Object.getPrototypeOf(copy), Object.prototype)
  t.equal((copy as { polluted?: unknown }).polluted, undefined)
  t.strictSame(Object.keys(copy), ['__proto__', 'a'])
})

t.test('regression: keys Object.prototype has (an accessor, a read-only value) are copied as own keys, untouched by it', async (t) => {
  let intercepted = 0
  Object.defineProperty(Object.prototype, 'plantedSetter', { set () { intercepted++ }, get () { return undefined }, configurable: true })
  Object.defineProperty(Object.prototype, 'readOnlyName', { value: 'inherited', writable: false, configurable: true })
  t.teardown(() => {
    delete (Object.prototype as Record<string, unknown>).plantedSetter
    delete (Object.prototype as Record<string, unknown>).readOnlyName
  })
  const copy = cloneJson('k', JSON.parse('{"plantedSetter":1,"readOnlyName":2,"plain":3}')) as Record<string, unknown>
  t.equal(intercepted, 0, 'the accessor never saw the value')
  t.ok(Object.hasOwn(copy, 'plantedSetter') && Object.hasOwn(copy, 'readOnlyName'))
  t.strictSame(Object.entries(copy), [['plantedSetter', 1], ['readOnlyName', 2], ['plain', 3]])
})

t.test('validateKey: non-empty strings up to the maximum length', async (t) => {
  t.equal(validateKey('a'), 'a')
  t.equal(validateKey('k'.repeat(MAX_KEY_LENGTH)), 'k'.repeat(MAX_KEY_LENGTH))
  t.equal(validateKey('with.dots #and :colons'), 'with.dots #and :colons')
  for (const key of ['', 'k'.repeat(MAX_KEY_LENGTH + 1), 1, null, undefined, {}, Symbol('k'), 'a\uD800']) {
    t.equal(codeOf(() => validateKey(key)), 'FST_DYNAMO_SESSION_INVALID_KEY', String(typeof key === 'symbol' ? 'symbol' : JSON.stringify(key)))
  }
})
