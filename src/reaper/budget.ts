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
 * Work that must go on while a caller waits for units (renewing the reaper's lease, watching a deadline): waits are
 * cut at `dueAt`, and `check` runs then and right before units are taken.
 */
export interface WaitGuard {
  /** When `check` next has work to do, on the budget's clock. */
  readonly dueAt: number
  /** Resolves false to stop waiting; throws when the caller must stop at once (a lease lost). */
  check (): Promise<boolean>
}

/** A guard with nothing to do. */
export const NO_GUARD: WaitGuard = { dueAt: Number.POSITIVE_INFINITY, check: async () => true }

/**
 * A capacity-unit limiter (token bucket): holds at most one second of units, refills at `ratePerSecond`. Callers
 * reserve an estimate before a call and correct it with the real figure after, so over any `t` seconds at most
 * `ratePerSecond × (t + 1)` units are consumed, give or take the error of the last estimate (which later waits repay).
 */
export class UnitBudget {
  /** Units per second, and the most the bucket holds (one second's worth). */
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

  #refill (): void {
    const nowMs = this.#now()
    if (nowMs > this.#at) this.#balance = Math.min(this.ratePerSecond, this.#balance + (nowMs - this.#at) / 1000 * this.ratePerSecond)
    this.#at = Math.max(this.#at, nowMs)
  }

  /**
   * Waits until `units` are available (at most one second's worth is ever waited for: a larger reservation leaves
   * the balance negative, and later callers wait for it to be repaid), then takes them. No single sleep goes past
   * `guard.dueAt`, and `guard.check()` runs after each sleep and right before the units are taken: a debt can take
   * longer to repay than a lease lasts. Resolves false, taking nothing, when `signal` aborts or the guard says stop.
   */
  async take (units: number, signal?: AbortSignal, guard: WaitGuard = NO_GUARD): Promise<boolean> {
    const need = Math.min(units, this.ratePerSecond)
    const aborted = (): boolean => signal?.aborted === true
    for (;;) {
      // The guard runs after any wait, right before the units are taken for the call that follows.
      if (aborted() || !await guard.check() || aborted()) return false
      this.#refill()
      if (this.#balance >= need) {
        this.#balance -= units
        return true
      }
      const wait = Math.ceil((need - this.#balance) / this.ratePerSecond * 1000)
      await this.#sleep(Math.max(1, Math.min(wait, Math.ceil(guard.dueAt - this.#now()))), signal)
    }
  }

  /** Takes `units` without waiting (a correction after a call; negative gives units back). */
  charge (units: number): void {
    this.#refill()
    this.#balance = Math.min(this.ratePerSecond, this.#balance - units)
  }
}
