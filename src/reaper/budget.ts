/** Waits `ms` milliseconds, or less when `signal` aborts (it then resolves, it does not reject). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>

export const defaultSleep: Sleep = async (ms, signal) => {
  if (signal?.aborted === true) return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * A capacity-unit limiter (token bucket): holds at most one second of units, refills at `ratePerSecond`. Callers
 * reserve an estimate before a call and correct it with the real figure after, so over any `t` seconds at most
 * `ratePerSecond × (t + 1)` units are consumed, give or take the error of the last estimate (which later waits repay).
 */
export class UnitBudget {
  readonly ratePerSecond: number
  readonly #now: () => number
  readonly #sleep: Sleep
  #balance: number
  #at: number

  constructor (ratePerSecond: number, now: () => number, sleep: Sleep) {
    this.ratePerSecond = ratePerSecond
    this.#now = now
    this.#sleep = sleep
    this.#balance = ratePerSecond
    this.#at = now()
  }

  /** Units available at once: one second's worth. */
  get capacity (): number {
    return this.ratePerSecond
  }

  #refill (): void {
    const t = this.#now()
    if (t > this.#at) this.#balance = Math.min(this.capacity, this.#balance + (t - this.#at) / 1000 * this.ratePerSecond)
    this.#at = Math.max(this.#at, t)
  }

  /**
   * Waits until `units` are available (at most one second's worth is ever waited for: a larger reservation leaves
   * the balance negative, and later callers wait for it to be repaid), then takes them. Resolves false when `signal`
   * aborts first.
   */
  async take (units: number, signal?: AbortSignal): Promise<boolean> {
    const need = Math.min(units, this.capacity)
    for (;;) {
      if (signal?.aborted === true) return false
      this.#refill()
      if (this.#balance >= need) {
        this.#balance -= units
        return true
      }
      await this.#sleep(Math.max(1, Math.ceil((need - this.#balance) / this.ratePerSecond * 1000)), signal)
    }
  }

  /** Takes `units` without waiting (a correction after a call; negative gives units back). */
  charge (units: number): void {
    this.#refill()
    this.#balance = Math.min(this.capacity, this.#balance - units)
  }
}
