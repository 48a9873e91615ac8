import t from 'tap'
import { UnitBudget, defaultSleep } from '../../src/reaper/budget.js'
import { fakeTime } from '../helpers/reaper.js'

t.test('starts with one second of units and takes them without waiting', async (t) => {
  const time = fakeTime()
  const budget = new UnitBudget(10, time.now, time.sleep)
  t.equal(budget.ratePerSecond, 10)
  t.equal(await budget.take(4), true)
  t.equal(await budget.take(6), true)
  t.strictSame(time.slept, [], 'no wait while units remain')
})

t.test('waits for the refill, on the injected clock', async (t) => {
  const time = fakeTime()
  const budget = new UnitBudget(10, time.now, time.sleep)
  await budget.take(10)
  await budget.take(5)
  t.strictSame(time.slept, [500], 'five units at ten a second: half a second')
  await budget.take(1)
  t.strictSame(time.slept, [500, 100])
})

t.test('never holds more than one second of units', async (t) => {
  const time = fakeTime()
  const budget = new UnitBudget(10, time.now, time.sleep)
  time.advance(60_000)
  await budget.take(10)
  await budget.take(1)
  t.strictSame(time.slept, [100], 'idle time does not accumulate past the capacity')
})

t.test('a reservation over the capacity waits for a full bucket, then later callers repay it', async (t) => {
  const time = fakeTime()
  const budget = new UnitBudget(10, time.now, time.sleep)
  await budget.take(3)
  await budget.take(25)
  t.strictSame(time.slept, [300], 'waited until the bucket was full again, not for 25 units')
  await budget.take(1)
  t.strictSame(time.slept, [300, 1600], '15 units of debt and one more: 1.6 s')
})

t.test('charge corrects a reservation both ways', async (t) => {
  const time = fakeTime()
  const budget = new UnitBudget(10, time.now, time.sleep)
  await budget.take(10)
  budget.charge(-4)
  await budget.take(4)
  t.strictSame(time.slept, [], 'refunded units are available at once')
  budget.charge(-100)
  await budget.take(10)
  t.strictSame(time.slept, [], 'a refund fills the bucket')
  await budget.take(1)
  t.strictSame(time.slept, [100], 'but never past its capacity')
  budget.charge(5)
  await budget.take(1)
  t.strictSame(time.slept, [100, 600], 'an extra charge is waited for by the next caller')
})

t.test('over a long run the rate holds', async (t) => {
  const time = fakeTime()
  const started = time.now()
  const budget = new UnitBudget(4, time.now, time.sleep)
  for (let i = 0; i < 400; i++) await budget.take(1)
  const seconds = (time.now() - started) / 1000
  t.ok(400 <= 4 * (seconds + 1), `400 units in ${seconds} s at 4/s`)
  t.ok(seconds <= 400 / 4, 'and not slower than needed')
})

t.test('an aborted wait resolves false and takes nothing', async (t) => {
  const time = fakeTime()
  const budget = new UnitBudget(1, time.now, time.sleep)
  const abort = new AbortController()
  abort.abort()
  t.equal(await budget.take(1, abort.signal), false)
  t.equal(await budget.take(1), true, 'the unit is still there')
})

t.test('a guard: sleeps are cut at its due time, and it runs after each sleep and before the units are taken', async (t) => {
  const time = fakeTime()
  const budget = new UnitBudget(1, time.now, time.sleep)
  // A page that cost ten units more than the bucket held.
  budget.charge(10)
  let dueAt = time.now() + 3000
  const checks: number[] = []
  const guard = {
    get dueAt () { return dueAt },
    check: async () => {
      checks.push(time.now())
      if (time.now() >= dueAt) dueAt = time.now() + 3000
      return true
    }
  }
  const start = time.now()
  t.equal(await budget.take(1, undefined, guard), true)
  t.strictSame(time.slept, [3000, 3000, 3000, 1000], 'ten seconds to repay the debt, in sleeps no longer than the guard allows')
  t.strictSame(checks.map((at) => at - start), [0, 3000, 6000, 9000, 10000], 'checked each time, last right before taking')
})

t.test('a guard that says stop ends the wait, taking nothing', async (t) => {
  const time = fakeTime()
  const budget = new UnitBudget(1, time.now, time.sleep)
  await budget.take(1)
  const deadline = time.now() + 500
  const guard = { dueAt: deadline, check: async () => time.now() < deadline }
  t.equal(await budget.take(1, undefined, guard), false)
  t.strictSame(time.slept, [500])
  time.advance(500)
  t.equal(await budget.take(1), true, 'the unit is still there')
  t.strictSame(time.slept, [500])
})

/**
 * Which settles first: `sleep`, or a check that runs once every pending promise callback has (setImmediate). A sleep
 * that its abort ended resolves within promise callbacks, so it wins; one still waiting on its timer loses.
 */
async function settledAtOnce (sleep: Promise<void>): Promise<'returned' | 'still waiting'> {
  const check = new Promise<'still waiting'>((resolve) => setImmediate(() => resolve('still waiting')))
  return await Promise.race([sleep.then(() => 'returned' as const), check])
}

t.test('defaultSleep waits, and returns early on abort', async (t) => {
  await defaultSleep(5)
  const abort = new AbortController()
  const pending = defaultSleep(60_000, abort.signal)
  abort.abort()
  t.equal(await settledAtOnce(pending), 'returned', 'an aborted sleep does not hold the test for a minute')
  t.equal(await settledAtOnce(defaultSleep(60_000, abort.signal)), 'returned', 'nor does one started after the abort')
})
