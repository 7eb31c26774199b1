/** Options of a Backoff. */
export interface BackoffInit {
  /** First delay, ms (default 500). */
  initialMs?: number
  /** Longest delay, ms (default 30,000). */
  maxMs?: number
  /** Growth per failure (default 2). */
  factor?: number
  /** Random source in [0, 1) (tests pass a seeded one). */
  random?: () => number
}

/**
 * Exponential back-off with jitter: the n-th delay is uniform in
 * [d/2, d) with d = min(maxMs, initialMs · factor^n), so peers that lost the
 * same relay at the same moment do not come back in lockstep.
 */
export class Backoff {
  private readonly initialMs: number
  private readonly maxMs: number
  private readonly factor: number
  private readonly random: () => number
  private failures = 0

  constructor(init: BackoffInit = {}) {
    this.initialMs = init.initialMs ?? 500
    this.maxMs = init.maxMs ?? 30_000
    this.factor = init.factor ?? 2
    this.random = init.random ?? Math.random
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * this.factor ** this.failures)
    this.failures++
    return d / 2 + (this.random() * d) / 2
  }

  /** After a success: start again from the initial delay. */
  reset(): void {
    this.failures = 0
  }

  get attempts(): number {
    return this.failures
  }
}
