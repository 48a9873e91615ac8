import t from 'tap'
import { Flags, UsageError, columns, flagRows, parseFlags, type FlagSpecs } from '../../src/cli/flags.js'

const SPECS: FlagSpecs = {
  once: { type: 'boolean', description: 'One' },
  schedule: { type: 'string', arg: 'cron', description: 'When', default: '* * * * *' },
  count: { type: 'string', arg: 'n', description: 'How many' },
  help: { type: 'boolean', short: 'h', description: 'Help' }
}

function usageMessage (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof UsageError) return err.message
    throw err
  }
  return 'no usage error'
}

t.test('defaults are not applied: given() tells an explicit flag from an absent one', async (t) => {
  const absent = parseFlags([], SPECS)
  t.equal(absent.given('schedule'), false)
  t.equal(absent.text('schedule'), undefined)
  const atDefault = parseFlags(['--schedule', '* * * * *'], SPECS)
  t.equal(atDefault.given('schedule'), true, 'given with the default value')
  t.equal(atDefault.text('schedule'), '* * * * *')
  const inline = parseFlags(['--schedule=*/5 * * * *', '-h'], SPECS)
  t.equal(inline.text('schedule'), '*/5 * * * *')
  t.equal(inline.on('help'), true)
  t.equal(inline.on('once'), false)
})

t.test('exclusions reject flags given together, whatever their values and order', async (t) => {
  const exclusions = [['once', 'schedule']] as const
  for (const args of [['--once', '--schedule', '* * * * *'], ['--schedule=x', '--once']]) {
    t.equal(usageMessage(() => parseFlags(args, SPECS, exclusions)), '--schedule applies only without --once', args.join(' '))
  }
  t.equal(parseFlags(['--once'], SPECS, exclusions).on('once'), true)
  t.equal(parseFlags(['--schedule', 'x'], SPECS, exclusions).text('schedule'), 'x')
})

t.test('strict parsing names the flag', async (t) => {
  t.equal(usageMessage(() => parseFlags(['--nope'], SPECS)), 'unknown flag --nope')
  t.equal(usageMessage(() => parseFlags(['--toString'], SPECS)), 'unknown flag --toString')
  t.equal(usageMessage(() => parseFlags(['stray'], SPECS)), "unexpected argument 'stray'")
  t.equal(usageMessage(() => parseFlags(['--once=yes'], SPECS)), '--once takes no value')
  t.match(usageMessage(() => parseFlags(['--count', '--once'], SPECS)), /^--count needs a value <n>/)
  t.equal(parseFlags(['--count=-1'], SPECS).text('count'), '-1', 'an inline value may start with -')
})

t.test('typed getters check their bounds and name the flag', async (t) => {
  const flags = (count: string): Flags => new Flags({ count })
  t.equal(flags('3').integer('count', { min: 1, max: 3 }), 3)
  t.equal(flags('0').integer('count', { min: 0 }), 0)
  t.equal(flags('90071992547409').integer('count', { min: 1 }), 90071992547409, 'no maximum')
  t.equal(usageMessage(() => flags('4').integer('count', { min: 1, max: 3 })), "--count must be an integer from 1 to 3, got '4'")
  t.equal(usageMessage(() => flags('0').integer('count', { min: 1 })), "--count must be an integer of at least 1, got '0'")
  t.equal(usageMessage(() => flags('1.5').integer('count', { min: 1 })), "--count must be an integer of at least 1, got '1.5'")
  t.equal(usageMessage(() => flags('99999999999999999999').integer('count', { min: 1 })), "--count must be an integer of at least 1, got '99999999999999999999'")
  t.equal(flags('0.5').number('count', { above: 0 }), 0.5)
  t.equal(flags('.5').number('count', { above: 0 }), 0.5)
  t.equal(usageMessage(() => flags('0').number('count', { above: 0 })), "--count must be a number above 0, got '0'")
  t.equal(usageMessage(() => flags('1e3').number('count', { above: 0 })), "--count must be a number above 0, got '1e3'")
  t.equal(usageMessage(() => flags('7').number('count', { above: 0, max: 6 })), "--count must be a number above 0 and at most 6, got '7'")
  t.equal(flags('0').number('count', { min: 0 }), 0)
  t.equal(usageMessage(() => flags('-1').number('count', { min: 0 })), "--count must be a number of at least 0, got '-1'")
  t.equal(flags('b').choice('count', ['a', 'b']), 'b')
  t.equal(usageMessage(() => flags('c').choice('count', ['a', 'b'])), "--count must be a or b, got 'c'")
  t.strictSame(flags('a, b,').list('count', ['a', 'b']), ['a', 'b'])
  t.equal(usageMessage(() => flags('a,c').list('count', ['a', 'b'])), '--count: unknown c; expected a, b')
  t.equal(usageMessage(() => flags('').nonEmpty('count')), '--count must not be empty')
  const none = new Flags({})
  t.strictSame([none.integer('count', { min: 1 }), none.number('count', { above: 0 }), none.choice('count', ['a']), none.list('count', ['a']), none.nonEmpty('count')],
    [undefined, undefined, undefined, undefined, undefined])
})

t.test('help rows show the short form, the value placeholder and the default', async (t) => {
  t.equal(columns(flagRows(SPECS)), [
    '      --once             One',
    '      --schedule <cron>  When (default: * * * * *)',
    '      --count <n>        How many',
    '  -h, --help             Help'
  ].join('\n'))
})
