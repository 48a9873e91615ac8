/** Epoch seconds of a `now()` reading in milliseconds: the unit of every expiry and timestamp stored. */
export function epochSeconds (ms: number): number {
  return Math.floor(ms / 1000)
}
