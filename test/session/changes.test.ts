import t from 'tap'
import { ChangeSet, type Changes } from '../../src/session/changes.js'

t.test('a write takes the pending changes; changes made meanwhile belong to the next write', async (t) => {
  const set = new ChangeSet()
  set.set('a', 1)
  let seen: Changes | undefined
  await set.write(async (changes) => {
    seen = changes
    set.set('b', 2)
  })
  t.strictSame([...seen!], [['a', 1]])
  t.equal(set.size, 1, 'b is pending')
})

t.test('a failed write leaves its changes pending, unless changed since', async (t) => {
  const set = new ChangeSet()
  set.set('a', 1)
  set.set('b', 2)
  const failure = new Error('store down')
  await t.rejects(set.write(async () => {
    set.set('b', undefined)
    throw failure
  }), failure)
  let retried: Changes | undefined
  await set.write(async (changes) => { retried = changes })
  t.strictSame(new Map(retried), new Map<string, number | undefined>([['a', 1], ['b', undefined]]), 'the later change of b wins')
})
