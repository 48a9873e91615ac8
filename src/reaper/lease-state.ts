import { REAPER_STRATEGIES, type TableState, type ReapReport } from './report.js'
import type { StartKey, StreamCursor, SweepProgress } from './sweep.js'
import type { BackfillState } from './backfill.js'
import type { CensusRecord } from './census.js'

// The reaper's state as the lease item stores it (JSON in LEASE_ATTRIBUTES.state): its type, its codec, and the
// table figures read from it. The lease protocol that stores it is lease.ts.

/** What the reaper keeps in the lease item between passes. */
export interface LeaseState {
  /** Epoch seconds of the last successful pass by any instance. */
  lastSuccessAt?: number
  /** The last pass that held the lease, with the epoch seconds it ended. */
  lastReport?: ReapReport & { finishedAt: number }
  /** Figures of the last complete sweep. */
  table?: NonNullable<TableState['sweep']>
  /** A sweep in progress (the budget made it longer than a pass). */
  sweep?: SweepProgress
  /** The backfill (index strategy): see backfill.ts. */
  backfill?: BackfillState
  /** The last census (index strategy): the active-sessions estimate, see census.ts. */
  census?: CensusRecord
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value)
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

// A key attribute as JSON can hold it: a String or a Number. Which attributes a cursor needs is the finder's to say.
const isKeyValue = (value: unknown): boolean =>
  isObject(value) && Object.keys(value).length === 1 && (typeof value.S === 'string' || typeof value.N === 'string')

function decodeCursor (value: unknown): StreamCursor | undefined {
  if (!isObject(value)) return undefined
  if (value.done === true) return { done: true }
  if (value.done !== false) return undefined
  if (value.start === undefined) return { done: false, start: undefined }
  return isObject(value.start) && Object.values(value.start).every(isKeyValue) ? { done: false, start: value.start as StartKey } : undefined
}

const SWEEP_NUMBERS = ['startedAt', 'active', 'expired', 'deleted', 'conflicts', 'invalid', 'maxLagSeconds'] as const

/** The sweep's shape only: whether its cursors fit the finder that resumes it is checked then (`resumable`). */
function decodeSweep (value: unknown): SweepProgress | undefined {
  if (!isObject(value) || typeof value.finder !== 'string' || !Array.isArray(value.cursors) || !isNumber(value.streams)) return undefined
  if (value.cursors.length !== value.streams) return undefined
  const cursors = value.cursors.map(decodeCursor)
  if (cursors.some((cursor) => cursor === undefined)) return undefined
  if (!SWEEP_NUMBERS.every((key) => isNumber(value[key]))) return undefined
  const numbers = Object.fromEntries(SWEEP_NUMBERS.map((key) => [key, value[key] as number])) as
    Record<typeof SWEEP_NUMBERS[number], number>
  // Counts later versions added: 0 in a sweep saved by an older one.
  const added = { backfilled: isNumber(value.backfilled) ? value.backfilled : 0, missing: isNumber(value.missing) ? value.missing : 0 }
  return { finder: value.finder, streams: value.streams, cursors: cursors as StreamCursor[], ...numbers, ...added }
}

const TABLE_NUMBERS = ['active', 'expiredFound', 'expiredBacklog', 'invalid', 'maxLagSeconds', 'completedAt'] as const

function decodeTable (value: unknown): LeaseState['table'] {
  if (!isObject(value) || !TABLE_NUMBERS.every((key) => isNumber(value[key]))) return undefined
  return Object.fromEntries(TABLE_NUMBERS.map((key) => [key, value[key]])) as NonNullable<LeaseState['table']>
}

const REPORT_NUMBERS = [
  'scanned', 'active', 'expired', 'deleted', 'conflicts', 'invalid', 'maxLagSeconds', 'consumedReadUnits', 'consumedWriteUnits',
  'durationSeconds', 'finishedAt'
] as const

// Report counts later versions added (0 in a report stored by an older one).
const ADDED_REPORT_NUMBERS = ['repaired', 'backfilled', 'backfillReadUnits', 'backfillWriteUnits', 'censusReadUnits'] as const

function decodeReport (value: unknown): LeaseState['lastReport'] {
  if (!isObject(value) || !['success', 'failure', 'skipped'].includes(value.result as string)) return undefined
  if (!REPORT_NUMBERS.every((key) => isNumber(value[key]))) return undefined
  // Fields later versions added: a report stored by an older one gets their empty values.
  const strategy = (REAPER_STRATEGIES as readonly unknown[]).includes(value.strategy) ? value.strategy : 'none'
  const added = Object.fromEntries(ADDED_REPORT_NUMBERS.map((key) => [key, isNumber(value[key]) ? value[key] : 0]))
  return { ...value, strategy, ...added } as unknown as LeaseState['lastReport']
}

function decodeBackfill (value: unknown): BackfillState | undefined {
  if (!isObject(value)) return undefined
  const backfill: BackfillState = {}
  const sweep = decodeSweep(value.sweep)
  if (sweep !== undefined) backfill.sweep = sweep
  if (isNumber(value.nextAt)) backfill.nextAt = value.nextAt
  const figures = value.figures
  if (isObject(figures) && ['missing', 'invalid', 'completedAt'].every((key) => isNumber(figures[key]))) {
    const [missing, invalid, completedAt] = [figures.missing, figures.invalid, figures.completedAt] as number[]
    backfill.figures = { missing: missing!, invalid: invalid!, completedAt: completedAt! }
  }
  return backfill
}

const CENSUS_NUMBERS = ['active', 'relativeError', 'completedAt', 'segments', 'startSegment', 'sampleSegments'] as const

function decodeCensus (value: unknown): CensusRecord | undefined {
  if (!isObject(value) || !CENSUS_NUMBERS.every((key) => isNumber(value[key]))) return undefined
  return Object.fromEntries(CENSUS_NUMBERS.map((key) => [key, value[key]])) as unknown as CensusRecord
}

/**
 * Reads the stored state; anything malformed (another version, a manual edit) is dropped, never trusted. A sweep's
 * cursors are checked here for shape, and against the finder's key schema by `resumable` before a pass uses them.
 */
export function decodeState (text: string | undefined): LeaseState {
  if (text === undefined) return {}
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return {}
  }
  if (!isObject(raw)) return {}
  const state: LeaseState = {}
  if (isNumber(raw.lastSuccessAt)) state.lastSuccessAt = raw.lastSuccessAt
  const report = decodeReport(raw.lastReport)
  if (report !== undefined) state.lastReport = report
  const table = decodeTable(raw.table)
  if (table !== undefined) state.table = table
  const sweep = decodeSweep(raw.sweep)
  if (sweep !== undefined) state.sweep = sweep
  const backfill = decodeBackfill(raw.backfill)
  if (backfill !== undefined) state.backfill = backfill
  const census = decodeCensus(raw.census)
  if (census !== undefined) state.census = census
  return state
}

export function encodeState (state: LeaseState): string {
  return JSON.stringify(state)
}

export function tableStateOf (state: LeaseState): TableState {
  const strategy = state.lastReport?.strategy
  return {
    lastSuccessAt: state.lastSuccessAt,
    sweep: state.table,
    ...(strategy === 'index' || strategy === 'scan' ? { strategy } : {}),
    ...(state.backfill?.figures === undefined ? {} : { backfill: state.backfill.figures }),
    ...(strategy === 'index' && state.census !== undefined
      ? { activeEstimate: { relativeError: state.census.relativeError, completedAt: state.census.completedAt } }
      : {})
  }
}
