/**
 * Token buckets keyed by peer id: `rate` tokens a second, at most `burst` held
 * (default `rate`). The map stays bounded although peer ids are free: a
 * bucket that has refilled to the brim is the same as a new one, so such
 * entries are dropped whenever the map has doubled since the last sweep.
 * Each `take` is O(1) amortised.
 */
export class TokenBuckets {
  private readonly rate: number
  private readonly burst: number
  private readonly now: () => number
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  private sweepAt = 1024

  constructor(rate: number, opts: { burst?: number; now?: () => number } = {}) {
    this.rate = rate
    this.burst = opts.burst ?? rate
    this.now = opts.now ?? Date.now
  }

  /** Takes one token for `key`; false (and nothing taken) when its bucket is empty. */
  take(key: string): boolean {
    const now = this.now()
    let b = this.buckets.get(key)
    if (!b) {
      if (this.buckets.size >= this.sweepAt) this.sweep(now)
      b = { tokens: this.burst, at: now }
      this.buckets.set(key, b)
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate)
    b.at = now
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Buckets held (full ones may linger until the next sweep). */
  get size(): number {
    return this.buckets.size
  }

  /** Forgets every bucket. */
  clear(): void {
    this.buckets.clear()
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k)
    }
    this.sweepAt = Math.max(1024, this.buckets.size * 2)
  }
}
