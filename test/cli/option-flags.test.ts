import t from 'tap'
import { Flags, UsageError } from '../../src/cli/flags.js'
import { REAPER_FLAG_BOUNDS, reaperFlags, tableFlags } from '../../src/cli/option-flags.js'
import {
  MAX_REAPER_LEASES, MAX_REAPER_SEGMENTS, MIN_REAPER_GRACE_SECONDS, MIN_REAPER_LEASES, MIN_REAPER_LEASE_SECONDS, MIN_REAPER_MAX_PASS_SECONDS, MIN_REAPER_SEGMENTS,
  resolveReaperOptions, resolveTableShape
} from '../../src/options.js'

function accepts (fn: () => unknown): boolean {
  try {
    fn()
    return true
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: unknown }).code === 'FST_DYNAMO_SESSION_INVALID_OPTION') return false
    throw err
  }
}

const FLAG_FOR_OPTION: Record<'segments' | 'graceSeconds' | 'maxReadUnitsPerSecond' | 'maxWriteUnitsPerSecond' | 'leaseSeconds' | 'leases' | 'maxPassSeconds', string> = {
  segments: 'segments',
  graceSeconds: 'grace-seconds',
  maxReadUnitsPerSecond: 'max-read-units',
  maxWriteUnitsPerSecond: 'max-write-units',
  leaseSeconds: 'lease-seconds',
  leases: 'leases',
  maxPassSeconds: 'max-pass-seconds'
}

t.test('regression: the reaper flags accept exactly the values the reaper options accept', async (t) => {
  const values = [-1, 0, 0.5, 1, 2, 999, MAX_REAPER_SEGMENTS, MAX_REAPER_SEGMENTS + 1, 86_400, 86_401, 1_000_000, 1_000_001, Number.MAX_SAFE_INTEGER]
  for (const [option, flag] of Object.entries(FLAG_FOR_OPTION) as Array<[keyof typeof FLAG_FOR_OPTION, string]>) {
    for (const value of values) {
      const byOption = accepts(() => resolveReaperOptions({ [option]: value }))
      const byFlag = accepts(() => reaperFlags(new Flags({ [flag]: String(value) }), false))
      t.equal(byFlag, byOption, `--${flag} ${value}: ${byOption ? 'accepted' : 'rejected'} like reaper.${option}`)
      if (byFlag) t.equal(reaperFlags(new Flags({ [flag]: String(value) }), false)[option], value, `--${flag} ${value} resolves to ${value}`)
    }
  }
})

t.test('the flag bounds are the options module\'s constants', async (t) => {
  t.strictSame(REAPER_FLAG_BOUNDS, {
    segments: { min: MIN_REAPER_SEGMENTS, max: MAX_REAPER_SEGMENTS },
    graceSeconds: { min: MIN_REAPER_GRACE_SECONDS },
    leaseSeconds: { min: MIN_REAPER_LEASE_SECONDS },
    leases: { min: MIN_REAPER_LEASES, max: MAX_REAPER_LEASES },
    maxPassSeconds: { min: MIN_REAPER_MAX_PASS_SECONDS }
  })
})

t.test('absent flags take the options\' defaults; the schedule is validated like reaper.schedule', async (t) => {
  t.strictSame(reaperFlags(new Flags({}), undefined), resolveReaperOptions({}))
  t.strictSame(reaperFlags(new Flags({}), false), resolveReaperOptions({ schedule: false }))
  t.strictSame(reaperFlags(new Flags({}), '*/5 * * * *'), resolveReaperOptions({ schedule: '*/5 * * * *' }))
  t.throws(() => reaperFlags(new Flags({}), 'every minute'), { name: 'UsageError', message: /^--schedule: / })
  t.strictSame(tableFlags(new Flags({})), resolveTableShape({}))
  t.strictSame(tableFlags(new Flags({ table: 'sessions_x', 'id-attribute': 'pk' })), resolveTableShape({ tableName: 'sessions_x', idAttribute: 'pk' }))
  t.throws(() => tableFlags(new Flags({ table: 'ab' })), { name: 'UsageError', message: /^--table: / })
})

t.test('the expiry index flags give the full TableShape, validated like the expiryIndex option', async (t) => {
  const flags = { 'expiry-index-name': 'By_Bucket', 'bucket-attribute': 'bkt', 'shard-attribute': 'shd', shards: '4', 'bucket-seconds': '60' }
  t.strictSame(tableFlags(new Flags(flags)),
    resolveTableShape({ expiryIndex: { indexName: 'By_Bucket', attribute: 'bkt', shardAttribute: 'shd', shards: 4, bucketSeconds: 60 } }))
  t.equal(tableFlags(new Flags({ 'no-expiry-index': true })).expiryIndex, false)
  for (const value of [0, 1, 1000, 1001]) {
    t.equal(accepts(() => tableFlags(new Flags({ shards: String(value) }))), accepts(() => resolveTableShape({ expiryIndex: { shards: value } })), `--shards ${value}`)
  }
  for (const value of [0, 1, 300]) {
    t.equal(accepts(() => tableFlags(new Flags({ 'bucket-seconds': String(value) }))),
      accepts(() => resolveTableShape({ expiryIndex: { bucketSeconds: value } })), `--bucket-seconds ${value}`)
  }
  t.throws(() => tableFlags(new Flags({ 'expiry-index-name': 'x' })), { name: 'UsageError', message: /^--expiry-index-name: / })
  t.throws(() => tableFlags(new Flags({ 'bucket-attribute': 'Sesion_Id' })), { name: 'UsageError', message: /expiryIndex\.attribute/ })
})
