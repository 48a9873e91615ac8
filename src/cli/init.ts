import {
  BILLING_MODES, DEFAULT_BILLING, DEFAULT_INDEX_WAIT_MS, DEFAULT_PROVISIONED_CAPACITY, ensureSessionTable, type Billing,
  type EnsureTableOptions, type EnsureTableResult
} from '../store/table.js'
import { EXIT_OK, JSON_FLAG, type Command, type ResolvedIo } from './command.js'
import { CONNECTION_FLAGS, withClient } from './connection.js'
import { UsageError, type Flags } from './flags.js'
import { EXPIRY_INDEX_FLAGS, NO_EXPIRY_INDEX_FLAG, NO_OWNER_INDEX_FLAG, TABLE_FLAGS, tableFlags } from './option-flags.js'

/** DynamoDB's default quota of capacity units per table: more cannot be provisioned without a quota increase. */
const CAPACITY_BOUNDS = { min: 1, max: 40_000 }
const DEFAULT_INDEX_WAIT_SECONDS = DEFAULT_INDEX_WAIT_MS / 1000

type SetupOptions = Omit<EnsureTableOptions, 'log'>

interface InitSettings {
  setup: SetupOptions
  billing: Billing
  json: boolean
}

function capacityFlags (flags: Flags, billing: Billing): Pick<EnsureTableOptions, 'readCapacity' | 'writeCapacity'> {
  const readCapacity = flags.integer('read-capacity', CAPACITY_BOUNDS)
  const writeCapacity = flags.integer('write-capacity', CAPACITY_BOUNDS)
  if (billing === 'on-demand' && (readCapacity !== undefined || writeCapacity !== undefined)) {
    throw new UsageError('--read-capacity and --write-capacity need --billing provisioned')
  }
  return {
    ...(readCapacity !== undefined ? { readCapacity } : {}),
    ...(writeCapacity !== undefined ? { writeCapacity } : {})
  }
}

type IndexSettings = Pick<EnsureTableOptions, 'indexReadCapacity' | 'indexWriteCapacity' | 'waitForIndex' | 'indexWaitTimeoutMs'>

/** The expiry index's capacity (provisioned tables; reported as ignored on an on-demand one) and the wait. */
function indexFlags (flags: Flags): IndexSettings {
  const indexReadCapacity = flags.integer('index-read-capacity', CAPACITY_BOUNDS)
  const indexWriteCapacity = flags.integer('index-write-capacity', CAPACITY_BOUNDS)
  const waitSeconds = flags.integer('wait-seconds', { min: 1 })
  if (waitSeconds !== undefined && !flags.on('wait')) throw new UsageError('--wait-seconds needs --wait')
  return {
    ...(indexReadCapacity !== undefined ? { indexReadCapacity } : {}),
    ...(indexWriteCapacity !== undefined ? { indexWriteCapacity } : {}),
    ...(flags.on('wait') ? { waitForIndex: true, indexWaitTimeoutMs: (waitSeconds ?? DEFAULT_INDEX_WAIT_SECONDS) * 1000 } : {})
  }
}

function initFlags (flags: Flags): InitSettings {
  const { tableName, idAttribute, expiresAttribute, expiryIndex, ownerIndex } = tableFlags(flags)
  const billing = flags.choice<Billing>('billing', BILLING_MODES) ?? DEFAULT_BILLING
  const setup = {
    tableName, idAttribute, expiresAttribute, expiryIndex, ownerIndex, billing, ...capacityFlags(flags, billing), ...indexFlags(flags)
  }
  return { setup, billing, json: flags.on('json') }
}

function printResult (io: ResolvedIo, result: EnsureTableResult, billingGiven: Billing | undefined): void {
  const ttlAttribute = result.ttlAttribute !== undefined ? ` on ${result.ttlAttribute}` : ''
  const state = `${result.tableStatus}, ${result.billing}, TTL ${result.ttl}${ttlAttribute}`
  io.stdout.write(`${result.created ? 'Created' : 'Found'} ${result.tableName}: ${state}\n`)
  io.stdout.write(`expiry index: ${result.expiryIndex}\n`)
  io.stdout.write(`owner index: ${result.ownerIndex}\n`)
  if (billingGiven !== undefined && !result.created && result.billing !== billingGiven) {
    io.stdout.write(`  note: the table is ${result.billing}; --billing applies only when creating\n`)
  }
}

/** Flags that apply only with the expiry index: each is a usage error with --no-expiry-index. */
const INDEX_ONLY_FLAGS = [...Object.keys(EXPIRY_INDEX_FLAGS), 'index-read-capacity', 'index-write-capacity', 'wait', 'wait-seconds']

export const init: Command = {
  summary: 'Create the session table (with the expiry and owner indexes) if missing, add the indexes to an existing table, enable TTL',
  description: 'Idempotent: TTL is enabled only when it is off, and each index is added only when missing (DynamoDB ' +
    'then backfills it from the table: minutes to hours; --wait waits for it). DynamoDB creates one index at a time: on an ' +
    'existing table the owner index is added once the expiry index is ACTIVE (a later run, or --wait). ' +
    'An existing table is otherwise not changed.',
  flags: {
    ...TABLE_FLAGS,
    ...CONNECTION_FLAGS,
    billing: { type: 'string', arg: 'mode', description: 'on-demand or provisioned (applies when creating)', default: DEFAULT_BILLING },
    'read-capacity': {
      type: 'string',
      arg: 'n',
      description: `Read capacity units with --billing provisioned (default ${DEFAULT_PROVISIONED_CAPACITY})`
    },
    'write-capacity': {
      type: 'string',
      arg: 'n',
      description: `Write capacity units with --billing provisioned (default ${DEFAULT_PROVISIONED_CAPACITY})`
    },
    [NO_EXPIRY_INDEX_FLAG]: { type: 'boolean', description: 'Create no expiry index (the reaper then scans the table)' },
    [NO_OWNER_INDEX_FLAG]: {
      type: 'boolean', description: 'Create no owner index (listByOwner and destroyByOwner then throw; see docs/sessions-of-a-user.md)'
    },
    'index-read-capacity': {
      type: 'string', arg: 'n', description: 'Read capacity of the expiry index on a provisioned table (default: the table\'s)'
    },
    'index-write-capacity': {
      type: 'string', arg: 'n', description: 'Write capacity of the expiry index on a provisioned table (default: the table\'s)'
    },
    wait: {
      type: 'boolean',
      description: 'Wait until the expiry index, then the owner index, is ACTIVE (a backfill takes minutes to hours on a large table)'
    },
    'wait-seconds': { type: 'string', arg: 'n', description: 'How long --wait waits', default: String(DEFAULT_INDEX_WAIT_SECONDS) },
    ...JSON_FLAG
  },
  exclusions: INDEX_ONLY_FLAGS.map((flag) => [NO_EXPIRY_INDEX_FLAG, flag] as const),
  async run ({ flags, io }) {
    const { setup, billing, json } = initFlags(flags)
    return await withClient(flags, io.env, async ({ client, endpoint, where }) => {
      if (!json) io.stdout.write(`Table ${setup.tableName ?? ''} at ${where}\n`)
      const log = json ? {} : { log: (message: string) => { io.stdout.write(`  ${message}\n`) } }
      const result = await ensureSessionTable(client, { ...setup, ...log })
      // ttlAttribute is null, not left out, where TTL is off or the endpoint has no TTL API (dynalite).
      const output = { ...result, ttlAttribute: result.ttlAttribute ?? null, endpoint: endpoint ?? null }
      if (json) io.stdout.write(JSON.stringify(output, null, 2) + '\n')
      else printResult(io, result, flags.given('billing') ? billing : undefined)
      return EXIT_OK
    }, `setting up ${setup.tableName ?? ''}`)
  }
}
