import t from 'tap'
import fc from 'fast-check'
import { assertProperty, replayParameters } from './helpers/property.js'

// The replay helper every property test goes through (test/helpers/property.ts, docs/testing.md).

const failing = (seen: number[]): fc.IAsyncProperty<[number]> =>
  fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), async (n) => {
    seen.push(n)
    if (n > 1000) throw new Error('too big')
  })

t.test('FC_SEED and FC_PATH are read and checked', async (t) => {
  t.strictSame(replayParameters({}), {})
  t.strictSame(replayParameters({ FC_SEED: '-42' }), { seed: -42 })
  t.strictSame(replayParameters({ FC_SEED: '7', FC_PATH: '3:0:1' }), { seed: 7, path: '3:0:1' })
  t.throws(() => replayParameters({ FC_SEED: 'abc' }), /FC_SEED: expected an integer, got 'abc'/)
  t.throws(() => replayParameters({ FC_SEED: '1', FC_PATH: '1,2' }), /FC_PATH: expected a path/)
  t.throws(() => replayParameters({ FC_PATH: '1' }), /FC_PATH needs FC_SEED/)
})

t.test('the same FC_SEED generates the same values', async (t) => {
  const runs: number[][] = [[], []]
  for (const seen of runs) {
    await assertProperty(fc.asyncProperty(fc.integer(), async (n) => { seen.push(n) }), { numRuns: 20 }, { FC_SEED: '12345' })
  }
  t.equal(runs[0]!.length, 20)
  t.strictSame(runs[1], runs[0])
})

t.test('a failure says how to replay it, and the replay hits the shrunk counterexample at once', async (t) => {
  const error = await assertProperty(failing([]), { numRuns: 200 }, {}).then(() => undefined, (err: Error) => err)
  t.ok(error, 'the property fails')
  const replay = /Replay: FC_SEED=(-?\d+) FC_PATH=([\d:]+) /.exec(error?.message ?? '')
  t.ok(replay, 'the message names FC_SEED and FC_PATH')
  t.match(error?.message, /Counterexample: \[1001\]/, 'the fast-check report is kept')
  const seen: number[] = []
  const again = await assertProperty(failing(seen), { numRuns: 200 }, { FC_SEED: replay![1], FC_PATH: replay![2] }).then(() => undefined, (err: Error) => err)
  t.ok(again, 'the replay fails too')
  t.equal(seen[0], 1001, 'on the shrunk counterexample, first')
})
