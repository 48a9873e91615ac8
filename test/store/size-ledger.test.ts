import t from 'tap'
import { SizeLedger } from '../../src/store/size-ledger.js'
import { MAX_ITEM_BYTES, entrySize } from '../../src/store/marshal.js'

const overhead = (bytes: number) => () => bytes

t.test('a value that takes the item past the limit is refused, and nothing is recorded', async (t) => {
  const ledger = new SizeLedger()
  const big = 'x'.repeat(MAX_ITEM_BYTES - 1000)
  ledger.admit('big', big, overhead(100))
  const err = t.throws(() => ledger.admit('more', 'y'.repeat(2000), overhead(100))) as { code?: string }
  t.equal(err.code, 'FST_DYNAMO_SESSION_TOO_LARGE')
  ledger.admit('more', 'y'.repeat(500), overhead(100))
  ledger.remove('big')
  ledger.admit('more', 'y'.repeat(2000), overhead(100))
  t.pass('room freed by a removal is usable')
})

t.test('replacing a key counts its new size only', async (t) => {
  const ledger = new SizeLedger()
  const half = 'x'.repeat(MAX_ITEM_BYTES / 2)
  ledger.admit('k', half, overhead(0))
  ledger.admit('k', half, overhead(0))
  t.pass('the old value of the key is not counted twice')
})

t.test('loaded data is sized on the first change, and clear() forgets it', async (t) => {
  const loaded = { big: 'x'.repeat(MAX_ITEM_BYTES - 100) }
  const ledger = new SizeLedger(loaded)
  const err = t.throws(() => ledger.admit('k', 'y'.repeat(200), overhead(0))) as { code?: string }
  t.equal(err.code, 'FST_DYNAMO_SESSION_TOO_LARGE', 'the loaded value counts')
  t.equal(entrySize('big', loaded.big) > MAX_ITEM_BYTES - 200, true)
  const cleared = new SizeLedger(loaded)
  cleared.clear()
  cleared.admit('k', 'y'.repeat(200), overhead(0))
  t.pass('after clear() nothing of the loaded data counts')
})
