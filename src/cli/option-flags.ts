import {
  DEFAULT_BUCKET_ATTRIBUTE, DEFAULT_BUCKET_SECONDS, DEFAULT_EXPIRY_INDEX_NAME, DEFAULT_EXPIRY_INDEX_SHARDS, DEFAULT_SHARD_ATTRIBUTE,
  MAX_EXPIRY_INDEX_SHARDS, MIN_BUCKET_SECONDS, MIN_EXPIRY_INDEX_SHARDS, type ExpiryIndexOptions,
  DEFAULT_EXPIRES_ATTRIBUTE, DEFAULT_ID_ATTRIBUTE, DEFAULT_REAPER_GRACE_SECONDS, DEFAULT_REAPER_LEASE_SECONDS,
  DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND, DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND, DEFAULT_REAPER_PASS_SHARE, DEFAULT_REAPER_SEGMENTS,
  DEFAULT_REAPER_BACKFILL_READ_UNITS_PER_SECOND, DEFAULT_REAPER_STRATEGY, REAPER_STRATEGY_CHOICES,
  DEFAULT_REAPER_UNSCHEDULED_PASS_SECONDS, DEFAULT_REAPER_LEASES, MAX_REAPER_LEASES, MIN_REAPER_LEASES,
  DEFAULT_TABLE_NAME, MAX_REAPER_SEGMENTS, MIN_REAPER_GRACE_SECONDS, MIN_REAPER_LEASE_SECONDS,
  MIN_REAPER_MAX_PASS_SECONDS, MIN_REAPER_SEGMENTS, resolveReaperOptions, resolveTableShape, type ReaperOptions,
  type ResolvedReaperOptions, type TableShape
} from '../options.js'
import { UsageError, type Bounds, type FlagSpecs, type Flags } from './flags.js'

// Flags that stand for plugin options: their bounds, defaults and validation are the options'.

/** The bounds of the expiry index options, as the CLI's integer flags take them. */
export const EXPIRY_INDEX_FLAG_BOUNDS = {
  shards: { min: MIN_EXPIRY_INDEX_SHARDS, max: MAX_EXPIRY_INDEX_SHARDS },
  bucketSeconds: { min: MIN_BUCKET_SECONDS }
} as const satisfies Record<string, Bounds>

/** The `expiryIndex` option's flags (part of TABLE_FLAGS). */
export const EXPIRY_INDEX_FLAGS: FlagSpecs = {
  'expiry-index-name': {
    type: 'string', arg: 'name', description: 'Name of the expiry index', default: DEFAULT_EXPIRY_INDEX_NAME
  },
  'bucket-attribute': {
    type: 'string', arg: 'name', description: 'Bucket attribute (Number, the index\'s sort key)', default: DEFAULT_BUCKET_ATTRIBUTE
  },
  'shard-attribute': {
    type: 'string', arg: 'name', description: 'Shard attribute (Number, the index\'s partition key)', default: DEFAULT_SHARD_ATTRIBUTE
  },
  shards: {
    type: 'string',
    arg: 'n',
    description: `Expiry index shards (${MIN_EXPIRY_INDEX_SHARDS} to ${MAX_EXPIRY_INDEX_SHARDS})`,
    default: String(DEFAULT_EXPIRY_INDEX_SHARDS)
  },
  'bucket-seconds': {
    type: 'string', arg: 'n', description: 'Width of an expiry bucket in seconds', default: String(DEFAULT_BUCKET_SECONDS)
  }
}

export const TABLE_FLAGS: FlagSpecs = {
  table: { type: 'string', arg: 'name', description: 'Table name', default: DEFAULT_TABLE_NAME },
  'id-attribute': { type: 'string', arg: 'name', description: 'Partition key attribute (String)', default: DEFAULT_ID_ATTRIBUTE },
  'expires-attribute': {
    type: 'string',
    arg: 'name',
    description: 'Expiry attribute (Number, epoch seconds; the TTL attribute)',
    default: DEFAULT_EXPIRES_ATTRIBUTE
  },
  ...EXPIRY_INDEX_FLAGS
}

/** The bounds of the reaper options, as the CLI's integer flags take them. */
export const REAPER_FLAG_BOUNDS = {
  segments: { min: MIN_REAPER_SEGMENTS, max: MAX_REAPER_SEGMENTS },
  graceSeconds: { min: MIN_REAPER_GRACE_SECONDS },
  leaseSeconds: { min: MIN_REAPER_LEASE_SECONDS },
  leases: { min: MIN_REAPER_LEASES, max: MAX_REAPER_LEASES },
  maxPassSeconds: { min: MIN_REAPER_MAX_PASS_SECONDS }
} as const satisfies Record<string, Bounds>

/** Flags of the reaper's Scan, shared by `reap` and `stats`. */
export const SCAN_FLAGS: FlagSpecs = {
  segments: {
    type: 'string',
    arg: 'n',
    description: `Parallel Scan segments (${MIN_REAPER_SEGMENTS} to ${MAX_REAPER_SEGMENTS})`,
    default: String(DEFAULT_REAPER_SEGMENTS)
  },
  'grace-seconds': {
    type: 'string',
    arg: 'n',
    description: 'Seconds past its expiry before a row counts as expired',
    default: String(DEFAULT_REAPER_GRACE_SECONDS)
  },
  'max-read-units': {
    type: 'string',
    arg: 'n',
    description: 'Read capacity units per second the scan may consume',
    default: String(DEFAULT_REAPER_MAX_READ_UNITS_PER_SECOND)
  }
}

/** Flags of the reaper's deletes and lease, for `reap`. */
export const DELETE_FLAGS: FlagSpecs = {
  strategy: {
    type: 'string',
    arg: 'mode',
    description: 'auto (the expiry index when ACTIVE, else a scan), index or scan',
    default: DEFAULT_REAPER_STRATEGY
  },
  'backfill-read-units': {
    type: 'string',
    arg: 'n',
    description: 'Read capacity units per second of the backfill beside index passes',
    default: String(DEFAULT_REAPER_BACKFILL_READ_UNITS_PER_SECOND)
  },
  'max-write-units': {
    type: 'string',
    arg: 'n',
    description: 'Write capacity units per second the deletes may consume',
    default: String(DEFAULT_REAPER_MAX_WRITE_UNITS_PER_SECOND)
  },
  'lease-seconds': {
    type: 'string', arg: 'n', description: 'Length of the lease a pass holds', default: String(DEFAULT_REAPER_LEASE_SECONDS)
  },
  leases: {
    type: 'string',
    arg: 'n',
    description: `Lease groups, so that as many instances reap at once (${MIN_REAPER_LEASES} to ${MAX_REAPER_LEASES})`,
    default: String(DEFAULT_REAPER_LEASES)
  },
  'max-pass-seconds': {
    type: 'string',
    arg: 'n',
    description: 'A pass stops after this long; the next resumes (default: ' +
      `${DEFAULT_REAPER_PASS_SHARE * 100}% of the schedule's period, ${DEFAULT_REAPER_UNSCHEDULED_PASS_SECONDS} with --once)`
  }
}

const OPTION_FOR_FLAG = { table: 'tableName', 'id-attribute': 'idAttribute', 'expires-attribute': 'expiresAttribute' } as const
const INDEX_OPTION_FOR_FLAG = {
  'expiry-index-name': 'indexName', 'bucket-attribute': 'attribute', 'shard-attribute': 'shardAttribute'
} as const
/** A boolean flag (of `init`) that stands for `expiryIndex: false`. */
export const NO_EXPIRY_INDEX_FLAG = 'no-expiry-index'
/** A boolean flag (of `init`) that stands for `ownerIndex: false`. */
export const NO_OWNER_INDEX_FLAG = 'no-owner-index'

/** The plugin's resolver applied to flags: its coded error becomes a usage error naming `names`. */
function validated<T> (names: string, resolve: () => T): T {
  try {
    return resolve()
  } catch (err) {
    throw new UsageError(`${names}: ${(err as Error).message}`)
  }
}

/**
 * The table name, attribute and expiry index flags (absent ones take the plugin's defaults), validated like the
 * plugin's options; `--no-expiry-index` and `--no-owner-index` (where a command has them) are `expiryIndex: false`
 * and `ownerIndex: false`.
 */
export function tableFlags (flags: Flags): TableShape {
  const given: Record<string, unknown> = {}
  for (const [flag, option] of Object.entries(OPTION_FOR_FLAG)) {
    const value = flags.text(flag)
    if (value === undefined) continue
    validated(`--${flag}`, () => resolveTableShape({ [option]: value }))
    given[option] = value
  }
  given.expiryIndex = flags.on(NO_EXPIRY_INDEX_FLAG) ? false : expiryIndexFlags(flags)
  if (flags.on(NO_OWNER_INDEX_FLAG)) given.ownerIndex = false
  return validated('attribute flags', () => resolveTableShape(given))
}

function expiryIndexFlags (flags: Flags): ExpiryIndexOptions {
  const index: Record<string, string | number> = {}
  for (const [flag, option] of Object.entries(INDEX_OPTION_FOR_FLAG)) {
    const value = flags.text(flag)
    if (value === undefined) continue
    validated(`--${flag}`, () => resolveTableShape({ expiryIndex: { [option]: value } }))
    index[option] = value
  }
  const shards = flags.integer('shards', EXPIRY_INDEX_FLAG_BOUNDS.shards)
  const bucketSeconds = flags.integer('bucket-seconds', EXPIRY_INDEX_FLAG_BOUNDS.bucketSeconds)
  return { ...index, ...(shards !== undefined ? { shards } : {}), ...(bucketSeconds !== undefined ? { bucketSeconds } : {}) }
}

/**
 * The reaper options given by flags (absent ones take the plugin's defaults), validated like the plugin's `reaper`
 * option. `schedule` is the schedule to validate (undefined: the default), or false for none.
 */
export function reaperFlags (flags: Flags, schedule: string | false | undefined): ResolvedReaperOptions {
  const units = { above: 0 }
  const given: ReaperOptions = {
    schedule,
    strategy: flags.choice('strategy', REAPER_STRATEGY_CHOICES),
    backfillReadUnitsPerSecond: flags.number('backfill-read-units', units),
    segments: flags.integer('segments', REAPER_FLAG_BOUNDS.segments),
    graceSeconds: flags.integer('grace-seconds', REAPER_FLAG_BOUNDS.graceSeconds),
    maxReadUnitsPerSecond: flags.number('max-read-units', units),
    maxWriteUnitsPerSecond: flags.number('max-write-units', units),
    leaseSeconds: flags.integer('lease-seconds', REAPER_FLAG_BOUNDS.leaseSeconds),
    leases: flags.integer('leases', REAPER_FLAG_BOUNDS.leases),
    maxPassSeconds: flags.integer('max-pass-seconds', REAPER_FLAG_BOUNDS.maxPassSeconds)
  }
  try {
    // An object always resolves to options, never to false.
    return resolveReaperOptions(given) as ResolvedReaperOptions
  } catch (err) {
    throw new UsageError(schedule !== false ? `--schedule: ${(err as Error).message}` : (err as Error).message)
  }
}
