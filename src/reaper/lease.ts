import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb'
import { performance } from 'node:perf_hooks'
import type { TableShape } from '../options.js'
import { ReaperLeaseLostError } from '../errors.js'
import { LEASE_ID } from '../ids.js'
import { itemKey, numberAttribute } from '../store/marshal.js'
import { isConditionFailure } from '../aws-errors.js'
import type { ReaperCalls } from './calls.js'
import { decodeState, encodeState, type LeaseState } from './lease-state.js'

/**
 * The lease item's id (lease group 0's; leaseId() names the others). Cookies can only name ids matching
 * /^[A-Za-z0-9_-]{16,128}$/, so no request can read or write it; the sweep and the store's admin calls skip it by id
 * (isInternalId).
 */
export { LEASE_ID }

/**
 * The lease item's own attributes. It has no expiry attribute: DynamoDB's TTL never deletes it and nothing counts it
 * as a session.
 */
export const LEASE_ATTRIBUTES = Object.freeze({
  /** S: the holder's token (host:pid:random). */
  owner: 'Lease_Owner',
  /**
   * N: epoch milliseconds, on the holder's clock, until which it means to hold the lease; 0 once released. Only 0 is
   * read by other instances: takeover never compares it with their clocks.
   */
  until: 'Lease_Until_Ms',
  /** N: epoch milliseconds of the last scheduled tick a pass was started for. */
  tick: 'Lease_Tick_Ms',
  /** S: JSON of LeaseState (last report, table figures, sweep cursors). */
  state: 'Reaper_State',
  /** N: bumped by every acquisition, renewal and release: a holder that stops renewing leaves it unchanged. */
  version: 'Lease_Version'
})

/**
 * A tick further than this from the reaper's clock is refused by runOnce(); a stored tick further than this ahead of
 * a taker's clock no longer blocks it (a clock that was far ahead, or a tick given in the wrong unit).
 */
export const MAX_TICK_DISTANCE_MS = 3_600_000

export interface LeaseRecord {
  readonly owner: string | undefined
  readonly untilMs: number
  /** Undefined on an item written by a version without it. */
  readonly version: number | undefined
  readonly tickMs: number | undefined
  readonly state: LeaseState
}

export type AcquireResult =
  | { readonly acquired: true, readonly state: LeaseState }
  | { readonly acquired: false, readonly reason: 'held' | 'tick-done', readonly state: LeaseState }

function leaseKey (shape: TableShape, id: string): Record<string, AttributeValue> {
  return itemKey(shape, id)
}

// The attributes every acquisition, renewal and release writes or checks.
const OWNERSHIP_NAMES = Object.freeze({
  '#owner': LEASE_ATTRIBUTES.owner,
  '#until': LEASE_ATTRIBUTES.until,
  '#version': LEASE_ATTRIBUTES.version
})

/** A holder as another instance saw it: who, and the version its last renewal left. */
export interface LeaseHolder {
  readonly owner: string
  readonly version: number | undefined
}

/**
 * Pure: takes the lease when it is free (never taken, or released) or already ours; with `takeover`, instead, only
 * from that holder at that version (one that stopped renewing). With a tick (the scheduled time, epoch ms) it also
 * requires that no pass was started for this tick or a later one, unless the stored tick is more than
 * MAX_TICK_DISTANCE_MS ahead of `nowMs`, and records the tick. Every acquisition bumps the version. `id`: the lease
 * item (one per lease group).
 */
export function buildAcquireInput (
  shape: TableShape,
  owner: string,
  nowMs: number,
  untilMs: number,
  tickMs?: number,
  takeover?: LeaseHolder,
  id = LEASE_ID
): UpdateItemCommandInput {
  const names: Record<string, string> = { ...OWNERSHIP_NAMES }
  const values: Record<string, AttributeValue> = { ':me': { S: owner }, ':until': { N: String(untilMs) }, ':one': { N: '1' } }
  let update = 'SET #owner = :me, #until = :until'
  let condition: string
  if (takeover === undefined) {
    values[':free'] = { N: '0' }
    condition = '(attribute_not_exists(#owner) OR #until = :free OR #owner = :me)'
  } else {
    values[':holder'] = { S: takeover.owner }
    if (takeover.version === undefined) {
      condition = '(#owner = :holder AND attribute_not_exists(#version))'
    } else {
      values[':seen'] = { N: String(takeover.version) }
      condition = '(#owner = :holder AND #version = :seen)'
    }
  }
  if (tickMs !== undefined) {
    names['#tick'] = LEASE_ATTRIBUTES.tick
    values[':tick'] = { N: String(tickMs) }
    values[':horizon'] = { N: String(nowMs + MAX_TICK_DISTANCE_MS) }
    update += ', #tick = :tick'
    condition += ' AND (attribute_not_exists(#tick) OR #tick < :tick OR #tick > :horizon)'
  }
  update += ' ADD #version :one'
  return {
    TableName: shape.tableName,
    Key: leaseKey(shape, id),
    UpdateExpression: update,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValues: 'ALL_NEW'
  }
}

/**
 * Pure: extends the lease (to `untilMs`; 0 releases it), bumps its version and stores the state (unless undefined),
 * only while we still own it.
 */
export function buildRenewInput (
  shape: TableShape,
  owner: string,
  untilMs: number,
  state: LeaseState | undefined,
  id = LEASE_ID
): UpdateItemCommandInput {
  const input: UpdateItemCommandInput = {
    TableName: shape.tableName,
    Key: leaseKey(shape, id),
    UpdateExpression: 'SET #until = :until ADD #version :one',
    ConditionExpression: '#owner = :me',
    ExpressionAttributeNames: { ...OWNERSHIP_NAMES },
    ExpressionAttributeValues: { ':me': { S: owner }, ':until': { N: String(untilMs) }, ':one': { N: '1' } }
  }
  if (state === undefined) return input
  return {
    ...input,
    UpdateExpression: 'SET #until = :until, #state = :state ADD #version :one',
    ExpressionAttributeNames: { ...input.ExpressionAttributeNames, '#state': LEASE_ATTRIBUTES.state },
    ExpressionAttributeValues: { ...input.ExpressionAttributeValues, ':state': { S: encodeState(state) } }
  }
}

export function parseLease (item: Record<string, AttributeValue> | undefined): LeaseRecord | undefined {
  if (item === undefined) return undefined
  const num = (name: string): number | undefined => numberAttribute(item[name])
  return {
    owner: item[LEASE_ATTRIBUTES.owner]?.S,
    untilMs: num(LEASE_ATTRIBUTES.until) ?? 0,
    version: num(LEASE_ATTRIBUTES.version),
    tickMs: num(LEASE_ATTRIBUTES.tick),
    state: decodeState(item[LEASE_ATTRIBUTES.state]?.S)
  }
}

/** The lease item `id` as stored (strongly consistent), or undefined when no pass has ever held it. */
export async function readLease (calls: ReaperCalls, shape: TableShape, id = LEASE_ID): Promise<LeaseRecord | undefined> {
  const out = await calls.getItem({ TableName: shape.tableName, Key: leaseKey(shape, id), ConsistentRead: true })
  return parseLease(out.Item)
}

/** Milliseconds on a clock that only moves forward at a steady rate, whatever the wall clock does. */
export const monotonicNow = (): number => performance.now()

/**
 * What one instance last saw of a lease held by another (holder, version, and when, on its own monotonic clock),
 * kept across passes: a holder is presumed gone once its version has stayed unchanged for a whole lease length on
 * this clock, which no other clock's offset can shorten.
 */
export class LeaseWatch {
  readonly #monotonic: () => number
  #last: { readonly holder: LeaseHolder, readonly atMs: number } | undefined

  constructor (monotonic: () => number = monotonicNow) {
    this.#monotonic = monotonic
  }

  /** Records the sighting; true when the same holder at the same version was first seen `ms` ago or earlier. */
  unchangedFor (holder: LeaseHolder, ms: number): boolean {
    const atMs = this.#monotonic()
    const last = this.#last
    if (last !== undefined && last.holder.owner === holder.owner && last.holder.version === holder.version) return atMs - last.atMs >= ms
    this.#last = { holder, atMs }
    return false
  }
}

/** One holder's view of the lease for the length of a pass. */
export class Lease {
  readonly #calls: ReaperCalls
  readonly #shape: TableShape
  readonly #owner: string
  readonly #leaseMs: number
  readonly #now: () => number
  readonly #watch: LeaseWatch
  readonly #id: string
  #renewAt = 0

  /**
   * `watch` is the instance's memory of other holders of this lease (a new one: no held lease is taken over on first
   * sight); `id` the lease item (see leaseId()).
   */
  constructor (
    calls: ReaperCalls,
    shape: TableShape,
    owner: string,
    leaseMs: number,
    now: () => number,
    watch = new LeaseWatch(),
    id = LEASE_ID
  ) {
    this.#calls = calls
    this.#shape = shape
    this.#owner = owner
    this.#leaseMs = leaseMs
    this.#now = now
    this.#watch = watch
    this.#id = id
  }

  /** When a third of the lease has passed since it was taken or last renewed, on the `now()` clock. */
  get renewAt (): number {
    return this.#renewAt
  }

  get renewDue (): boolean {
    return this.#now() >= this.#renewAt
  }

  #extend (nowMs: number): number {
    this.#renewAt = nowMs + this.#leaseMs / 3
    return nowMs + this.#leaseMs
  }

  /**
   * Takes the lease if it is free or ours; otherwise takes it over from a holder whose version this instance has
   * seen unchanged for a lease length (on its monotonic clock), naming that version in the condition.
   */
  async acquire (tickMs?: number): Promise<AcquireResult> {
    const taken = await this.#take(tickMs, undefined)
    if (taken !== undefined) return { acquired: true, state: taken }
    const current = await readLease(this.#calls, this.#shape, this.#id)
    const horizon = this.#now() + MAX_TICK_DISTANCE_MS
    const tickDone = tickMs !== undefined && current?.tickMs !== undefined && current.tickMs >= tickMs && current.tickMs <= horizon
    if (tickDone) return { acquired: false, reason: 'tick-done', state: current.state }
    const owner = current?.owner
    if (current !== undefined && owner !== undefined && owner !== this.#owner && current.untilMs !== 0) {
      const holder = { owner, version: current.version }
      if (this.#watch.unchangedFor(holder, this.#leaseMs)) {
        const state = await this.#take(tickMs, holder)
        if (state !== undefined) return { acquired: true, state }
      }
    }
    return { acquired: false, reason: 'held', state: current?.state ?? {} }
  }

  /** The stored state once the conditional write took the lease; undefined when its condition failed. */
  async #take (tickMs: number | undefined, takeover: LeaseHolder | undefined): Promise<LeaseState | undefined> {
    const nowMs = this.#now()
    try {
      const input = buildAcquireInput(this.#shape, this.#owner, nowMs, nowMs + this.#leaseMs, tickMs, takeover, this.#id)
      const out = await this.#calls.updateItem(input)
      this.#extend(nowMs)
      return parseLease(out.Attributes)?.state ?? {}
    } catch (err) {
      if (isConditionFailure(err)) return undefined
      throw err
    }
  }

  /** Extends the lease and saves the state; throws ReaperLeaseLostError when another holder took it over. */
  async renew (state: LeaseState): Promise<void> {
    const nowMs = this.#now()
    try {
      await this.#calls.updateItem(buildRenewInput(this.#shape, this.#owner, nowMs + this.#leaseMs, state, this.#id))
    } catch (err) {
      if (isConditionFailure(err)) throw new ReaperLeaseLostError()
      throw err
    }
    this.#extend(nowMs)
  }

  /**
   * Saves the state (unless undefined) and frees the lease; false when it was not ours. `signal` bounds the call.
   */
  async release (state: LeaseState | undefined, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.#calls.updateItem(buildRenewInput(this.#shape, this.#owner, 0, state, this.#id), signal)
      return true
    } catch (err) {
      if (isConditionFailure(err)) return false
      throw err
    }
  }
}
