/** The clock-skew correction of @aws-sdk/core's SigV4 signer, over the client's shared `systemClockOffset`. */

/** What a request was signed with. */
export interface ClockSample {
  /** Date.now() when the request was signed. */
  readonly sentAt: number
  /** The client's offset used for the signature. */
  readonly offset: number
  /** True with `disableClockSkewCorrection`: the offset is neither used nor updated. */
  readonly disabled: boolean
}

// The Date header changes once a second: the last one parsed is usually the next one's too.
let lastDate = ''
let lastTime = Number.NaN

function parseDate (date: string): number {
  if (date !== lastDate) {
    lastTime = Date.parse(date)
    lastDate = date
  }
  return lastTime
}

/** Responses later than this after their request say nothing reliable about the server's clock (as the SDK has it). */
const MAX_SAMPLE_LATENCY_MS = 900_000

/**
 * The new offset after a response: server time minus ours, unless the response came through a cache (`Age`), has
 * no usable `Date`, or took too long; then the current one.
 */
export function clockOffsetAfter (date: string | undefined, cached: boolean, current: number, sentAt: number): number {
  if (cached || date === undefined) return current
  const serverTime = parseDate(date)
  if (Number.isNaN(serverTime)) return current
  const received = Date.now()
  if (received - sentAt > MAX_SAMPLE_LATENCY_MS) return current
  return serverTime - received
}
