/**
 * The DynamoDB implementation the suite runs against, chosen by one environment variable:
 *
 *   DYNAMO_SESSION_TEST_TARGET=dynalite                     (default) a dynalite server per test file, in process
 *   DYNAMO_SESSION_TEST_TARGET=moto=http://127.0.0.1:PORT   a moto server shared by the whole run (scripts/test-moto.sh)
 *   DYNAMO_SESSION_TEST_TARGET=aws=https://dynamodb.REGION.amazonaws.com   real DynamoDB (manual run, see docs/testing.md)
 *
 * Expectations that differ between implementations live in CAPABILITIES, never in a skipped test: a test whose
 * outcome differs asserts what its target is expected to do.
 */
export type TargetName = 'dynalite' | 'moto' | 'aws'
export type CapacityOperation = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Scan' | 'Query'

export interface Capabilities {
  /** UpdateTimeToLive / DescribeTimeToLive work (dynalite: UnknownOperationException, DescribeTimeToLive DISABLED). */
  readonly ttl: boolean
  /** ConsumedCapacity follows AWS arithmetic ('real') or is a fixed figure per operation ('constant'). */
  readonly capacity: 'real' | 'constant'
  /** With constant capacity: the figure each operation reports, whatever the item size. */
  readonly constantUnits: Readonly<Partial<Record<CapacityOperation, number>>>
  /** Writes report the capacity consumed on global secondary indexes (ConsumedCapacity.GlobalSecondaryIndexes). */
  readonly indexUnitsOnWrite: boolean
  /** The largest item PutItem accepts, in bytes as the implementation counts them (AWS: 400 KB = 409,600). */
  readonly itemSizeLimit: number
  /** Numbers count as DynamoDB counts them (about one byte per two significant digits), not by their text. */
  readonly numberSizeAsAws: boolean
  /** An UpdateItem that sets a key inside a map (SET d.k = :v) is refused when it grows the item past the limit. */
  readonly mapUpdateSizeChecked: boolean
  /** UpdateTable can add a global secondary index to a table that exists. */
  readonly indexCreationOnExistingTable: boolean
  /**
   * UpdateTable accepts an index Create without ProvisionedThroughput on an on-demand table (the form DynamoDB
   * wants there); dynalite 4 refuses it with a ValidationException.
   */
  readonly onDemandIndexCreateAccepted: boolean
  /** A failed condition returns the item when asked (ReturnValuesOnConditionCheckFailure: ALL_OLD). */
  readonly returnValuesOnConditionCheckFailure: boolean
  /** Invalid input is refused with a ValidationException (a table name of one character, a capacity of 0). */
  readonly validatesInput: boolean
  /** Requests signed with wrong credentials are refused. */
  readonly signatureChecked: boolean
  /** A parallel Scan refuses an ExclusiveStartKey that belongs to another segment (ValidationException). */
  readonly scanStartKeySegmentChecked: boolean
  /**
   * A comparison of values of different types (a String expiry against a Number) is simply false, as in DynamoDB;
   * moto 5.2 fails the whole request with an internal error (HTTP 500, an HTML page).
   */
  readonly comparesAcrossTypes: boolean
}

export const CAPABILITIES: Readonly<Record<TargetName, Capabilities>> = {
  // dynalite 4: no TTL API; AWS's capacity arithmetic for the table, none for indexes on writes; UpdateTable ignores
  // index creation (a table gets its indexes at CreateTable only).
  dynalite: {
    ttl: false,
    capacity: 'real',
    constantUnits: {},
    indexUnitsOnWrite: false,
    itemSizeLimit: 409_600,
    numberSizeAsAws: true,
    mapUpdateSizeChecked: true,
    indexCreationOnExistingTable: false,
    onDemandIndexCreateAccepted: false,
    returnValuesOnConditionCheckFailure: false,
    validatesInput: true,
    signatureChecked: false,
    scanStartKeySegmentChecked: true,
    comparesAcrossTypes: true
  },
  // moto 5.2: TTL API (it never deletes by itself either); a fixed figure per operation, whatever the size; items up
  // to 405,000 bytes, a number counted by its text,
  // an update inside a map not checked against it; a new index is ACTIVE at once; table names and capacities are
  // not validated.
  moto: {
    ttl: true,
    capacity: 'constant',
    constantUnits: { GetItem: 0.5, PutItem: 1, UpdateItem: 0.5, DeleteItem: 1, Scan: 1, Query: 1 },
    indexUnitsOnWrite: false,
    itemSizeLimit: 405_000,
    numberSizeAsAws: false,
    mapUpdateSizeChecked: false,
    indexCreationOnExistingTable: true,
    onDemandIndexCreateAccepted: true,
    returnValuesOnConditionCheckFailure: true,
    validatesInput: false,
    signatureChecked: false,
    scanStartKeySegmentChecked: false,
    comparesAcrossTypes: false
  },
  aws: {
    ttl: true,
    capacity: 'real',
    constantUnits: {},
    indexUnitsOnWrite: true,
    itemSizeLimit: 409_600,
    numberSizeAsAws: true,
    mapUpdateSizeChecked: true,
    indexCreationOnExistingTable: true,
    onDemandIndexCreateAccepted: true,
    returnValuesOnConditionCheckFailure: true,
    validatesInput: true,
    signatureChecked: true,
    scanStartKeySegmentChecked: true,
    comparesAcrossTypes: true
  }
}

export const TARGET_VARIABLE = 'DYNAMO_SESSION_TEST_TARGET'
/** Prepended to every table a test creates (for a run on a shared account: makes its tables easy to find and delete). */
export const TABLE_PREFIX_VARIABLE = 'DYNAMO_SESSION_TEST_TABLE_PREFIX'

export interface Target {
  readonly name: TargetName
  /** The shared endpoint; undefined for dynalite, which each test file starts for itself. */
  readonly endpoint: string | undefined
  readonly capabilities: Capabilities
  readonly tablePrefix: string
}

export function parseTarget (value: string | undefined, tablePrefix = ''): Target {
  const text = (value ?? '').trim()
  if (text === '' || text === 'dynalite') return { name: 'dynalite', endpoint: undefined, capabilities: CAPABILITIES.dynalite, tablePrefix }
  const at = text.indexOf('=')
  const name = at < 0 ? text : text.slice(0, at)
  const endpoint = at < 0 ? '' : text.slice(at + 1)
  if ((name !== 'moto' && name !== 'aws') || !/^https?:\/\/[^/]+\/?$/.test(endpoint)) {
    throw new Error(`${TARGET_VARIABLE}: expected 'dynalite', 'moto=http://127.0.0.1:PORT' or 'aws=https://dynamodb.REGION.amazonaws.com', got '${text}'`)
  }
  return { name, endpoint: endpoint.replace(/\/$/, ''), capabilities: CAPABILITIES[name], tablePrefix }
}

/** The target of this run. */
export const TARGET: Target = parseTarget(process.env[TARGET_VARIABLE], process.env[TABLE_PREFIX_VARIABLE] ?? '')
/** The capabilities of this run's target. */
export const CAN: Capabilities = TARGET.capabilities

/**
 * The capacity units this target reports for one `operation` that costs `real` units by AWS's arithmetic (what
 * dynalite and AWS report).
 */
export function unitsFor (operation: CapacityOperation, real: number): number {
  if (CAN.capacity === 'real') return real
  const units = CAN.constantUnits[operation]
  if (units === undefined) throw new Error(`no constant capacity figure for ${operation} on ${TARGET.name}`)
  return units
}

/** What ensureSessionTable reports about TTL for a table it has just created on this target. */
export const NEW_TABLE_TTL: { readonly state: 'enabled' | 'unsupported', readonly message: RegExp, readonly attribute: (name: string) => string | undefined } = CAN.ttl
  ? { state: 'enabled', message: /enabled TTL on \w+/, attribute: (name) => name }
  : { state: 'unsupported', message: /does not implement TTL/, attribute: () => undefined }
