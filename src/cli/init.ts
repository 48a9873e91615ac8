import {
  BILLING_MODES, DEFAULT_BILLING, DEFAULT_PROVISIONED_CAPACITY, ensureSessionTable, type Billing, type EnsureTableResult
} from '../store/table.js'
import { EXIT_OK, JSON_FLAG, type Command, type ResolvedIo } from './command.js'
import { CONNECTION_FLAGS, withClient } from './connection.js'
import { UsageError, type Flags } from './flags.js'
import { TABLE_FLAGS, tableFlags } from './option-flags.js'

/** DynamoDB's default quota of capacity units per table: more cannot be provisioned without a quota increase. */
const CAPACITY_BOUNDS = { min: 1, max: 40_000 }

interface InitSettings {
  names: { tableName: string, idAttribute: string, expiresAttribute: string }
  billing: Billing
  capacity: { readCapacity?: number, writeCapacity?: number }
  json: boolean
}

function initFlags (flags: Flags): InitSettings {
  const { tableName, idAttribute, expiresAttribute } = tableFlags(flags)
  const billing = flags.choice<Billing>('billing', BILLING_MODES) ?? DEFAULT_BILLING
  const readCapacity = flags.integer('read-capacity', CAPACITY_BOUNDS)
  const writeCapacity = flags.integer('write-capacity', CAPACITY_BOUNDS)
  if (billing === 'on-demand' && (readCapacity !== undefined || writeCapacity !== undefined)) {
    throw new UsageError('--read-capacity and --write-capacity need --billing provisioned')
  }
  const capacity = {
    ...(readCapacity !== undefined ? { readCapacity } : {}),
    ...(writeCapacity !== undefined ? { writeCapacity } : {})
  }
  return { names: { tableName, idAttribute, expiresAttribute }, billing, capacity, json: flags.on('json') }
}

function printResult (io: ResolvedIo, result: EnsureTableResult, billingGiven: Billing | undefined): void {
  const ttlAttribute = result.ttlAttribute !== undefined ? ` on ${result.ttlAttribute}` : ''
  const state = `${result.tableStatus}, ${result.billing}, TTL ${result.ttl}${ttlAttribute}`
  io.stdout.write(`${result.created ? 'Created' : 'Found'} ${result.tableName}: ${state}\n`)
  if (billingGiven !== undefined && !result.created && result.billing !== billingGiven) {
    io.stdout.write(`  note: the table is ${result.billing}; --billing applies only when creating\n`)
  }
}

export const init: Command = {
  summary: 'Create the session table if missing and enable TTL on its expiry attribute',
  description: 'Idempotent: an existing table is checked, not changed, and TTL is enabled only when it is off.',
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
    ...JSON_FLAG
  },
  async run ({ flags, io }) {
    const { names, billing, capacity, json } = initFlags(flags)
    return await withClient(flags, io.env, async ({ client, endpoint, where }) => {
      if (!json) io.stdout.write(`Table ${names.tableName} at ${where}\n`)
      const log = json ? {} : { log: (message: string) => { io.stdout.write(`  ${message}\n`) } }
      const result = await ensureSessionTable(client, { ...names, billing, ...capacity, ...log })
      if (json) io.stdout.write(JSON.stringify({ ...result, endpoint: endpoint ?? null }, null, 2) + '\n')
      else printResult(io, result, flags.given('billing') ? billing : undefined)
      return EXIT_OK
    }, (where) => `${where}: `)
  }
}
